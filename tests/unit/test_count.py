"""Line and zone counters as tables of trajectories, plus properties."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.config import LineConfig, ZoneConfig
from edge.count import Counters, LineCounter, ZoneCounter
from edge.links import LinkSettings, TrackLinks
from tests.fakes.core import box_at

LINE = LineConfig(name="door", points=((0.2, 0.5), (0.8, 0.5)), inside=(0.5, 0.9))


def tracks_of(points, ids=None, height=0.2):
    """One frame of the tracker's confirmed tracks, before its links stage."""
    ids = list(range(len(points))) if ids is None else ids
    boxes = [box_at(x, y, height) for x, y in points]
    return (
        np.asarray(ids, np.int64),
        np.asarray(boxes, np.float32).reshape(-1, 4),
        np.zeros(len(ids), bool),
    )


NOBODY = tracks_of([])


class Linked:
    """A counter fed as the tracker feeds it: each frame's tracks through the tracker's
    links stage (which re-finds broken tracks), with the tracker's memory in seconds."""

    def __init__(self, counter, memory=2.0):
        self.counter = counter
        self.links = TrackLinks(LinkSettings(), memory)

    def update(self, raw, t):
        return self.counter.update(self.links.update(*raw, t), t)

    def __getattr__(self, name):
        return getattr(self.counter, name)


def door(line=LINE, memory=2.0):
    return Linked(LineCounter(line), memory)


def run_path(counter, path, track_id=1, t0=0.0, fps=10.0, height=0.2):
    for k, (x, y) in enumerate(path):
        counter.update(tracks_of([(x, y)], [track_id], height), t0 + k / fps)
    counter.update(NOBODY, t0 + len(path) / fps)
    return counter.total_in, counter.total_out


def straight(a, b, n=20):
    return [(a[0] + (b[0] - a[0]) * s, a[1] + (b[1] - a[1]) * s) for s in np.linspace(0, 1, n)]


@pytest.mark.parametrize(
    ("name", "path", "expected"),
    [
        ("walk in", straight((0.5, 0.2), (0.5, 0.9)), (1, 0)),
        ("walk out", straight((0.5, 0.9), (0.5, 0.2)), (0, 1)),
        ("diagonal in", straight((0.3, 0.2), (0.7, 0.9)), (1, 0)),
        ("outside the segment", straight((0.95, 0.2), (0.95, 0.9)), (0, 0)),
        ("beside the left end", straight((0.1, 0.2), (0.15, 0.9)), (0, 0)),
        (
            "turn before the line",
            straight((0.5, 0.2), (0.5, 0.49)) + straight((0.5, 0.49), (0.5, 0.2)),
            (0, 0),
        ),
        (
            "step over and back inside the band",
            straight((0.5, 0.2), (0.5, 0.53)) + straight((0.5, 0.53), (0.5, 0.2)),
            (0, 0),
        ),
        (
            "in then out",
            straight((0.5, 0.2), (0.5, 0.9)) + straight((0.5, 0.9), (0.5, 0.2)),
            (1, 1),
        ),
        ("walk along the line", straight((0.2, 0.5), (0.8, 0.51)), (0, 0)),
        ("born inside the band then in", straight((0.5, 0.5), (0.5, 0.9)), (0, 0)),
    ],
)
def test_line_counter_table(name, path, expected):
    assert run_path(door(), path) == expected, name


def test_inside_point_decides_direction():
    flipped = LineConfig(name="door", points=((0.2, 0.5), (0.8, 0.5)), inside=(0.5, 0.1))
    assert run_path(door(flipped), straight((0.5, 0.2), (0.5, 0.9))) == (0, 1)


def test_track_broken_at_the_line_counts_once():
    """Track 1 walks up to the line and vanishes; track 2 appears beyond it and walks on."""
    counter = door()
    path = straight((0.5, 0.2), (0.5, 0.9), 30)
    for k, (x, y) in enumerate(path):
        if 0.44 <= y <= 0.58:
            tracks = NOBODY  # the detector lost the person on the line
        else:
            tracks = tracks_of([(x, y)], [1 if y < 0.5 else 2])
        counter.update(tracks, k / 10)
    assert (counter.total_in, counter.total_out) == (1, 0)


