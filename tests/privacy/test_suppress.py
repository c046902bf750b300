"""k-suppression: counts below k are never published as such, and 0 hides among them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from edge.messages import Bucket, LineTotals, Snapshot, ZoneNow, ZoneStats
from edge.privacy.suppress import apply_k

names = st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True)
counts = st.integers(min_value=0, max_value=200)


def snapshot(zones: dict[str, int], lines: dict[str, tuple[int, int]] | None = None) -> Snapshot:
    return Snapshot(
        site="hq",
        sensor="door-1",
        ts="2026-11-28T15:00:00.100Z",
        boot="5f0c1a",
        seq=7,
        frame=812,
        zones={n: ZoneNow(occupancy=c) for n, c in zones.items()},
        lines={n: LineTotals(in_=i, out=o) for n, (i, o) in (lines or {}).items()},
    )


def bucket(zones: dict[str, tuple[float, int]], lines: dict[str, tuple[int, int]]) -> Bucket:
    return Bucket(
        site="hq",
        sensor="door-1",
        boot="5f0c1a",
        seq=8,
        start="2026-11-28T15:00:00Z",
        end="2026-11-28T15:01:00Z",
        lines={n: LineTotals(in_=i, out=o) for n, (i, o) in lines.items()},
        zones={n: ZoneStats(mean=m, max=x) for n, (m, x) in zones.items()},
    )


@given(st.dictionaries(names, counts, max_size=6), st.integers(min_value=1, max_value=100))
def test_snapshot_below_k_is_published_as_flagged_zero(zones: dict[str, int], k: int) -> None:
    out = apply_k(snapshot(zones), k)
    assert set(out.zones) == set(zones)
    for name, true in zones.items():
        published = out.zones[name]
        if true < k:
            assert published.occupancy == 0
            assert published.suppressed is True
        else:
            assert published.occupancy == true
            assert published.suppressed is False


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
    assert apply_k(snapshot(a), k).to_json() == apply_k(snapshot(b), k).to_json()


@given(
    st.dictionaries(names, st.tuples(st.floats(0, 50), counts), max_size=6),
    st.dictionaries(names, st.tuples(counts, counts), max_size=4),
    st.integers(min_value=1, max_value=100),
)
def test_bucket_zone_below_k_is_suppressed_and_lines_untouched(
    zones: dict[str, tuple[float, int]], lines: dict[str, tuple[int, int]], k: int
) -> None:
    original = bucket(zones, lines)
    out = apply_k(original, k)
    assert out.lines == original.lines
    assert out.noise is None
    for name, (mean, largest) in zones.items():
        published = out.zones[name]
        if largest < k:
            assert (published.mean, published.max, published.suppressed) == (0.0, 0, True)
        else:
            assert (published.mean, published.max, published.suppressed) == (mean, largest, False)


@given(st.dictionaries(names, counts, max_size=6))
def test_k_zero_is_off(zones: dict[str, int]) -> None:
    original = snapshot(zones, {"entrance": (3, 1)})
    assert apply_k(original, 0) is original
    assert "suppressed" not in original.to_json()


def test_single_person_in_small_room_is_hidden() -> None:
    alone = apply_k(snapshot({"office": 1}, {"entrance": (1, 0)}), 3)
    empty = apply_k(snapshot({"office": 0}, {"entrance": (1, 0)}), 3)
    assert alone.to_json() == empty.to_json()
    assert '"office":{"occupancy":0,"suppressed":true}' in alone.to_json()
