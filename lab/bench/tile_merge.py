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
  large people to the full-frame pass;
- `whole first T`: a person the full-frame pass found keeps its full-frame box: a tile box
  overlapping a full-frame box at IoU >= T only lends it its score (the larger of the two),
  so the tracker sees one person's box come from one scale; tile boxes that overlap none are
  merged among themselves by NMS and added.

Errors are missed + extra crossing events: crossing accuracy alone lets a miss and an extra
on the same line cancel.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge.config import DetectorConfig, TilingConfig
from edge.detect import ModelDetector, load_detector
from edge.detect.decode import nms
from edge.detect.tiling import TiledDetector, found_alone, merge, tile_grid, tile_passes
from edge.detections import Detections
from edge.frames import Frame
from edge.geometry import iou_of_boxes
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
    ("whole first", 0.5),
    ("whole first", 0.3),
)
NMS_IOU = 0.5
CONFIDENT = 0.5
"""A box at or above this score starts a track (the default `score_threshold`)."""


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
    """The full-frame pass and the 2x2 tile passes of one frame, as `TiledDetector` runs them."""
    cv2 = import_cv2()
    resized = cv2.resize(image, inner.input_size, interpolation=cv2.INTER_AREA)
    whole = inner.detect(Frame(np.ascontiguousarray(resized), 0, 0.0))
    tall: list[npt.NDArray[np.float32]] = []

    def detect(tile: Frame) -> Detections:
        found = inner.detect(Frame(np.ascontiguousarray(tile.image), 0, 0.0))
        tall.append(found.xyxy[:, 3] - found.xyxy[:, 1])  # in tile units
        return found

    big = Frame(cv2.resize(image, size, interpolation=cv2.INTER_AREA), 0, 0.0)
    xyxy, score, cut = tile_passes(big, tile_grid(size, 2, 2, TilingConfig().overlap), detect)
    return Passes(whole, xyxy, score, cut, np.concatenate(tall).astype(np.float32))


def whole_first(frame: Passes, overlap: float) -> Detections:
    """Full-frame boxes (scores raised by the tile boxes they overlap), then the tile boxes
    that overlap none, merged by NMS."""
    whole = frame.whole
    tiles = np.flatnonzero(~frame.cut)
    xyxy, score = frame.xyxy[tiles], frame.score[tiles]
    score_whole = whole.score.copy()
    if len(whole) and tiles.size:
        iou = iou_of_boxes(whole.xyxy.astype(np.float64), xyxy.astype(np.float64))
        lent = np.where(iou >= overlap, score[None, :], 0.0).max(axis=1)
        score_whole = np.maximum(score_whole, lent.astype(np.float32))
        alone = ~(iou >= overlap).any(axis=0)
        xyxy, score = xyxy[alone], score[alone]
    keep = nms(xyxy, score, NMS_IOU)
    return Detections.from_arrays(
        np.clip(np.concatenate([whole.xyxy, xyxy[keep]]), 0.0, 1.0),
        np.concatenate([score_whole, score[keep]]),
    )


def merged(frame: Passes, rule: str, gate: float | None) -> Detections:
    """The detections a rule makes of one frame's passes."""
    if rule == "whole":
        return frame.whole
    if rule == "whole first":
        return whole_first(frame, gate or NMS_IOU)
    n = len(frame.whole)
    xyxy = np.concatenate([frame.whole.xyxy, frame.xyxy]).astype(np.float32)
    score = np.concatenate([frame.whole.score, frame.score]).astype(np.float32)
    drop = np.concatenate([np.zeros(n, np.bool_), frame.cut])
    if gate is not None:
        drop |= np.concatenate([np.zeros(n, np.bool_), frame.tile_height > gate])
    keep = merge(xyxy, score, drop, NMS_IOU, drop_cut=True)
    return Detections(np.clip(xyxy[keep], 0.0, 1.0), score[keep])


def scene_passes(
    name: str, inner: ModelDetector, size: tuple[int, int], cache: Path | None
) -> list[Passes]:
    """Every frame's passes of one pixel scene, from `cache` when it holds them."""
    path = None if cache is None else cache / f"{name}.npz"
    if path is not None and path.exists():
        return load_passes(path)
    found = [passes(image, inner, size) for image in Renderer(load_pixel_scene(name)).frames()]
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_passes(path, found)
    return found


def save_passes(path: Path, frames: Sequence[Passes]) -> None:
    """All frames' passes in one .npz: arrays concatenated, with per-frame counts."""
    np.savez(
        path,
        whole_n=np.array([len(f.whole) for f in frames]),
        whole_xyxy=np.concatenate([f.whole.xyxy for f in frames]).reshape(-1, 4),
        whole_score=np.concatenate([f.whole.score for f in frames]),
        tile_n=np.array([len(f.score) for f in frames]),
        xyxy=np.concatenate([f.xyxy for f in frames]).reshape(-1, 4),
        score=np.concatenate([f.score for f in frames]),
        cut=np.concatenate([f.cut for f in frames]),
        tile_height=np.concatenate([f.tile_height for f in frames]),
    )


