"""The stationary hold: a track that stands still keeps its own box, and only its own.

A mannequin or poster the detector takes for a person, or a person standing still, gives
a confirmed track that stays put. Left to plain association, someone walking past takes
its box (and the two swap identities, which a door line counts as crossings). So a
track that has stood within `radius` box heights of one point for `seconds` first takes
the box that fits it closely and no other; when none of its own came, it may take a box
nobody else took near where it stood (the person walked off), so it never follows a slow
passer-by away either. The tracker asks; this class keeps, per track, where it stands
and since when.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.geometry import iou_of_boxes
from edge.matching import contested, greedy_pairs

F64 = npt.NDArray[np.float64]
Index = npt.NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class StationarySettings:
    """When a track counts as standing, and which boxes it may take then."""

    radius: float = 0.15
    """Box heights: a track whose filtered centre stays within this of one point stands
    there; one that moves further stands at a new point from then on."""
    seconds: float = 5.0
    """How long a track must stand before the hold applies."""
    hold_iou: float = 0.5
    """Least IoU (of the unbuffered boxes) of a box that fits a standing track closely;
    its centre must also lie within `radius` of the point."""
    release_radius: float = 0.5
    """Box heights: how far from the point a box nobody took may lie for a standing track
    that found none of its own to take it (the person walked off)."""

    def __post_init__(self) -> None:
        if self.radius <= 0 or self.seconds <= 0 or self.release_radius < self.radius:
            raise ValueError("need radius > 0, seconds > 0 and release_radius >= radius")
        if not 0.0 < self.hold_iou < 1.0:
            raise ValueError(f"hold_iou must lie in (0, 1), got {self.hold_iou}")


class StationaryHold:
    """Per track row: the point it stands at and since when; rows follow the tracker's."""

    def __init__(self, settings: StationarySettings | None = None) -> None:
        self.settings = settings if settings is not None else StationarySettings()
        self._point = np.zeros((0, 2))
        self._since = np.zeros((0,))

    def select(self, index: Index | npt.NDArray[np.bool_]) -> None:
        """Keep the rows the tracker keeps, in its order."""
        self._point = self._point[index]
        self._since = self._since[index]

    def add(self, centres: F64, timestamp: float) -> None:
        """New tracks stand where they start, from now."""
        self._point = np.concatenate([self._point, centres])
        self._since = np.concatenate([self._since, np.full(centres.shape[0], timestamp)])

    def standing(self, confirmed: npt.NDArray[np.bool_], timestamp: float) -> npt.NDArray[np.bool_]:
        """Confirmed tracks that have stood long enough for the hold."""
        return confirmed & (timestamp - self._since >= self.settings.seconds)

    def distance(self, rows: Index, centres: F64, heights: F64) -> F64:
        """Distance of each centre from the point where its row's track stands (or last
        started standing), in that track's box heights (`heights`, per row)."""
        off = centres - self._point[rows]
        return np.asarray(np.hypot(off[:, 0], off[:, 1]) / heights)

    def own_boxes(
        self, rows: Index, track_boxes: F64, boxes: F64, centres: F64, heights: F64
    ) -> tuple[Index, Index]:
        """Pairs (positions into `rows` and into `boxes`) of standing tracks with boxes that
        fit them closely, greedily by IoU, each track and box at most once.

        `track_boxes` are the rows' predicted boxes, `centres` the boxes' centres and
        `heights` the rows' box heights.
        """
        sim = iou_of_boxes(track_boxes, boxes)
        r, c = np.nonzero(sim >= self.settings.hold_iou)
        if r.size == 0:
            return r, c
        near = self.distance(rows[r], centres[c], heights[r]) <= self.settings.radius
        r, c = r[near], c[near]
        if not contested(r, c):
            return r, c
        return greedy_pairs(r, c, sim[r, c])

    def released(self, rows: Index, centres: F64, heights: F64) -> npt.NDArray[np.bool_]:
        """Which (row, box centre) pairs lie close enough for a standing track that found
        none of its own box to walk off with."""
        return self.distance(rows, centres, heights) <= self.settings.release_radius

    def moved(self, rows: Index, centres: F64, heights: F64, timestamp: float) -> None:
        """Matched rows now at `centres`: a track that moved out of reach of its point
        stands at a new one, from now."""
        moved = self.distance(rows, centres, heights) > self.settings.radius
        if moved.any():
            self._point[rows[moved]] = centres[moved]
            self._since[rows[moved]] = timestamp
