"""Scoring: what a sensor counted against the ground truth, per line and direction.

- Totals: accuracy = 1 - |counted - true| / true per line-direction (1.0 when both are 0,
  0.0 when nothing was true but something was counted), and their mean.
- Events: counted crossings are matched to true ones of the same line and direction whose
  times differ by at most `tolerance_s` (a greedy pass in time order, which is a maximum
  matching for equal windows). A true crossing left unmatched is a *miss*; a counted one
  left unmatched is a *double* when a true crossing lies within the tolerance (it was
  already taken), else a *spurious* count.
- Occupancy: mean absolute error, per zone, of the published occupancy in force at each
  true sample's time (the latest snapshot at or before it; 0 before the first).
- Latency: seconds from a true crossing to the arrival of the count that matched it
  (p50 and p95), when the mode measures arrivals (MQTT).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from lab.verify.truth import DIRECTIONS, Crossing, Direction, OccupancySample

DEFAULT_MIN_ACCURACY = 0.95
DEFAULT_TOLERANCE_S = 1.0


@dataclass(frozen=True, order=True)
class Counted:
    """A crossing the sensor counted at clip time `time_s`, published at clip time `arrival_s`."""

    time_s: float
    line: str
    direction: Direction
    arrival_s: float | None = None


@dataclass(frozen=True)
class OccupancyReading:
    """Zone occupancy the sensor published, in force from clip time `time_s`."""

    time_s: float
    zones: dict[str, int]


@dataclass(frozen=True)
class Observed:
    """Everything a run saw the sensor publish, in clip time."""

    lines: tuple[str, ...]
    zones: tuple[str, ...]
    crossings: tuple[Counted, ...] = ()
    occupancy: tuple[OccupancyReading, ...] = ()
    totals: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    """One pass/fail check beside the line-directions (a JUnit test case of its own)."""

    name: str
    passed: bool
    message: str


@dataclass(frozen=True)
class LineScore:
    """The score of one line in one direction."""

    line: str
    direction: Direction
    true: int
    counted: int
    matched: int
    misses: tuple[float, ...]
    doubles: tuple[float, ...]
    spurious: tuple[float, ...]
    latencies: tuple[float, ...]
    min_accuracy: float

    @property
    def name(self) -> str:
        return f"{self.line} {self.direction}"

    @property
    def accuracy(self) -> float:
        return accuracy(self.counted, self.true)

    @property
    def passed(self) -> bool:
        return self.accuracy >= self.min_accuracy


@dataclass(frozen=True)
class Score:
    """The whole verdict of a run."""

    lines: tuple[LineScore, ...]
    occupancy_mae: dict[str, float]
    checks: tuple[Check, ...]
    min_accuracy: float
    tolerance_s: float
    truth: tuple[Crossing, ...] = ()
    counted: tuple[Counted, ...] = ()

    @property
    def mean_accuracy(self) -> float:
        return float(np.mean([s.accuracy for s in self.lines])) if self.lines else 1.0

    @property
    def latencies(self) -> tuple[float, ...]:
        return tuple(sorted(x for s in self.lines for x in s.latencies))

    def latency_percentile(self, q: float) -> float | None:
        values = self.latencies
        return float(np.percentile(values, q)) if values else None

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.lines) and all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[str]:
        """Names of the failed line-directions and checks."""
        return [s.name for s in self.lines if not s.passed] + [
            c.name for c in self.checks if not c.passed
        ]


def accuracy(counted: int, true: int) -> float:
    """1 - |counted - true| / true; 1.0 for 0 of 0 and 0.0 for any count of nothing."""
    if true == 0:
        return 1.0 if counted == 0 else 0.0
    return 1.0 - abs(counted - true) / true


def match(
    truth: Sequence[float], counted: Sequence[float], tolerance_s: float
) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """(matched index pairs, unmatched truth indices, unmatched counted indices); both sorted."""
    pairs: list[tuple[int, int]] = []
    misses: list[int] = []
    extra: list[int] = []
    i = j = 0
    while i < len(truth) and j < len(counted):
        if counted[j] < truth[i] - tolerance_s:
            extra.append(j)
            j += 1
        elif counted[j] > truth[i] + tolerance_s:
            misses.append(i)
            i += 1
        else:
            pairs.append((i, j))
            i += 1
            j += 1
    misses.extend(range(i, len(truth)))
    extra.extend(range(j, len(counted)))
    return pairs, misses, extra


def score_line(
    line: str,
    direction: Direction,
    truth: Sequence[Crossing],
    counted: Sequence[Counted],
    *,
    tolerance_s: float,
    min_accuracy: float,
) -> LineScore:
    """Score one line-direction from its true and counted events (any order)."""
    true_times = sorted(c.time_s for c in truth)
    events = sorted(counted)
    pairs, missed, extra = match(true_times, [e.time_s for e in events], tolerance_s)
    doubles: list[float] = []
    spurious: list[float] = []
    for j in extra:
        near = any(abs(events[j].time_s - t) <= tolerance_s for t in true_times)
        (doubles if near else spurious).append(events[j].time_s)
    latencies = [
        arrival - true_times[i] for i, j in pairs if (arrival := events[j].arrival_s) is not None
    ]
    return LineScore(
        line=line,
        direction=direction,
        true=len(true_times),
        counted=len(events),
        matched=len(pairs),
        misses=tuple(true_times[i] for i in missed),
        doubles=tuple(doubles),
        spurious=tuple(spurious),
        latencies=tuple(latencies),
        min_accuracy=min_accuracy,
    )


def occupancy_mae(
    truth: Iterable[OccupancySample], readings: Sequence[OccupancyReading]
) -> dict[str, float]:
    """Per zone of the truth: mean |published - true| at the truth's sample times."""
    times = [r.time_s for r in readings]
    errors: dict[str, list[int]] = {}
    for sample in truth:
        k = int(np.searchsorted(times, sample.time_s, side="right")) - 1
        published = readings[k].zones.get(sample.zone, 0) if k >= 0 else 0
        errors.setdefault(sample.zone, []).append(abs(published - sample.count))
    return {zone: float(np.mean(values)) for zone, values in sorted(errors.items())}


def score(
    truth: Sequence[Crossing],
    observed: Observed,
    *,
    occupancy: Sequence[OccupancySample] = (),
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    min_accuracy: float = DEFAULT_MIN_ACCURACY,
    checks: Sequence[Check] = (),
) -> Score:
    """Score every line-direction of the config (and any the truth names)."""
    lines = list(observed.lines) + sorted({c.line for c in truth} - set(observed.lines))
    scores = tuple(
        score_line(
            line,
            direction,
            [c for c in truth if c.line == line and c.direction == direction],
            [c for c in observed.crossings if c.line == line and c.direction == direction],
            tolerance_s=tolerance_s,
            min_accuracy=min_accuracy,
        )
        for line in lines
        for direction in DIRECTIONS
    )
    return Score(
        lines=scores,
        occupancy_mae=occupancy_mae(occupancy, observed.occupancy),
        checks=tuple(checks),
        min_accuracy=min_accuracy,
        tolerance_s=tolerance_s,
        truth=tuple(sorted(truth)),
        counted=tuple(sorted(observed.crossings)),
    )