@pytest.mark.parametrize(("memory", "expected"), [(2.0, (1, 0)), (1.0, (0, 0))])
def test_a_track_refound_after_a_long_occlusion_keeps_its_side(memory, expected):
    """Track 1 is hidden just before the line for 2 s (out of the tracker's output) and
    comes back under its own id past it, 2.1 s after its last detection: too late for a
    new track to carry it on, but while a tracker that remembers lost tracks for 2 s
    (plus a frame) may re-find it, it keeps its side and is counted."""
    counter = door(memory=memory)
    path = straight((0.5, 0.3), (0.5, 0.45), 10)
    for k, p in enumerate(path):
        counter.update(tracks_of([p], [1]), k / 10)
    t0 = len(path) / 10
    for k in range(20):
        counter.update(NOBODY, t0 + k / 10)
    t1 = t0 + 2.0
    for k, p in enumerate(straight((0.5, 0.62), (0.5, 0.8), 10)):
        counter.update(tracks_of([p], [1]), t1 + k / 10)
    assert (counter.total_in, counter.total_out) == expected


def _walk_then_vanish(path, track_id=1, t0=0.0, heights=None):
    counter = door()
    for k, p in enumerate(path):
        height = 0.2 if heights is None else heights[k]
        counter.update(tracks_of([p], [track_id], height), t0 + k / 10)
    end = t0 + len(path) / 10
    for k in range(30):  # nobody takes over
        counter.update(NOBODY, end + k / 10)
    return counter


def test_a_track_that_ends_walking_over_the_line_counts_its_crossing_once():
    # The band is 0.03 either side of y=0.5: the person is last seen 0.02 past the line,
    # not yet beyond the band, walking on, when the tracker loses them for good.
    path = straight((0.5, 0.3), (0.5, 0.52), 12)
    counter = _walk_then_vanish(path)
    assert (counter.total_in, counter.total_out) == (1, 0)
    # Someone continuing where its motion predicts takes the far side: not counted again.
    counter = door()
    for k, p in enumerate(path):
        counter.update(tracks_of([p], [1]), k / 10)
    t = len(path) / 10
    for k, p in enumerate(straight((0.5, 0.55), (0.5, 0.8), 10)):
        counter.update(tracks_of([p], [2]), t + 0.3 + k / 10)
    assert (counter.total_in, counter.total_out) == (1, 0)


@pytest.mark.parametrize(
    "path",
    [
        # stops on the line, just past it, then is lost
        straight((0.5, 0.3), (0.5, 0.52), 12) + [(0.5, 0.52)] * 25,
        # turns back on the line, then is lost
        straight((0.5, 0.3), (0.5, 0.52), 12) + straight((0.5, 0.52), (0.5, 0.505), 3),
        # only reached the band's own half on the far side
        straight((0.5, 0.3), (0.5, 0.51), 12),
        # jumps onto a box past the line, far faster than anyone walks
        [(0.5, 0.3)] * 10 + [(0.5, 0.52)],
    ],
    ids=["stood", "turned", "barely past", "jumped"],
)
def test_a_track_that_ends_on_the_line_without_walking_over_it_counts_nothing(path):
    counter = _walk_then_vanish(path)
    assert (counter.total_in, counter.total_out) == (0, 0)


def test_a_track_that_ends_on_a_box_of_another_size_past_the_line_counts_nothing():
    # A walk that ends 0.025 past the line (inside the band), but on a box half as tall
    # again as the walker's: the track took someone else's box past the line.
    path = straight((0.5, 0.3), (0.5, 0.525), 12)
    for last, expected in ((0.2, (1, 0)), (0.3, (0, 0))):
        counter = _walk_then_vanish(path, heights=[0.2] * 11 + [last])
        assert (counter.total_in, counter.total_out) == expected


def test_new_track_behind_a_leaving_person_inherits_nothing():
    """A track is only carried on where its motion predicts; a stranger starts fresh."""
    counter = door()
    walk_in = straight((0.5, 0.2), (0.5, 0.8), 20)
    for k, p in enumerate(walk_in):
        counter.update(tracks_of([p], [1]), k / 10)
    # person 1 vanishes inside; person 2 shows up outside, far behind, and walks in
    t0 = len(walk_in) / 10
    for k, p in enumerate(straight((0.5, 0.2), (0.5, 0.8), 20)):
        counter.update(tracks_of([p], [2]), t0 + k / 10)
    assert (counter.total_in, counter.total_out) == (2, 0)


def test_reset_zeroes_totals_but_keeps_sides():
    counter = door()
    path = straight((0.5, 0.2), (0.5, 0.9))
    for k, p in enumerate(path):
        counter.update(tracks_of([p], [7]), k / 10)
    counter.reset()
    counter.update(tracks_of([(0.5, 0.91)], [7]), 3.0)
    assert (counter.total_in, counter.total_out) == (0, 0)


