"""k-suppression: counts below k are never published as such, and 0 hides among them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.messages import LineTotals, Snapshot, ZoneNow, ZoneStats
from edge.privacy.suppress import suppress_occupancy, suppress_zone_stats

names = st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True)
counts = st.integers(min_value=0, max_value=200)


def snapshot(zones: dict[str, int], k: int) -> Snapshot:
    """A state message whose zones went through k-suppression."""
    return Snapshot(
        site="hq",
        sensor="door-1",
        ts="2026-11-28T15:00:00.100Z",
        boot="5f0c1a",
        seq=7,
        frame=812,
        zones=suppress_occupancy(zones, k),
        lines={"entrance": LineTotals(in_=1, out=0)},
    )


@given(st.dictionaries(names, counts, max_size=6), st.integers(min_value=1, max_value=100))
def test_occupancy_below_k_is_published_as_flagged_zero(zones: dict[str, int], k: int) -> None:
    out = suppress_occupancy(zones, k)
    assert set(out) == set(zones)
    for name, true in zones.items():
        published = out[name]
        if true < k:
            assert published == ZoneNow(occupancy=0, suppressed=True)
        else:
            assert published == ZoneNow(occupancy=true, suppressed=False)


@given(
    st.dictionaries(names, st.tuples(counts, counts), max_size=4),
    st.integers(min_value=1, max_value=20),
    st.data(),
)
def test_counts_below_k_are_indistinguishable(
    pairs: dict[str, tuple[int, int]], k: int, data: st.DataObject
) -> None:
    """Two rooms that differ only below k publish byte-identical JSON."""
    below = st.integers(min_value=0, max_value=k - 1)
    a = {n: data.draw(below) if x < k else x for n, (x, _) in pairs.items()}
    b = {n: data.draw(below) if x < k else x for n, (x, _) in pairs.items()}
    assert snapshot(a, k).to_json() == snapshot(b, k).to_json()


@given(
    st.dictionaries(names, st.tuples(st.floats(0, 50), counts), max_size=6),
    st.integers(min_value=1, max_value=100),
)
def test_bucket_zone_below_k_is_suppressed(zones: dict[str, tuple[float, int]], k: int) -> None:
    out = suppress_zone_stats(zones, k)
    for name, (mean, largest) in zones.items():
        published = out[name]
        if largest < k:
            assert published == ZoneStats(mean=0.0, max=0, suppressed=True)
        else:
            assert published == ZoneStats(mean=mean, max=largest, suppressed=False)


@given(st.dictionaries(names, counts, max_size=6))
def test_k_zero_is_off(zones: dict[str, int]) -> None:
    out = snapshot(zones, 0)
    assert {n: z.occupancy for n, z in out.zones.items()} == zones
    assert "suppressed" not in out.to_json()
    assert suppress_zone_stats({"a": (0.5, 1)}, 0) == {"a": ZoneStats(mean=0.5, max=1)}


def test_single_person_in_small_room_is_hidden() -> None:
    alone = snapshot({"office": 1}, 3)
    empty = snapshot({"office": 0}, 3)
    assert alone.to_json() == empty.to_json()
    assert '"office":{"occupancy":0,"suppressed":true}' in alone.to_json()


def test_negative_k_is_refused() -> None:
    with pytest.raises(ValueError, match="k must be >= 0"):
        suppress_occupancy({"a": 1}, -1)
