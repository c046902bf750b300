"""Publication-time transforms: noise, then noisy state totals, then k."""

from __future__ import annotations

import random

from edge.config import PrivacyConfig
from edge.messages import Bucket, LineTotals, Snapshot, ZoneNow, ZoneStats
from edge.privacy.output import OutputPrivacy


def snap(occupancy: int, in_: int) -> Snapshot:
    return Snapshot(
        site="hq",
        sensor="d",
        ts="2026-11-28T15:00:00.100Z",
        boot="b",
        seq=1,
        frame=1,
        zones={"room": ZoneNow(occupancy=occupancy)},
        lines={"door": LineTotals(in_=in_, out=0)},
    )


def bucket(in_: int, max_: int) -> Bucket:
    return Bucket(
        site="hq",
        sensor="d",
        boot="b",
        seq=2,
        start="2026-11-28T15:00:00Z",
        end="2026-11-28T15:01:00Z",
        lines={"door": LineTotals(in_=in_, out=0)},
        zones={"room": ZoneStats(mean=0.5, max=max_)},
    )


def test_defaults_pass_messages_through() -> None:
    out = OutputPrivacy(PrivacyConfig())
    s = snap(1, 5)
    b = bucket(4, 1)
    assert out.snapshot(s) == s
    assert out.bucket(b) == b


def test_epsilon_hides_exact_totals_and_k_hides_small_rooms() -> None:
    out = OutputPrivacy(PrivacyConfig(k=2, epsilon=0.5), random.Random(3))
    published = [out.bucket(bucket(i, 1)) for i in (4, 0, 7)]
    assert all(b.noise is True for b in published)
    assert all(b.zones["room"].suppressed is True and b.zones["room"].max == 0 for b in published)
    state = out.snapshot(snap(1, 11))
    assert state.lines["door"].in_ == sum(b.lines["door"].in_ for b in published)
    assert state.zones["room"] == ZoneNow(occupancy=0, suppressed=True)
    out.reset(None)
    assert out.snapshot(snap(3, 11)).lines["door"].in_ == 0