def test_zone_occupancy_counts_feet_inside():
    zone = ZoneCounter(ZoneConfig(name="lobby", polygon=[(0, 0.5), (1, 0.5), (1, 1), (0, 1)]))
    links = TrackLinks(LinkSettings(), 2.0)
    assert zone.update(links.update(*tracks_of([(0.5, 0.6), (0.5, 0.4), (0.1, 0.99)]), 0.0)) == 2
    assert zone.update(links.update(*NOBODY, 0.1)) == 0


def test_counters_reset_named_lines():
    other = LineConfig(name="side", points=((0.5, 0.0), (0.5, 1.0)), inside=(0.9, 0.5))
    counters = Linked(Counters([LINE, other], []))
    for k, p in enumerate(straight((0.3, 0.2), (0.7, 0.9))):
        counters.update(tracks_of([p], [1]), k / 10)
    assert counters.totals() == {"door": (1, 0), "side": (1, 0)}
    assert counters.reset(["side"]) == ["side"]
    assert counters.totals() == {"door": (1, 0), "side": (0, 0)}


xs = st.floats(0.3, 0.7)
far_out = st.floats(0.05, 0.3)
far_in = st.floats(0.7, 0.95)


@settings(max_examples=60, deadline=None)
@given(xs, xs, far_out, far_in, st.integers(6, 40))
def test_property_one_crossing_counts_once_and_reversal_swaps(x0, x1, y0, y1, n):
    path = straight((x0, y0), (x1, y1), n)
    assert run_path(door(), path) == (1, 0)
    assert run_path(door(), path[::-1]) == (0, 1)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-1, 1), st.floats(-1, 1)), min_size=5, max_size=80), xs)
def test_property_jitter_below_hysteresis_counts_nothing(noise, x):
    # While tracked. (A track that ends clearly past the line, walking on, is counted:
    # see test_a_track_that_ends_walking_over_the_line_counts_its_crossing_once.)
    band = LINE.hysteresis * 0.2  # the boxes are 0.2 high
    path = [(x + 0.02 * dx, 0.5 + 0.99 * band * dy) for dx, dy in noise]
    path = [(0.5, 0.2)] + path  # committed outside first
    counter = door()
    for k, (px, py) in enumerate(path):
        counter.update(tracks_of([(px, py)], [1]), k / 10)
    assert (counter.total_in, counter.total_out) == (0, 0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)), min_size=2, max_size=60))
def test_property_totals_never_decrease(points):
    counter = door()
    last = (0, 0)
    for k, p in enumerate(points):
        counter.update(tracks_of([p], [k % 3]), k / 10)
        now = (counter.total_in, counter.total_out)
        assert now[0] >= last[0] and now[1] >= last[1]
        last = now


def test_finish_counts_a_crossing_under_way_when_the_footage_ends():
    counter = door()
    path = straight((0.5, 0.2), (0.5, 0.54), 18)  # only the last is beyond the band (0.53)
    for k, p in enumerate(path):
        counter.update(tracks_of([p], [1]), k / 10)
    assert (counter.total_in, counter.total_out) == (0, 0)  # one detection is not enough
    finished = counter.finish()
    assert (finished.in_, finished.out) == (1, 0)
    assert (counter.total_in, counter.total_out) == (1, 0)
    assert counter.finish() == type(finished)(0, 0)  # counted once


def test_finish_counts_someone_walking_over_the_line_when_the_footage_ends():
    counter = door()
    path = straight((0.5, 0.2), (0.5, 0.51), 20)  # just past the line, inside the band
    for k, p in enumerate(path):
        counter.update(tracks_of([p], [1]), k / 10)
    assert (counter.total_in, counter.total_out) == (0, 0)
    finished = counter.finish()
    assert (finished.in_, finished.out) == (1, 0)


@pytest.mark.parametrize(
    ("last", "stand_frames"),
    [(0.51, 30), (0.49, 0), (0.49, 30)],
    ids=["stood on the line past it", "stopped short of it", "stood short of it"],
)
def test_finish_counts_nothing_for_someone_standing_on_the_line(last, stand_frames):
    counter = door()
    path = straight((0.5, 0.2), (0.5, last), 20) + [(0.5, last)] * stand_frames
    for k, p in enumerate(path):
        counter.update(tracks_of([p], [1]), k / 10)
    finished = counter.finish()
    assert (finished.in_, finished.out) == (0, 0)
