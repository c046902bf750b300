"""Scores of a counter against a scene's ground truth: line accuracy, occupancy error, misses.

Definitions (the benchmark's contract):

- Line count accuracy of one line and direction: `1 - |counted - true| / true`, floored at
  0. With `true == 0` it is 1.0 if nothing was counted, else 0.0.
- A counted event (line, direction, frame) is matched to a true crossing of the same line
  and direction at most `tolerance` frames away, nearest first, each used once. Unmatched
  counted events are *double counts* (a person counted twice, or a count with nobody
  crossing there); unmatched true crossings are *missed crossings*.
- Zone occupancy error: mean over frames of |counted - true|, per zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

Direction = str  # "in" or "out"


def count_accuracy(counted: int, true: int) -> float:
    """`1 - |counted - true| / true` floored at 0; with true 0: 1.0 iff nothing counted."""
    if counted < 0 or true < 0:
        raise ValueError(f"counts must be >= 0, got counted={counted}, true={true}")
    if true == 0:
        return 1.0 if counted == 0 else 0.0
    return max(0.0, 1.0 - abs(counted - true) / true)


@dataclass(frozen=True, slots=True)
class Event:
    """One counted or true crossing: which line, which way, at which frame."""

    line: str
    direction: Direction
    frame: int


@dataclass(frozen=True, slots=True)
class Matching:
    """How counted events pair with true crossings."""

    matched: int
    double_counts: int
    missed: int


def match_events(counted: Iterable[Event], truth: Iterable[Event], tolerance: int = 20) -> Matching:
    """Pair counted with true events of the same line and direction within `tolerance` frames.

    Pairs are taken nearest first (ties by earlier frames), each event used at most once.
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0 frames, got {tolerance}")
    groups: dict[tuple[str, str], tuple[list[int], list[int]]] = {}
    for event in counted:
        groups.setdefault((event.line, event.direction), ([], []))[0].append(event.frame)
    for event in truth:
        groups.setdefault((event.line, event.direction), ([], []))[1].append(event.frame)
    matched = doubles = missed = 0
    for got, want in groups.values():
        pairs = _pair_nearest(sorted(got), sorted(want), tolerance)
        matched += pairs
        doubles += len(got) - pairs
        missed += len(want) - pairs
    return Matching(matched, doubles, missed)


def _pair_nearest(got: Sequence[int], want: Sequence[int], tolerance: int) -> int:
    if not got or not want:
        return 0
    g = np.asarray(got)[:, None]
    w = np.asarray(want)[None, :]
    gap = np.abs(g - w)
    rows, cols = np.nonzero(gap <= tolerance)
    order = np.lexsort((w[0, cols], g[rows, 0], gap[rows, cols]))
    used_g: set[int] = set()
    used_w: set[int] = set()
    for r, c in zip(rows[order].tolist(), cols[order].tolist(), strict=True):
        if r not in used_g and c not in used_w:
            used_g.add(r)
            used_w.add(c)
    return len(used_g)


def occupancy_mae(counted: Sequence[int], true: Sequence[int]) -> float:
    """Mean absolute error per frame of a zone's occupancy (0.0 for no frames)."""
    if len(counted) != len(true):
        raise ValueError(f"need one count per frame: {len(counted)} counted, {len(true)} true")
    if not counted:
        return 0.0
    return float(np.mean(np.abs(np.asarray(counted, float) - np.asarray(true, float))))


@dataclass(frozen=True, slots=True)
class LineScore:
    """One line of one run: counts per direction and their accuracy."""

    line: str
    true_in: int
    true_out: int
    counted_in: int
    counted_out: int

    @property
    def accuracy_in(self) -> float:
        return count_accuracy(self.counted_in, self.true_in)

    @property
    def accuracy_out(self) -> float:
        return count_accuracy(self.counted_out, self.true_out)


@dataclass(frozen=True, slots=True)
class SceneScore:
    """Everything measured for one system on one scene."""

    scene: str
    system: str
    lines: tuple[LineScore, ...]
    zone_mae: dict[str, float]
    matching: Matching
    frames: int
    seconds_per_frame: float

    @property
    def line_accuracy(self) -> float | None:
        """Accuracy pooled over lines and directions: 1 - sum|err| / sum true (None: no line).

        With no true crossing at all it is 1.0 when nothing was counted, else 0.0.
        """
        if not self.lines:
            return None
        true = sum(s.true_in + s.true_out for s in self.lines)
        error = sum(
            abs(s.counted_in - s.true_in) + abs(s.counted_out - s.true_out) for s in self.lines
        )
        if true == 0:
            return 1.0 if error == 0 else 0.0
        return max(0.0, 1.0 - error / true)

    @property
    def min_direction_accuracy(self) -> float | None:
        """The worst accuracy of any line and direction (None: no line)."""
        if not self.lines:
            return None
        return min(min(s.accuracy_in, s.accuracy_out) for s in self.lines)

    @property
    def occupancy_mae(self) -> float | None:
        """Mean of the zones' occupancy errors (None: no zone)."""
        if not self.zone_mae:
            return None
        return float(np.mean(list(self.zone_mae.values())))
