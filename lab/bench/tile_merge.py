"""Tile merge rules compared offline: one detector run, several ways to merge its passes.

`python -m lab.bench.tile_merge` renders each pixel scene (no video file: frames are
resized straight to the detector sizes, so figures differ from the whole-sensor section)
and keeps, per frame, the uint8 model's full-frame pass and its four 2x2 tile passes,
mapped to the frame and flagged as cut exactly as `edge.detect.tiling.TiledDetector` does.
Each rule then merges those passes and the sensor's tracker and counters
(`HeadcountSystem`) count the result:

- `whole`: the full-frame pass alone (no tiling);
- `current`: `TiledDetector`'s merge (NMS, every cut tile box dropped);
- `gate G`: as `current`, but tile boxes taller than G of their tile are dropped too, leaving
  large people to the full-frame pass.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.config import DetectorConfig, TilingConfig
from edge.detect import ModelDetector, load_detector
from edge.detect.tiling import EDGE, TiledDetector, merge, tile_grid
from edge.detections import Detections
from edge.frames import Frame
from edge.sources.opencv import import_cv2
from lab.bench.accuracy import Stream, run_system
from lab.bench.metrics import SceneScore
from lab.bench.peers import HeadcountSystem
from lab.bench.pixels import mean_direction_accuracy, mean_mae
from lab.pixels.render import Renderer, load_pixel_scene, pixel_scene_names

RULES: tuple[tuple[str, float | None], ...] = (
    ("whole", None),
    ("current", None),
    ("gate", 0.6),
    ("gate", 0.5),
    ("gate", 0.4),
)
NMS_IOU = 0.5


@dataclass(frozen=True, slots=True)
class Passes:
    """One frame's full-frame detections and its tiles' boxes (frame units), cut flags and
    heights in tile units."""

    whole: Detections
    xyxy: npt.NDArray[np.float32]
    score: npt.NDArray[np.float32]
    cut: npt.NDArray[np.bool_]
    tile_height: npt.NDArray[np.float32]


def passes(image: npt.NDArray[np.uint8], inner: ModelDetector, size: tuple[int, int]) -> Passes:
    """The full-frame pass and the 2x2 tile passes of one frame."""
    cv2 = import_cv2()
    detect = inner.detect
    resized = cv2.resize(image, inner.input_size, interpolation=cv2.INTER_AREA)
    whole = detect(Frame(np.ascontiguousarray(resized), 0, 0.0))
    width, height = size
    big = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    boxes, scores, cuts, tall = [], [], [], []
    for x, y, w, h in tile_grid(size, 2, 2, TilingConfig().overlap):
        found = detect(Frame(np.ascontiguousarray(big[y : y + h, x : x + w]), 0, 0.0))
        local = found.xyxy
        inner_edges = np.array([x > 0, y > 0, x + w < width, y + h < height])
        near = np.concatenate([local[:, :2] <= EDGE, local[:, 2:] >= 1.0 - EDGE], axis=1)
        cuts.append(np.any(near & inner_edges[None, :], axis=1))
        scale = np.array([w / width, h / height, w / width, h / height], np.float32)
        offset = np.array([x / width, y / height, x / width, y / height], np.float32)
        boxes.append(local * scale + offset)
        scores.append(found.score)
        tall.append(local[:, 3] - local[:, 1])
    return Passes(
        whole,
        np.concatenate(boxes).astype(np.float32).reshape(-1, 4),
        np.concatenate(scores).astype(np.float32),
        np.concatenate(cuts).astype(np.bool_),
        np.concatenate(tall).astype(np.float32),
    )


def merged(frame: Passes, rule: str, gate: float | None) -> Detections:
    """The detections a rule makes of one frame's passes."""
    if rule == "whole":
        return frame.whole
    n = len(frame.whole)
    xyxy = np.concatenate([frame.whole.xyxy, frame.xyxy]).astype(np.float32)
    score = np.concatenate([frame.whole.score, frame.score]).astype(np.float32)
    drop = np.concatenate([np.zeros(n, np.bool_), frame.cut])
    if gate is not None:
        drop |= np.concatenate([np.zeros(n, np.bool_), frame.tile_height > gate])
    keep = merge(xyxy, score, drop, NMS_IOU, drop_cut=True)
    return Detections(np.clip(xyxy[keep], 0.0, 1.0), score[keep])


def measure(scenes: Sequence[str] | None = None) -> list[str]:
    """Table lines: per rule, crossing accuracy, events and occupancy MAE over all scenes."""
    inner = load_detector(DetectorConfig(model="default", threads=2))
    tiled = TiledDetector(inner, TilingConfig(rows=2, cols=2), nms_iou=NMS_IOU)
    scores: dict[tuple[str, float | None], list[SceneScore]] = {rule: [] for rule in RULES}
    for name in scenes or pixel_scene_names():
        pixel = load_pixel_scene(name)
        renderer = Renderer(pixel)
        frames = [passes(image, inner, tiled.input_size) for image in renderer.frames()]
        for rule, gate in RULES:
            found = tuple(merged(f, rule, gate) for f in frames)
            stream = Stream(pixel.scene, rule, len(found), found)
            system = HeadcountSystem(pixel.scene.config())
            scores[(rule, gate)].append(run_system(stream, system))
    lines = [
        "| merge rule | crossing accuracy | matched / missed / extra | occupancy MAE |",
        "|---|---|---|---|",
    ]
    for (rule, gate), runs in scores.items():
        label = rule if gate is None else f"{rule} {gate}"
        matched = sum(s.matching.matched for s in runs)
        missed = sum(s.matching.missed for s in runs)
        extra = sum(s.matching.double_counts for s in runs)
        lines.append(
            f"| {label} | {mean_direction_accuracy(runs) or 0.0:.3f} | {matched} / {missed} / "
            f"{extra} | {mean_mae(runs) or 0.0:.2f} |"
        )
    return lines


def main() -> int:
    sys.stdout.write("\n".join(measure()) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
