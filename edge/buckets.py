"""Time buckets on the frames' own clock: crossings per line, occupancy mean/max per zone."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ClosedBucket:
    """One finished bucket; `start`/`end` are epoch seconds aligned to the bucket length."""

    start: float
    end: float
    lines: dict[str, tuple[int, int]]
    zones: dict[str, tuple[float, int]]
    frames: int


@dataclass(slots=True)
class _Open:
    start: float
    end: float
    lines: dict[str, list[int]]
    zone_sum: dict[str, int]
    zone_max: dict[str, int]
    frames: int = 0


class BucketClock:
    """Accumulates per-frame counts and closes a bucket when the frame clock passes its end.

    Buckets align to multiples of `seconds` since the epoch; a gap without frames closes
    the open bucket and skips the empty ones. The sum of the closed buckets' crossings
    equals the crossings seen, so a run's buckets add up to its totals.
    """

    def __init__(self, seconds: float, lines: list[str], zones: list[str]) -> None:
        if seconds <= 0:
            raise ValueError(f"bucket length must be positive, got {seconds}")
        self.seconds = seconds
        self._lines = list(lines)
        self._zones = list(zones)
        self._open: _Open | None = None

    def _new(self, timestamp: float) -> _Open:
        start = math.floor(timestamp / self.seconds) * self.seconds
        return _Open(
            start=start,
            end=start + self.seconds,
            lines={name: [0, 0] for name in self._lines},
            zone_sum=dict.fromkeys(self._zones, 0),
            zone_max=dict.fromkeys(self._zones, 0),
        )

    def add(
        self,
        timestamp: float,
        crossings: dict[str, tuple[int, int]],
        occupancy: dict[str, int],
    ) -> list[ClosedBucket]:
        """Account one frame; returns the buckets this frame closed (zero or one)."""
        closed: list[ClosedBucket] = []
        if self._open is not None and timestamp >= self._open.end:
            closed.append(self._close(self._open))
            self._open = None
        if self._open is None:
            self._open = self._new(timestamp)
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
        bucket = self._close(self._open)
        self._open = None
        return bucket

    def _close(self, bucket: _Open) -> ClosedBucket:
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
