"""Buckets: aligned labels in wall time, closed on the pacing clock, adding up to the totals."""

import pytest

from edge.buckets import BucketClock


def feed(clock: BucketClock, times, crossings=None, occupancy=None):
    """Feed (clock, wall) pairs; returns every closed bucket, the flushed one last."""
    closed = []
    for k, (mono, wall) in enumerate(times):
        lines = crossings(k) if crossings else {}
        closed += clock.add(lines, occupancy(k) if occupancy else {}, clock=mono, wall=wall)
    last = clock.flush()
    if last is not None:
        closed.append(last)
    return closed


def test_buckets_align_and_add_up():
    clock = BucketClock(60, ["door"], ["lobby"])
    t0 = 1_800_000_030.0
    times = [(t0 + k / 2, t0 + k / 2) for k in range(300)]  # 150 s at 2 fps: footage
    closed = feed(
        clock,
        times,
        crossings=lambda k: {"door": (1, 0) if k % 10 == 0 else (0, 0)},
        occupancy=lambda k: {"lobby": k % 4},
    )
    assert [b.start % 60 for b in closed] == [0, 0, 0]  # 30 s, 60 s and 60 s of frames
    assert sum(b.lines["door"][0] for b in closed) == 30
    assert all(b.zones["lobby"][1] == 3 for b in closed)
    assert closed[1].zones["lobby"][0] == pytest.approx(1.5)


def test_gap_skips_empty_buckets_and_flush_is_once():
    clock = BucketClock(10, ["door"], [])
    assert clock.add({"door": (1, 0)}, {}, clock=100.0, wall=100.0) == []
    closed = clock.add({"door": (0, 2)}, {}, clock=1000.0, wall=1000.0)
    assert len(closed) == 1 and closed[0].start == 100.0 and closed[0].end == 110.0
    final = clock.flush()
    assert final is not None and final.lines["door"] == (0, 2) and final.start == 1000.0
    assert clock.flush() is None


def test_bucket_length_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        BucketClock(0, [], [])


WALL0 = 1_800_000_000.0  # a multiple of 60
MONO0 = 5_000.0  # a monotonic clock's origin is arbitrary


@pytest.mark.parametrize("step", [-3600.0, +3600.0, -30.0, +7.5])
def test_a_wall_clock_step_neither_holds_a_bucket_open_nor_leaves_a_gap(step):
    """Frames at 10 fps for 5 minutes; the wall clock is stepped 100 s in."""
    times = []
    for k in range(3000):
        mono = MONO0 + k / 10
        wall = WALL0 + k / 10 + (step if k >= 1000 else 0.0)
        times.append((mono, wall))
    clock = BucketClock(60, ["door"], [])
    closed = feed(clock, times, crossings=lambda k: {"door": (1, 0)})
    frames = [b.frames for b in closed]
    assert frames[:2] == [600, 600]  # the bucket the step fell in still closed on time
    assert all(0 < n <= 600 for n in frames)  # none held open, none empty
    assert sum(frames) == 3000 and sum(b.lines["door"][0] for b in closed) == 3000
    starts = [b.start for b in closed]
    assert starts[:2] == [WALL0, WALL0 + 60]
    # After it, labels follow the new wall time on the minute grid, one after another;
    # the first may be short, to meet the grid again.
    assert starts[2] == WALL0 + 60 * ((120 + step) // 60)
    assert starts[3:] == [starts[2] + 60 * i for i in range(1, len(starts) - 2)]
    assert frames[2] == 10 * (starts[2] + 60 - (WALL0 + 120 + step))


def test_a_wall_clock_that_slews_keeps_the_grid_without_repeating_a_label():
    """Wall time 0.05 % slow against the clock for an hour: no label twice, none skipped."""
    times = [(MONO0 + k, WALL0 + k * 0.9995) for k in range(3600)]
    closed = feed(BucketClock(60, [], []), times)
    starts = [b.start for b in closed]
    assert starts == [WALL0 + 60 * i for i in range(len(starts))]
    assert all(b.frames in (60, 61) for b in closed[:-1])
