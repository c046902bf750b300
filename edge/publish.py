"""Turns counts into published messages: boot id, sequence numbers, privacy transforms."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence

from edge.buckets import ClosedBucket
from edge.messages import Bucket, LineTotals, Snapshot, ZoneNow, ZoneStats, iso_ms, iso_s
from edge.sinks import Sink

SnapshotFilter = Callable[[Snapshot], Snapshot]
BucketFilter = Callable[[Bucket], Bucket]


def new_boot_id() -> str:
    """Random id of one run: consumers dedupe by (boot, seq)."""
    return secrets.token_hex(4)


class Publisher:
    """Numbers every message of a boot and hands it to each sink.

    `snapshot_filter` / `bucket_filter` apply privacy transforms (k-suppression, noise)
    to the message after it is built and before any sink sees it.
    """

    def __init__(
        self,
        *,
        site: str,
        sensor: str,
        sinks: Sequence[Sink],
        boot: str | None = None,
        snapshot_filter: SnapshotFilter | None = None,
        bucket_filter: BucketFilter | None = None,
        on_reset: Callable[[list[str]], None] | None = None,
        dropped: Callable[[], int] | None = None,
    ) -> None:
        self.site = site
        self.sensor = sensor
        self.boot = boot if boot is not None else new_boot_id()
        self.sinks = list(sinks)
        self.seq = 0
        self.resets = 0
        self._snapshot_filter = snapshot_filter
        self._bucket_filter = bucket_filter
        self._on_reset = on_reset
        self._dropped = dropped  # buckets the journal could not keep (MQTT only)

    def reset(self, lines: list[str]) -> None:
        """Record a reset of these lines' totals; the next snapshot announces it."""
        self.resets += 1
        if self._on_reset is not None:
            self._on_reset(lines)

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def snapshot(
        self,
        *,
        timestamp: float,
        frame: int,
        totals: dict[str, tuple[int, int]],
        occupancy: dict[str, int],
    ) -> Snapshot:
        message = Snapshot(
            site=self.site,
            sensor=self.sensor,
            ts=iso_ms(timestamp),
            boot=self.boot,
            seq=self._next_seq(),
            frame=frame,
            zones={name: ZoneNow(occupancy=n) for name, n in occupancy.items()},
            lines={name: LineTotals(in_=i, out=o) for name, (i, o) in totals.items()},
            resets=self.resets if self.resets else None,
            dropped=self._dropped() if self._dropped is not None else None,
        )
        if self._snapshot_filter is not None:
            message = self._snapshot_filter(message)
        for sink in self.sinks:
            sink.publish_snapshot(message)
        return message

    def bucket(self, closed: ClosedBucket) -> Bucket:
        message = Bucket(
            site=self.site,
            sensor=self.sensor,
            boot=self.boot,
            seq=self._next_seq(),
            start=iso_s(closed.start),
            end=iso_s(closed.end),
            lines={name: LineTotals(in_=i, out=o) for name, (i, o) in closed.lines.items()},
            zones={name: ZoneStats(mean=m, max=x) for name, (m, x) in closed.zones.items()},
        )
        if self._bucket_filter is not None:
            message = self._bucket_filter(message)
        for sink in self.sinks:
            sink.publish_bucket(message)
        return message

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
