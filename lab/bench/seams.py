"""Why tiles win or lose: recall of drawn people on the pixel scenes, by where they stand.

`python -m lab.bench.seams` renders every 20th frame of each pixel scene and runs the
uint8 model on the whole frame and with 2x2 and 1x2 tiles (the full-frame pass on, as the
sensor does). A drawn person (box as rendered) is found when a box at score >= 0.5 has
IoU >= 0.5 with it. People are split by whether their box crosses an inner tile edge of
the tiling being measured ("on a seam"), and by size (small: shorter than 15 % of the frame).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from edge.config import DetectorConfig, TilingConfig
from edge.detect import load_detector
from edge.detections import Detections
from edge.frames import Frame
from edge.geometry import iou_of_boxes
from edge.sources.opencv import import_cv2
from lab.pixels.render import Renderer, load_pixel_scene, pixel_scene_names

STEP = 20
SMALL = 0.15
LAYOUTS = ((2, 2), (1, 2))


def _found(truth: npt.NDArray[np.float32], found: Detections) -> npt.NDArray[np.bool_]:
    boxes = found.xyxy[found.score >= 0.5]
    if len(boxes) == 0:
        return np.zeros(len(truth), np.bool_)
    iou = iou_of_boxes(truth.astype(np.float64), boxes.astype(np.float64))
    return np.asarray((iou >= 0.5).any(axis=1), np.bool_)


def _on_seam(
    truth: npt.NDArray[np.float32], rows: int, cols: int, overlap: float
) -> npt.NDArray[np.bool_]:
    """Boxes crossing an inner tile edge (tiles in normalized units, as `tile_grid` lays them)."""
    cut = np.zeros(len(truth), np.bool_)
    for count, lo, hi in ((cols, 0, 2), (rows, 1, 3)):
        if count == 1:
            continue
        length = 1.0 / (count - (count - 1) * overlap)
        step = length * (1.0 - overlap)
        for i in range(1, count):
            for edge in (i * step, (i - 1) * step + length):
                cut |= (truth[:, lo] < edge) & (truth[:, hi] > edge)
    return cut


def measure(scenes: Sequence[str] | None = None) -> list[str]:
    """Table lines: per layout and class of people, drawn, found whole-frame, found tiled."""
    cv2 = import_cv2()
    plain = load_detector(DetectorConfig(model="default", threads=2))
    lines = [
        "| tiles | people | drawn | whole frame found | tiled found |",
        "|---|---|---|---|---|",
    ]
    for rows, cols in LAYOUTS:
        tiles = TilingConfig(rows=rows, cols=cols)
        tiled = load_detector(DetectorConfig(model="default", threads=2, tiles=tiles))
        counts: dict[str, npt.NDArray[np.int64]] = {}
        for name in scenes or pixel_scene_names():
            renderer = Renderer(load_pixel_scene(name))
            for index in range(5, renderer.scene.frames, STEP):
                truth = renderer.boxes(index)
                if len(truth) == 0:
                    continue
                image = renderer.frame(index)
                hits = []
                for detector in (plain, tiled):
                    small = cv2.resize(image, detector.input_size, interpolation=cv2.INTER_AREA)
                    frame = Frame(np.ascontiguousarray(small), index, 0.0)
                    hits.append(_found(truth, detector.detect(frame)))
                seam = _on_seam(truth, rows, cols, tiles.overlap)
                small_people = (truth[:, 3] - truth[:, 1]) < SMALL
                for label, mask in (
                    ("on a seam", seam),
                    ("inside a tile", ~seam),
                    ("small", small_people),
                    ("all", np.ones(len(truth), np.bool_)),
                ):
                    row = np.array([mask.sum(), hits[0][mask].sum(), hits[1][mask].sum()])
                    counts[label] = counts.get(label, np.zeros(3, np.int64)) + row
        for label, (drawn, whole, tiled_found) in counts.items():
            lines.append(
                f"| {rows}x{cols} | {label} | {drawn} | {whole} ({whole / max(drawn, 1):.2f}) "
                f"| {tiled_found} ({tiled_found / max(drawn, 1):.2f}) |"
            )
    return lines


def main() -> int:
    sys.stdout.write("\n".join(measure()) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