def load_passes(path: Path) -> list[Passes]:
    """The frames `save_passes` wrote."""
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    whole_at = np.concatenate([[0], np.cumsum(arrays["whole_n"])])
    tile_at = np.concatenate([[0], np.cumsum(arrays["tile_n"])])
    frames = []
    for i in range(len(arrays["whole_n"])):
        w = slice(whole_at[i], whole_at[i + 1])
        t = slice(tile_at[i], tile_at[i + 1])
        frames.append(
            Passes(
                Detections(arrays["whole_xyxy"][w], arrays["whole_score"][w]),
                arrays["xyxy"][t],
                arrays["score"][t],
                arrays["cut"][t],
                arrays["tile_height"][t],
            )
        )
    return frames


def tiles_only(frame: Passes, threshold: float = CONFIDENT) -> tuple[int, int]:
    """(confident people found, those no full-frame box overlaps) under the current merge:
    what tiling adds that the whole frame missed (as the sensor's `TileYield` counts)."""
    return found_alone(merged(frame, "current", None), frame.whole, threshold, NMS_IOU)


def measure(scenes: Sequence[str] | None = None, cache: Path | None = None) -> list[str]:
    """Table lines: per rule, crossing accuracy, events and occupancy MAE over all scenes;
    then per scene, and the share of confident people only the tiles found."""
    inner = load_detector(DetectorConfig(model="default", threads=2))
    tiled = TiledDetector(inner, TilingConfig(rows=2, cols=2), nms_iou=NMS_IOU)
    names = list(scenes or pixel_scene_names())
    scores: dict[tuple[str, float | None], list[SceneScore]] = {rule: [] for rule in RULES}
    added: dict[str, tuple[int, int]] = {}
    for name in names:
        pixel = load_pixel_scene(name)
        frames = scene_passes(name, inner, tiled.input_size, cache)
        for rule, gate in RULES:
            found = tuple(merged(f, rule, gate) for f in frames)
            stream = Stream(pixel.scene, rule, len(found), found)
            system = HeadcountSystem(pixel.scene.config())
            scores[(rule, gate)].append(run_system(stream, system))
        counts = np.array([tiles_only(f) for f in frames]).reshape(-1, 2).sum(axis=0)
        added[name] = (int(counts[0]), int(counts[1]))
    return [*rule_table(scores), "", *scene_table(scores, names), "", *added_table(added)]


def _label(rule: str, gate: float | None) -> str:
    return rule if gate is None else f"{rule} {gate}"


def rule_table(scores: dict[tuple[str, float | None], list[SceneScore]]) -> list[str]:
    """One line per rule over all scenes."""
    lines = [
        "| merge rule | crossing accuracy | matched / missed / extra | errors | occupancy MAE |",
        "|---|---|---|---|---|",
    ]
    for (rule, gate), runs in scores.items():
        matched = sum(s.matching.matched for s in runs)
        missed = sum(s.matching.missed for s in runs)
        extra = sum(s.matching.double_counts for s in runs)
        lines.append(
            f"| {_label(rule, gate)} | {mean_direction_accuracy(runs) or 0.0:.3f} | {matched} / "
            f"{missed} / {extra} | {missed + extra} | {mean_mae(runs) or 0.0:.2f} |"
        )
    return lines


def scene_table(
    scores: dict[tuple[str, float | None], list[SceneScore]], names: Sequence[str]
) -> list[str]:
    """Per rule and scene: crossing accuracy, errors (missed + extra) and occupancy MAE."""
    lines = [
        "| merge rule | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for (rule, gate), runs in scores.items():
        cells = [
            f"{mean_direction_accuracy([s]) or 0.0:.3f}, "
            f"{s.matching.missed + s.matching.double_counts}, {mean_mae([s]) or 0.0:.2f}"
            for s in runs
        ]
        lines.append(f"| {_label(rule, gate)} | " + " | ".join(cells) + " |")
    return lines


def added_table(added: dict[str, tuple[int, int]]) -> list[str]:
    """Per scene: confident people per frame in all, and the share only tiles found."""
    lines = ["| scene | confident boxes | found by tiles alone |", "|---|---|---|"]
    for name, (found, alone) in added.items():
        lines.append(f"| {name} | {found} | {alone} ({alone / max(found, 1):.0%}) |")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="keep the detector passes here and reuse them")
    args = parser.parse_args(argv)
    sys.stdout.write("\n".join(measure(cache=args.cache)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
