import pytest

from edge.buckets import BucketClock


def test_buckets_align_and_add_up():
    clock = BucketClock(60, ["door"], ["lobby"])
    closed = []
    t0 = 1_800_000_030.0
    for k in range(300):  # 150 s at 2 fps
        crossings = {"door": (1, 0) if k % 10 == 0 else (0, 0)}
        closed += clock.add(t0 + k / 2, crossings, {"lobby": k % 4})
    last = clock.flush()
    assert last is not None
    closed.append(last)
    assert [b.start % 60 for b in closed] == [0, 0, 0]  # 30 s, 60 s and 60 s of frames
    assert sum(b.lines["door"][0] for b in closed) == 30
    assert all(b.zones["lobby"][1] == 3 for b in closed)
    assert closed[1].zones["lobby"][0] == pytest.approx(1.5)


def test_gap_skips_empty_buckets_and_flush_is_once():
    clock = BucketClock(10, ["door"], [])
    assert clock.add(100.0, {"door": (1, 0)}, {}) == []
    closed = clock.add(1000.0, {"door": (0, 2)}, {})
    assert len(closed) == 1 and closed[0].start == 100.0 and closed[0].end == 110.0
    final = clock.flush()
    assert final is not None and final.lines["door"] == (0, 2)
    assert clock.flush() is None


def test_bucket_length_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        BucketClock(0, [], [])
