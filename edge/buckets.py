"""Time buckets: crossings per line and occupancy mean/max per zone, paced on the frames' clock.

Two times per frame (see `edge.frames.Frame`): the pacing `clock`, which never jumps,
decides when a bucket closes; the `wall` time labels it. A bucket opened at wall time w
is labelled with the aligned interval [floor(w / s) * s, + s) and closes once the clock
has advanced by what was left of it. So a wall clock stepped back an hour neither holds
a bucket open for an hour nor stops buckets; stepped forward, it leaves no burst of
empty or short buckets: the next bucket is simply labelled with the new wall time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

STEP_SECONDS = 1.0
"""A disagreement between wall time and the clock beyond this (plus the slew allowance)
is a step of the wall clock (NTP setting the time, an operator), not a slew."""
SLEW_RATE = 0.001
"""Allowed drift of wall time against the clock, per second: NTP slews at most 0.05 %."""


@dataclass(frozen=True, slots=True)
class ClosedBucket:
    """One finished bucket; `start`/`end` are wall-clock epoch seconds aligned to its length."""

    start: float
    end: float
    lines: dict[str, tuple[int, int]]
    zones: dict[str, tuple[float, int]]
    frames: int


@dataclass(slots=True)
class _Open:
    start: float
    end: float
    opened: float
    closes: float
    offset: float
    lines: dict[str, list[int]]
    zone_sum: dict[str, int]
    zone_max: dict[str, int]
    frames: int = 0


class BucketClock:
    """Accumulates per-frame counts and closes a bucket when the pacing clock passes its end.

    Labels align to multiples of `seconds` since the epoch; a gap without frames closes
    the open bucket and skips the empty ones. While wall time and the clock agree, labels
    continue the grid without repeating one. The sum of the closed buckets' crossings
    equals the crossings seen, so a run's buckets add up to its totals.
    """

    def __init__(self, seconds: float, lines: list[str], zones: list[str]) -> None:
        if seconds <= 0:
            raise ValueError(f"bucket length must be positive, got {seconds}")
        self.seconds = seconds
        self._lines = list(lines)
        self._zones = list(zones)
        self._open: _Open | None = None
        self._last: _Open | None = None

    def _stepped(self, last: _Open, clock: float, wall: float) -> bool:
        """Whether the wall clock was stepped since `last` opened."""
        allowed = STEP_SECONDS + SLEW_RATE * abs(clock - last.opened)
        return abs((wall - clock) - last.offset) > allowed

    def _new(self, clock: float, wall: float) -> _Open:
        start = math.floor(wall / self.seconds) * self.seconds
        last = self._last
        if last is not None and start < last.end and not self._stepped(last, clock, wall):
            start = last.end  # wall time runs a little behind the clock: keep the grid
        return _Open(
            start=start,
            end=start + self.seconds,
            opened=clock,
            closes=start + self.seconds - (wall - clock),  # exactly `end` for footage
            offset=wall - clock,
            lines={name: [0, 0] for name in self._lines},
            zone_sum=dict.fromkeys(self._zones, 0),
            zone_max=dict.fromkeys(self._zones, 0),
        )

    def add(
        self,
        crossings: dict[str, tuple[int, int]],
        occupancy: dict[str, int],
        *,
        clock: float,
        wall: float,
    ) -> list[ClosedBucket]:
        """Account one frame; returns the buckets this frame closed (zero or one)."""
        closed: list[ClosedBucket] = []
        if self._open is not None and clock >= self._open.closes:
            closed.append(self._close(self._open))
        if self._open is None:
            self._open = self._new(clock, wall)
        bucket = self._open
        bucket.frames += 1
        for name, (n_in, n_out) in crossings.items():
            bucket.lines[name][0] += n_in
            bucket.lines[name][1] += n_out
        for name, value in occupancy.items():
            bucket.zone_sum[name] += value
            bucket.zone_max[name] = max(bucket.zone_max[name], value)
        return closed

    def add_crossings(self, crossings: dict[str, tuple[int, int]]) -> None:
        """Add crossings to the open bucket without counting a frame (end of footage)."""
        if self._open is None:
            return
        for name, (n_in, n_out) in crossings.items():
            self._open.lines[name][0] += n_in
            self._open.lines[name][1] += n_out

    def flush(self) -> ClosedBucket | None:
        """Close the open bucket at a clean exit (it ends at the bucket boundary)."""
        if self._open is None or self._open.frames == 0:
            return None
        return self._close(self._open)

    def _close(self, bucket: _Open) -> ClosedBucket:
        self._open = None
        self._last = bucket
        frames = max(bucket.frames, 1)
        return ClosedBucket(
            start=bucket.start,
            end=bucket.end,
            lines={name: (v[0], v[1]) for name, v in bucket.lines.items()},
            zones={
                name: (round(bucket.zone_sum[name] / frames, 3), bucket.zone_max[name])
                for name in self._zones
            },
            frames=bucket.frames,
        )
