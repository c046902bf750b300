"""Turns released counts into messages: the boot's envelope (ids, sequence, time) to sinks.

The publisher takes only what the privacy stage released (`edge.privacy.output`), so it
cannot publish an exact count the stage withheld. Every sink gets the same message.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence

from edge.messages import Bucket, Snapshot, iso_ms, iso_s
from edge.privacy.output import ReleasedBucket, ReleasedState
from edge.sinks import Sink

DroppedCount = Callable[[], int]
"""How many closed buckets were dropped undelivered (the journal keeps the number)."""


def new_boot_id() -> str:
    """Random id of one run: consumers dedupe by (boot, seq)."""
    return secrets.token_hex(4)


class Publisher:
    """Numbers every message of a boot and hands the same message to each sink.

    `dropped`, when given (a journal exists), is read for every snapshot.
    """

    def __init__(
        self,
        *,
        site: str,
        sensor: str,
        boot: str,
        sinks: Sequence[Sink],
        dropped: DroppedCount | None = None,
    ) -> None:
        self.site = site
        self.sensor = sensor
        self.boot = boot
        self.sinks = tuple(sinks)
        self.seq = 0
        self.resets = 0
        self._dropped = dropped

    def count_reset(self) -> None:
        """Record a reset of line totals; every later snapshot announces the count."""
        self.resets += 1

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def snapshot(self, state: ReleasedState, *, timestamp: float, frame: int) -> Snapshot:
        """Publish `state` stamped with the frame's wall time and index."""
        message = Snapshot(
            site=self.site,
            sensor=self.sensor,
            ts=iso_ms(timestamp),
            boot=self.boot,
            seq=self._next_seq(),
            frame=frame,
            zones=state.zones,
            lines=state.lines,
            resets=self.resets or None,
            dropped=self._dropped() if self._dropped is not None else None,
        )
        for sink in self.sinks:
            sink.publish_snapshot(message)
        return message

    def bucket(self, released: ReleasedBucket) -> Bucket:
        message = Bucket(
            site=self.site,
            sensor=self.sensor,
            boot=self.boot,
            seq=self._next_seq(),
            start=iso_s(released.start),
            end=iso_s(released.end),
            lines=released.lines,
            zones=released.zones,
            noise=released.noise,
        )
        for sink in self.sinks:
            sink.publish_bucket(message)
        return message

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
