"""Detect small people in wide scenes: run a detector on overlapping tiles and merge.

Each tile (and, optionally, the whole frame) goes through the inner detector; boxes are
mapped to whole-frame normalized coordinates and merged by NMS. A box cut off by an inner
tile edge shows part of a person: with the full-frame pass on it is dropped (a person
smaller than the overlap is whole in a neighbouring tile; a larger one is found by the
full-frame pass); without it, it is dropped when it lies mostly inside a larger kept box.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from edge.config import TilingConfig
from edge.detect.base import ModelDetector
from edge.detect.decode import nms
from edge.detections import Detections
from edge.frames import Frame

Rect = tuple[int, int, int, int]
CONTAINED = 0.6
"""A cut-off box this much inside a larger kept box is a piece of it."""
EDGE = 0.02
"""How close (as a fraction of its tile) a box edge must be to an inner tile edge to be 'cut'."""


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


class TiledDetector:
    """Wraps a ModelDetector; the same contract, on rows x cols overlapping tiles."""

    def __init__(
        self,
        inner: ModelDetector,
        tiles: TilingConfig,
        *,
        nms_iou: float,
        full_frame: bool = True,
    ) -> None:
        self._inner = inner
        self._tiles = tiles
        self._nms_iou = nms_iou
        self._full_frame = full_frame
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
        width, height = frame.size
        grid = self._grids.get(frame.size)
        if grid is None:
            grid = tile_grid(frame.size, self._tiles.rows, self._tiles.cols, self._tiles.overlap)
            self._grids[frame.size] = grid
        boxes: list[npt.NDArray[np.float32]] = []
        scores: list[npt.NDArray[np.float32]] = []
        cuts: list[npt.NDArray[np.bool_]] = []
        if self._full_frame:
            found = self._inner.detect(frame)
            boxes.append(found.xyxy)
            scores.append(found.score)
            cuts.append(np.zeros(len(found), np.bool_))
        for x, y, w, h in grid:
            tile = Frame(frame.image[y : y + h, x : x + w], frame.index, frame.timestamp)
            found = self._inner.detect(tile)
            local = found.xyxy
            inner_edges = np.array([x > 0, y > 0, x + w < width, y + h < height])
            near = np.concatenate([local[:, :2] <= EDGE, local[:, 2:] >= 1.0 - EDGE], axis=1)
            cuts.append(np.any(near & inner_edges[None, :], axis=1))
            scale = np.array([w / width, h / height, w / width, h / height], np.float32)
            offset = np.array([x / width, y / height, x / width, y / height], np.float32)
            boxes.append(local * scale + offset)
            scores.append(found.score)
        xyxy = np.concatenate(boxes).astype(np.float32)
        score = np.concatenate(scores).astype(np.float32)
        keep = merge(xyxy, score, np.concatenate(cuts), self._nms_iou, drop_cut=self._full_frame)
        return Detections(np.clip(xyxy[keep], 0.0, 1.0), score[keep])
