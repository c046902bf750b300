"""Minimum-count suppression (k): zone counts below k are published as 0 with a flag.

The flag is set for every zone whose true count is below k, including a true 0, so a
published 0 with `suppressed: true` says "fewer than k", never "somebody is here".
With k = 0 (the default) messages pass through unchanged.

k applies to zone occupancy in `state` and to zone mean/max in `counts` buckets (a
bucket's zone is suppressed when its max is below k: it never held k people). Line
counts are not thresholded: a cumulative total's differences would reveal each
crossing anyway, and buckets must add up to the totals; protect them with `epsilon`.
"""

from __future__ import annotations

from typing import TypeVar, overload

from edge.messages import Bucket, Snapshot, ZoneNow, ZoneStats

M = TypeVar("M", Snapshot, Bucket)


@overload
def apply_k(message: Snapshot, k: int) -> Snapshot: ...


@overload
def apply_k(message: Bucket, k: int) -> Bucket: ...


def apply_k(message: Snapshot | Bucket, k: int) -> Snapshot | Bucket:
    """Return the message with every zone count below k published as 0 and flagged."""
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    if k == 0:
        return message
    if isinstance(message, Snapshot):
        zones_now = {name: suppress_now(zone, k) for name, zone in message.zones.items()}
        return message.model_copy(update={"zones": zones_now})
    zones = {name: suppress_stats(zone, k) for name, zone in message.zones.items()}
    return message.model_copy(update={"zones": zones})


def suppress_now(zone: ZoneNow, k: int) -> ZoneNow:
    """A live occupancy below k becomes 0 with `suppressed` True; else flagged False."""
    if zone.occupancy < k:
        return ZoneNow(occupancy=0, suppressed=True)
    return ZoneNow(occupancy=zone.occupancy, suppressed=False)


def suppress_stats(zone: ZoneStats, k: int) -> ZoneStats:
    """A bucket's zone whose max is below k becomes mean 0, max 0, `suppressed` True."""
    if zone.max < k:
        return ZoneStats(mean=0.0, max=0, suppressed=True)
    return ZoneStats(mean=zone.mean, max=zone.max, suppressed=False)
