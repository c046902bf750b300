"""Quantization fidelity: how far a model's detections are from the fp32 model's, on real pixels.

Comparing two models needs no ground truth, so besides real photos this measure may use the
demo footage (`vtest.avi`, every 5th frame); nothing else in the project is measured on it.
For each frame, the fp32 model's boxes at score >= 0.5 are the reference:

- recall: the share of reference boxes that the candidate matches (score >= 0.5, IoU >= 0.5,
  greedily, each box once);
- score correlation: Pearson's r between the fp32 score of every fp32 box at score >= 0.2
  and the candidate's score of its best-overlapping box, when that IoU >= 0.5 (else 0);
- box shift: the mean absolute corner difference of matched pairs, in reference box heights.

`python -m lab.bench.fidelity --model default --model /tmp/x.tflite` prints one row a model.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge.config import DetectorConfig
from edge.detect import load_detector
from edge.detections import Detections
from edge.frames import Frame
from edge.geometry import iou_of_boxes
from edge.sources.opencv import import_cv2
from lab.pixels.sprites import read_rgb, samples_dir

STRONG = 0.5
WEAK = 0.2
IOU = 0.5
PHOTOS = ("person.jpg", "basketball1.png")
"""Evaluation photos only: none of them is in the calibration sets."""
SKIMAGE = ("astronaut", "camera")
VIDEO = "vtest.avi"
VIDEO_STEP = 5

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Fidelity:
    """One candidate model against fp32 on one set of frames."""

    frames: int
    reference: int
    matched: int
    correlation: float
    shift: float
    candidate_strong: int

    @property
    def recall(self) -> float:
        return self.matched / self.reference if self.reference else 1.0


def photos() -> Iterator[Image]:
    """The real photos: the fetched samples and scikit-image's astronaut and camera."""
    import skimage.data

    for name in PHOTOS:
        yield read_rgb(name)
    for name in SKIMAGE:
        image = np.asarray(getattr(skimage.data, name)(), np.uint8)
        yield np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image


def video_frames(step: int = VIDEO_STEP) -> Iterator[Image]:
    """Every `step`-th frame of the demo footage, RGB."""
    cv2 = import_cv2()
    capture = cv2.VideoCapture(str(samples_dir() / VIDEO))
    index = 0
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                return
            if index % step == 0:
                yield np.ascontiguousarray(bgr[:, :, ::-1])
            index += 1
    finally:
        capture.release()


def _detect(model: str, images: Sequence[Image]) -> list[Detections]:
    config = DetectorConfig(model=model, threads=2, low_score_threshold=WEAK)
    detector = load_detector(config)
    cv2 = import_cv2()
    out = []
    for i, image in enumerate(images):
        small = cv2.resize(image, detector.input_size, interpolation=cv2.INTER_AREA)
        out.append(detector.detect(Frame(np.ascontiguousarray(small), i, float(i))))
    return out


def compare(reference: Sequence[Detections], candidate: Sequence[Detections]) -> Fidelity:
    """Agreement of `candidate` with `reference`, frame by frame."""
    ref_total = matched = strong = 0
    ref_scores: list[float] = []
    cand_scores: list[float] = []
    shifts: list[float] = []
    for ref, cand in zip(reference, candidate, strict=True):
        strong += int((cand.score >= STRONG).sum())
        weak = ref.score >= WEAK
        ref_boxes, ref_score = ref.xyxy[weak].astype(np.float64), ref.score[weak]
        iou = (
            iou_of_boxes(ref_boxes, cand.xyxy.astype(np.float64))
            if len(cand) and len(ref_boxes)
            else np.zeros((len(ref_boxes), len(cand)))
        )
        for k in range(len(ref_boxes)):
            near = iou[k] >= IOU
            ref_scores.append(float(ref_score[k]))
            cand_scores.append(float(cand.score[np.argmax(iou[k])]) if near.any() else 0.0)
        keep = ref_score >= STRONG
        ref_total += int(keep.sum())
        pairs = _pairs(iou[keep][:, cand.score >= STRONG] if len(cand) else iou[keep])
        strong_boxes = cand.xyxy[cand.score >= STRONG].astype(np.float64)
        ref_strong = ref_boxes[keep]
        for r, c in pairs:
            height = max(ref_strong[r, 3] - ref_strong[r, 1], 1e-6)
            shifts.append(float(np.abs(ref_strong[r] - strong_boxes[c]).mean() / height))
        matched += len(pairs)
    correlation = (
        float(np.corrcoef(ref_scores, cand_scores)[0, 1])
        if len(ref_scores) > 1 and np.std(cand_scores) > 0
        else 1.0
    )
    return Fidelity(
        frames=len(reference),
        reference=ref_total,
        matched=matched,
        correlation=correlation,
        shift=float(np.mean(shifts)) if shifts else 0.0,
        candidate_strong=strong,
    )


def _pairs(iou: npt.NDArray[np.float64]) -> list[tuple[int, int]]:
    """Greedy one-to-one pairs at IoU >= IOU, best first."""
    pairs: list[tuple[int, int]] = []
    if iou.size == 0:
        return pairs
    work = iou.copy()
    while True:
        r, c = np.unravel_index(int(np.argmax(work)), work.shape)
        if work[r, c] < IOU:
            return pairs
        pairs.append((int(r), int(c)))
        work[r, :] = -1.0
        work[:, c] = -1.0


def measure(models: Sequence[str]) -> dict[str, dict[str, Fidelity]]:
    """{set name: {model: Fidelity}} against `default-fp32`, on photos and video frames."""
    sets = {"photos": list(photos()), "video": list(video_frames())}
    out: dict[str, dict[str, Fidelity]] = {}
    for name, images in sets.items():
        reference = _detect("default-fp32", images)
        out[name] = {model: compare(reference, _detect(model, images)) for model in models}
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", required=True, help="a name or .tflite path")
    args = parser.parse_args(argv)
    results = measure(args.model)
    sys.stdout.write(
        "| model | frames | fp32 boxes >= 0.5 | recall | score r | box shift (heights) "
        "| candidate boxes >= 0.5 |\n|---|---|---|---|---|---|---|\n"
    )
    for name, by_model in results.items():
        for model, f in by_model.items():
            sys.stdout.write(
                f"| {Path(model).name} ({name}) | {f.frames} | {f.reference} | {f.recall:.3f} "
                f"| {f.correlation:.3f} | {f.shift:.3f} | {f.candidate_strong} |\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
