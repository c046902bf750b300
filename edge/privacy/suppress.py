"""Minimum-count suppression (k): zone counts below k are published as 0 with a flag.

The flag is set for every zone whose true count is below k, including a true 0, so a
published 0 with `suppressed: true` says "fewer than k", never "somebody is here".
With k = 0 (the default) counts pass through unflagged.

k applies to zone occupancy in `state` and to zone mean/max in `counts` buckets (a
bucket's zone is suppressed when its max is below k: it never held k people). Line
counts are not thresholded: a cumulative total's differences would reveal each
crossing anyway, and buckets must add up to the totals; protect them with `epsilon`.
"""

from __future__ import annotations

from collections.abc import Mapping

from edge.messages import ZoneNow, ZoneStats


def _check(k: int) -> None:
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")


def suppress_occupancy(occupancy: Mapping[str, int], k: int) -> dict[str, ZoneNow]:
    """Each zone's live occupancy as published: below k it is 0 and flagged."""
    _check(k)
    return {name: suppress_now(n, k) for name, n in occupancy.items()}


def suppress_zone_stats(zones: Mapping[str, tuple[float, int]], k: int) -> dict[str, ZoneStats]:
    """Each zone's bucket (mean, max) as published: a max below k makes both 0, flagged."""
    _check(k)
    return {name: suppress_stats(mean, largest, k) for name, (mean, largest) in zones.items()}


def suppress_now(occupancy: int, k: int) -> ZoneNow:
    """A live occupancy below k becomes 0 with `suppressed` True; k = 0 leaves no flag."""
    if k == 0:
        return ZoneNow(occupancy=occupancy)
    if occupancy < k:
        return ZoneNow(occupancy=0, suppressed=True)
    return ZoneNow(occupancy=occupancy, suppressed=False)


def suppress_stats(mean: float, largest: int, k: int) -> ZoneStats:
    """A bucket's zone whose max is below k becomes mean 0, max 0, `suppressed` True."""
    if k == 0:
        return ZoneStats(mean=mean, max=largest)
    if largest < k:
        return ZoneStats(mean=0.0, max=0, suppressed=True)
    return ZoneStats(mean=mean, max=largest, suppressed=False)
