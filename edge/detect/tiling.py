"""Detect small people in wide scenes: run a detector on overlapping tiles and merge.

Each tile (and, optionally, the whole frame) goes through the inner detector; boxes are
mapped to whole-frame normalized coordinates and merged by NMS. A box cut off by an inner
tile edge shows part of a person: with the full-frame pass on it is dropped (a person
smaller than the overlap is whole in a neighbouring tile; a larger one is found by the
full-frame pass); without it, it is dropped when it lies mostly inside a larger kept box.

Tiling costs a model pass per tile; `TileYield` tells the operator, once, when the tiles
find almost no one the full-frame pass missed, so the cost buys nothing here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from edge.config import TilingConfig
from edge.detect.base import ModelDetector
from edge.detect.decode import nms
from edge.detections import Detections
from edge.frames import Frame
from edge.geometry import iou_of_boxes

log = logging.getLogger(__name__)

Rect = tuple[int, int, int, int]
CONTAINED = 0.6
"""A cut-off box this much inside a larger kept box is a piece of it."""
EDGE = 0.02
"""How close (as a fraction of its tile) a box edge must be to an inner tile edge to be 'cut'."""
YIELD_PEOPLE = 500
"""Confident boxes (person-frames) seen before the sensor judges what the tiles add."""
YIELD_SHARE = 0.05
"""Below this share of confident boxes found by tiles alone, tiling is not worth its cost."""


def _spans(size: int, count: int, overlap: float) -> list[tuple[int, int]]:
    """(start, length) of `count` equal spans over `size` with the given overlap fraction."""
    if count == 1:
        return [(0, size)]
    length = size / (count - (count - 1) * overlap)
    step = length * (1.0 - overlap)
    spans = []
    for i in range(count):
        start = min(round(i * step), size - round(length))
        spans.append((max(0, start), min(size, round(length))))
    return spans


def tile_grid(frame_size: tuple[int, int], rows: int, cols: int, overlap: float) -> list[Rect]:
    """Tiles as (x, y, w, h) in pixels, row by row, covering the frame edge to edge."""
    width, height = frame_size
    return [
        (x, y, w, h)
        for y, h in _spans(height, rows, overlap)
        for x, w in _spans(width, cols, overlap)
    ]


def merge(
    xyxy: npt.NDArray[np.float32],
    score: npt.NDArray[np.float32],
    cut: npt.NDArray[np.bool_],
    iou_threshold: float,
    *,
    drop_cut: bool,
) -> npt.NDArray[np.intp]:
    """Indices to keep, best first: NMS over the boxes, then the cut-off ones go.

    `drop_cut` drops every cut box; otherwise only those mostly inside a larger kept box.
    """
    candidates = np.flatnonzero(~cut) if drop_cut else np.arange(score.shape[0])
    kept = candidates[nms(xyxy[candidates], score[candidates], iou_threshold)]
    if drop_cut or kept.size < 2 or not cut[kept].any():
        return kept
    boxes = xyxy[kept].astype(np.float64)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    ix1 = np.maximum(boxes[:, None, 0], boxes[None, :, 0])
    iy1 = np.maximum(boxes[:, None, 1], boxes[None, :, 1])
    ix2 = np.minimum(boxes[:, None, 2], boxes[None, :, 2])
    iy2 = np.minimum(boxes[:, None, 3], boxes[None, :, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    inside = inter / np.maximum(area[:, None], 1e-12)
    larger = area[None, :] > area[:, None]
    piece = cut[kept] & np.any((inside >= CONTAINED) & larger, axis=1)
    survivors: npt.NDArray[np.intp] = kept[~piece]
    return survivors


TilePasses = tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.bool_]]
"""Every tile's boxes in whole-frame coordinates, their scores, and whether each is cut."""


def tile_passes(
    frame: Frame, grid: list[Rect], detect: Callable[[Frame], Detections]
) -> TilePasses:
    """Run `detect` on each tile of `grid`; map its boxes to `frame` and flag those cut by
    an inner tile edge."""
    width, height = frame.size
    boxes: list[npt.NDArray[np.float32]] = []
    scores: list[npt.NDArray[np.float32]] = []
    cuts: list[npt.NDArray[np.bool_]] = []
    for x, y, w, h in grid:
        found = detect(Frame(frame.image[y : y + h, x : x + w], frame.index, frame.timestamp))
        local = found.xyxy
        inner_edges = np.array([x > 0, y > 0, x + w < width, y + h < height])
        near = np.concatenate([local[:, :2] <= EDGE, local[:, 2:] >= 1.0 - EDGE], axis=1)
        cuts.append(np.any(near & inner_edges[None, :], axis=1))
        scale = np.array([w / width, h / height, w / width, h / height], np.float32)
        offset = np.array([x / width, y / height, x / width, y / height], np.float32)
        boxes.append(local * scale + offset)
        scores.append(found.score)
    return (
        np.concatenate(boxes).astype(np.float32).reshape(-1, 4),
        np.concatenate(scores).astype(np.float32),
        np.concatenate(cuts),
    )


