"""The privacy stage of the output line: exact counts in, only what may be published out.

counts -> privacy -> publisher -> sinks. The publisher builds messages from `Released*`
values only, and only this stage makes them, so no exact count can reach a sink by
another path. With `epsilon` set, a bucket's line counts get noise and `state` totals
are the sums of the noisy buckets; k-suppression applies to zone counts of both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from edge.buckets import ClosedBucket
from edge.config import PrivacyConfig
from edge.messages import LineTotals, ZoneNow, ZoneStats
from edge.privacy.noise import NoisyTotals, Randomness, add_noise, system_randomness
from edge.privacy.suppress import suppress_occupancy, suppress_zone_stats


@dataclass(frozen=True, slots=True)
class ReleasedState:
    """The current state as it may be published; equal values publish identical bytes."""

    lines: dict[str, LineTotals]
    zones: dict[str, ZoneNow]


@dataclass(frozen=True, slots=True)
class ReleasedBucket:
    """A closed bucket as it may be published; `start`/`end` are epoch seconds."""

    start: float
    end: float
    lines: dict[str, LineTotals]
    zones: dict[str, ZoneStats]
    noise: bool | None


class PrivacyStage(Protocol):
    """Turns exact counts into releasable values; the only maker of `Released*`."""

    def state(
        self, totals: Mapping[str, tuple[int, int]], occupancy: Mapping[str, int]
    ) -> ReleasedState: ...

    def bucket(self, closed: ClosedBucket) -> ReleasedBucket: ...

    def reset(self, lines: Iterable[str] | None) -> None:
        """The counters' totals of these lines (all when None) were zeroed."""
        ...


def _line_totals(lines: Mapping[str, tuple[int, int]]) -> dict[str, LineTotals]:
    return {name: LineTotals(in_=n_in, out=n_out) for name, (n_in, n_out) in lines.items()}


class OutputPrivacy:
    """The `PrivacyStage` of `[privacy]`: k-suppression and noise; defaults pass counts on.

    Stateful only for the noisy cumulative totals.
    """

    def __init__(self, config: PrivacyConfig, rng: Randomness | None = None) -> None:
        self.k = config.k
        self.epsilon = config.epsilon
        self._rng = rng if rng is not None else system_randomness()
        self._noisy = NoisyTotals()

    def state(
        self, totals: Mapping[str, tuple[int, int]], occupancy: Mapping[str, int]
    ) -> ReleasedState:
        lines = totals if self.epsilon is None else self._noisy.totals(totals)
        return ReleasedState(lines=_line_totals(lines), zones=suppress_occupancy(occupancy, self.k))

    def bucket(self, closed: ClosedBucket) -> ReleasedBucket:
        lines = closed.lines
        if self.epsilon is not None:
            lines = add_noise(lines, self.epsilon, self._rng)
            self._noisy.add(lines)
        return ReleasedBucket(
            start=closed.start,
            end=closed.end,
            lines=_line_totals(lines),
            zones=suppress_zone_stats(closed.zones, self.k),
            noise=True if self.epsilon is not None else None,
        )

    def reset(self, lines: Iterable[str] | None = None) -> None:
        self._noisy.reset(lines)
