"""The privacy stage: noise, then noisy state totals, then k; only it releases counts."""

from __future__ import annotations

import random

from edge.buckets import ClosedBucket
from edge.config import PrivacyConfig
from edge.messages import LineTotals, ZoneNow, ZoneStats
from edge.privacy.output import OutputPrivacy, ReleasedBucket, ReleasedState


def closed(in_: int, max_: int) -> ClosedBucket:
    return ClosedBucket(
        start=1_800_000_000.0,
        end=1_800_000_060.0,
        lines={"door": (in_, 0)},
        zones={"room": (0.5, max_)},
        frames=600,
    )


def test_defaults_release_counts_unchanged() -> None:
    out = OutputPrivacy(PrivacyConfig())
    assert out.state({"door": (5, 1)}, {"room": 1}) == ReleasedState(
        lines={"door": LineTotals(in_=5, out=1)}, zones={"room": ZoneNow(occupancy=1)}
    )
    assert out.bucket(closed(4, 1)) == ReleasedBucket(
        start=1_800_000_000.0,
        end=1_800_000_060.0,
        lines={"door": LineTotals(in_=4, out=0)},
        zones={"room": ZoneStats(mean=0.5, max=1)},
        noise=None,
    )


def test_epsilon_hides_exact_totals_and_k_hides_small_rooms() -> None:
    out = OutputPrivacy(PrivacyConfig(k=2, epsilon=0.5), random.Random(3))
    published = [out.bucket(closed(i, 1)) for i in (4, 0, 7)]
    assert all(b.noise is True for b in published)
    assert all(b.zones["room"] == ZoneStats(mean=0, max=0, suppressed=True) for b in published)
    state = out.state({"door": (11, 0)}, {"room": 1})
    assert state.lines["door"].in_ == sum(b.lines["door"].in_ for b in published)
    assert state.zones["room"] == ZoneNow(occupancy=0, suppressed=True)
    out.reset(None)
    assert out.state({"door": (11, 0)}, {"room": 3}).lines["door"] == LineTotals(in_=0, out=0)


def test_under_noise_a_crossing_changes_nothing_released_until_its_bucket_closes() -> None:
    out = OutputPrivacy(PrivacyConfig(epsilon=1.0), random.Random(1))
    before = out.state({"door": (3, 2)}, {"room": 0})
    assert out.state({"door": (4, 2)}, {"room": 0}) == before
