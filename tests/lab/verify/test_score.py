"""The scorer against hand-computed tables of events: misses, doubles, spurious counts, edges."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lab.verify.score import Counted, Observed, OccupancyReading, accuracy, match, score
from lab.verify.truth import Crossing, OccupancySample

# (true times, counted times, tolerance) -> (matched, missed true times, doubles, spurious)
TABLES = [
    pytest.param([1.0, 5.0, 9.0], [1.2, 5.1, 8.5], 1.0, 3, [], [], [], id="all-matched"),
    pytest.param([1.0, 5.0, 9.0], [1.2, 8.5], 1.0, 2, [5.0], [], [], id="one-miss"),
    pytest.param([1.0, 5.0], [1.0, 1.4, 5.0], 1.0, 2, [], [1.4], [], id="double-count"),
    pytest.param([1.0, 5.0], [1.0, 3.0, 5.0], 1.0, 2, [], [], [3.0], id="spurious-between"),
    pytest.param([2.0], [3.0], 1.0, 1, [], [], [], id="edge-exactly-at-tolerance-after"),
    pytest.param([2.0], [1.0], 1.0, 1, [], [], [], id="edge-exactly-at-tolerance-before"),
    pytest.param([2.0], [3.01], 1.0, 0, [2.0], [], [3.01], id="edge-just-past-tolerance"),
    pytest.param([], [4.0, 4.2], 0.5, 0, [], [], [4.0, 4.2], id="nothing-true"),
    pytest.param([1.0, 1.5], [1.2], 1.0, 1, [1.5], [], [], id="two-true-one-count"),
    pytest.param([1.0, 1.5], [0.9, 1.1, 1.3], 0.5, 2, [], [1.3], [], id="three-counts-two-true"),
    pytest.param([10.0, 20.0, 30.0], [], 1.0, 0, [10.0, 20.0, 30.0], [], [], id="all-missed"),
]


@pytest.mark.parametrize(
    ("true", "counted", "tol", "matched", "misses", "doubles", "spurious"), TABLES
)
def test_event_tables(
    true: list[float],
    counted: list[float],
    tol: float,
    matched: int,
    misses: list[float],
    doubles: list[float],
    spurious: list[float],
) -> None:
    truth = [Crossing(t, "door", "in") for t in true]
    observed = Observed(("door",), (), tuple(Counted(c, "door", "in") for c in counted))
    result = score(truth, observed, tolerance_s=tol)
    door_in = result.lines[0]
    assert door_in.name == "door in"
    assert (door_in.true, door_in.counted, door_in.matched) == (len(true), len(counted), matched)
    assert list(door_in.misses) == misses
    assert list(door_in.doubles) == doubles
    assert list(door_in.spurious) == spurious


def test_match_is_greedy_in_time_order_and_maximal() -> None:
    # A late count for the first crossing must not steal the second crossing's count.
    pairs, missed, extra = match([1.0, 2.0], [1.9, 2.1], 1.0)
    assert pairs == [(0, 0), (1, 1)] and missed == [] and extra == []


@pytest.mark.parametrize(
    ("counted", "true", "expected"),
    [
        (100, 100, 1.0),
        (95, 100, 0.95),
        (105, 100, 0.95),
        (94, 100, 0.94),
        (0, 0, 1.0),
        (3, 0, 0.0),
        (0, 4, 0.0),
        (9, 4, -0.25),
    ],
)
def test_accuracy_formula(counted: int, true: int, expected: float) -> None:
    assert accuracy(counted, true) == pytest.approx(expected)


def test_min_accuracy_edge_passes_at_exactly_the_minimum() -> None:
    truth = [Crossing(float(t), "door", "in") for t in range(20)]
    counted = tuple(Counted(float(t), "door", "in") for t in range(19))  # 19 of 20 = 0.95
    result = score(truth, Observed(("door",), (), counted), min_accuracy=0.95)
    assert result.lines[0].accuracy == pytest.approx(0.95)
    assert result.lines[0].passed
    strict = score(truth, Observed(("door",), (), counted), min_accuracy=0.951)
    assert not strict.lines[0].passed and strict.failures == ["door in"]


def test_every_line_direction_is_scored_and_mean_is_over_them() -> None:
    truth = [Crossing(1.0, "A", "in"), Crossing(2.0, "A", "in"), Crossing(3.0, "B", "out")]
    counted = (Counted(1.0, "A", "in"), Counted(3.0, "B", "out"), Counted(4.0, "B", "out"))
    result = score(truth, Observed(("A", "B"), (), counted))
    by_name = {s.name: s for s in result.lines}
    assert list(by_name) == ["A in", "A out", "B in", "B out"]
    assert by_name["A in"].accuracy == 0.5 and by_name["A out"].accuracy == 1.0
    assert by_name["B out"].accuracy == 0.0  # 2 counted of 1 true
    assert result.mean_accuracy == pytest.approx((0.5 + 1.0 + 1.0 + 0.0) / 4)
    assert result.failures == ["A in", "B out"]


def test_latency_is_arrival_minus_true_time_for_matched_events() -> None:
    truth = [Crossing(t, "door", "in") for t in (1.0, 2.0, 3.0, 4.0)]
    counted = tuple(
        Counted(t + 0.1, "door", "in", arrival_s=t + lag)
        for t, lag in ((1.0, 0.2), (2.0, 0.4), (3.0, 0.6), (4.0, 1.0))
    )
    result = score(truth, Observed(("door",), (), counted))
    assert result.latencies == pytest.approx((0.2, 0.4, 0.6, 1.0))
    assert result.latency_percentile(50) == pytest.approx(0.5)
    assert result.latency_percentile(95) == pytest.approx(0.94)


def test_occupancy_mae_uses_the_reading_in_force_at_each_sample() -> None:
    readings = (
        OccupancyReading(0.0, {"room": 0}),
        OccupancyReading(2.0, {"room": 2}),
        OccupancyReading(5.0, {"room": 1}),
    )
    samples = [
        OccupancySample(1.0, "room", 0),  # reading 0 -> error 0
        OccupancySample(2.0, "room", 1),  # reading at 2.0 is in force -> error 1
        OccupancySample(4.9, "room", 3),  # reading 2 -> error 1
        OccupancySample(6.0, "room", 1),  # reading 1 -> error 0
    ]
    result = score([], Observed((), ("room",), (), readings), occupancy=samples)
    assert result.occupancy_mae == {"room": pytest.approx(0.5)}


times = st.lists(st.floats(0, 600, allow_nan=False).map(lambda t: round(t, 2)), max_size=30)


@given(true=times, counted=times, tol=st.floats(0.1, 5))
def test_every_event_is_matched_missed_or_extra_once(
    true: list[float], counted: list[float], tol: float
) -> None:
    truth = [Crossing(t, "door", "in") for t in true]
    observed = Observed(("door",), (), tuple(Counted(c, "door", "in") for c in counted))
    s = score(truth, observed, tolerance_s=tol).lines[0]
    assert s.matched + len(s.misses) == len(true)
    assert s.matched + len(s.doubles) + len(s.spurious) == len(counted)
    assert s.matched <= min(len(true), len(counted))


@given(true=times, shift=st.floats(-0.99, 0.99))
def test_a_perfect_counter_shifted_within_tolerance_matches_everything(
    true: list[float], shift: float
) -> None:
    truth = [Crossing(t, "door", "out") for t in true]
    counted = tuple(Counted(t + shift, "door", "out") for t in true)
    s = score(truth, Observed(("door",), (), counted), tolerance_s=1.0).lines[1]
    assert s.name == "door out"
    assert s.matched == len(true) and not s.misses and not s.doubles and not s.spurious
    assert s.accuracy == 1.0