def found_alone(
    merged: Detections, whole: Detections, confident: float, overlap: float
) -> tuple[int, int]:
    """(boxes of `merged` scoring `confident` or more, those no `whole` box overlaps at IoU
    `overlap` or more): the people only the tiles found."""
    kept = merged.xyxy[merged.score >= confident].astype(np.float64)
    if not len(kept) or not len(whole):
        return len(kept), len(kept)
    iou = iou_of_boxes(kept, whole.xyxy.astype(np.float64))
    return len(kept), int((iou < overlap).all(axis=1).sum())


class TileYield:
    """Judges once, after `people` confident boxes, whether tiles add people: a box no
    full-frame box overlaps was found by the tiles alone. Logs a warning if too few were."""

    def __init__(
        self,
        passes: int,
        confident: float,
        overlap: float,
        people: int = YIELD_PEOPLE,
        share: float = YIELD_SHARE,
    ) -> None:
        self._passes = passes
        self._confident = confident
        self._overlap = overlap
        self._people = people
        self._share = share
        self._found = 0
        self._alone = 0
        self.judged = False

    def add(self, merged: Detections, whole: Detections) -> None:
        """Count one frame: the merged detections and the full-frame pass's own."""
        if self.judged:
            return
        found, alone = found_alone(merged, whole, self._confident, self._overlap)
        self._found += found
        self._alone += alone
        if self._found >= self._people:
            self.judged = True
            self._report()

    def _report(self) -> None:
        if self._alone >= self._share * self._found:
            log.info("tiling: the tiles find people the full frame misses; keeping them")
            return
        log.warning(
            "tiling: the tiles found almost no one the full frame missed, at %d model passes "
            "a frame; set [detector.tiles] rows = 1 and cols = 1 unless people in this "
            "scene are small and far",
            self._passes,
        )


class TiledDetector:
    """Wraps a ModelDetector; the same contract, on rows x cols overlapping tiles."""

    def __init__(
        self,
        inner: ModelDetector,
        tiles: TilingConfig,
        *,
        nms_iou: float,
        full_frame: bool = True,
        judge: TileYield | None = None,
    ) -> None:
        self._inner = inner
        self._tiles = tiles
        self._nms_iou = nms_iou
        self._full_frame = full_frame
        self._judge = judge
        self._grids: dict[tuple[int, int], list[Rect]] = {}

    @property
    def input_size(self) -> tuple[int, int]:
        """A frame size at which each tile is about the inner detector's input size."""
        w, h = self._inner.input_size
        t = self._tiles
        return (
            round(w * (t.cols - (t.cols - 1) * t.overlap)),
            round(h * (t.rows - (t.rows - 1) * t.overlap)),
        )

    @property
    def model_name(self) -> str:
        return self._inner.model_name

    @property
    def model_sha256(self) -> str:
        return self._inner.model_sha256

    def detect(self, frame: Frame) -> Detections:
        """Persons in the whole frame, normalized, merged across tiles."""
        whole = self._inner.detect(frame) if self._full_frame else Detections.empty()
        xyxy, score, cut = self._tile_passes(frame)
        found = self._merge(whole, xyxy, score, cut)
        if self._judge is not None:
            self._judge.add(found, whole)
        return found

    def _tile_passes(self, frame: Frame) -> TilePasses:
        grid = self._grids.get(frame.size)
        if grid is None:
            grid = tile_grid(frame.size, self._tiles.rows, self._tiles.cols, self._tiles.overlap)
            self._grids[frame.size] = grid
        return tile_passes(frame, grid, self._inner.detect)

    def _merge(
        self,
        whole: Detections,
        xyxy: npt.NDArray[np.float32],
        score: npt.NDArray[np.float32],
        cut: npt.NDArray[np.bool_],
    ) -> Detections:
        """One box per person from the full-frame pass and the tiles' boxes."""
        boxes = np.concatenate([whole.xyxy, xyxy]).astype(np.float32)
        scores = np.concatenate([whole.score, score]).astype(np.float32)
        cuts = np.concatenate([np.zeros(len(whole), np.bool_), cut])
        keep = merge(boxes, scores, cuts, self._nms_iou, drop_cut=self._full_frame)
        return Detections(np.clip(boxes[keep], 0.0, 1.0), scores[keep])
