"""Metric functions on hand-made cases."""

from __future__ import annotations

import pytest

from lab.bench.metrics import (
    Event,
    LineScore,
    Matching,
    SceneScore,
    count_accuracy,
    match_events,
    occupancy_mae,
)


@pytest.mark.parametrize(
    ("counted", "true", "expected"),
    [
        (10, 10, 1.0),
        (9, 10, 0.9),
        (11, 10, 0.9),
        (0, 10, 0.0),
        (25, 10, 0.0),  # floored: more than twice the truth is no better than nothing
        (0, 0, 1.0),  # nobody crossed and nothing was counted
        (1, 0, 0.0),  # nobody crossed but something was counted
    ],
)
def test_count_accuracy(counted: int, true: int, expected: float) -> None:
    assert count_accuracy(counted, true) == pytest.approx(expected)


def test_count_accuracy_refuses_negative_counts() -> None:
    with pytest.raises(ValueError, match="counts must be >= 0"):
        count_accuracy(-1, 3)


def ev(frame: int, direction: str = "in", line: str = "door") -> Event:
    return Event(line, direction, frame)


def test_every_true_crossing_counted_once_matches_all() -> None:
    truth = [ev(10), ev(50), ev(90, "out")]
    counted = [ev(12), ev(49), ev(93, "out")]
    assert match_events(counted, truth, tolerance=5) == Matching(3, 0, 0)


def test_a_person_counted_twice_is_one_double_count() -> None:
    truth = [ev(10)]
    counted = [ev(10), ev(14)]
    assert match_events(counted, truth, tolerance=20) == Matching(1, 1, 0)


def test_loitering_counts_without_a_crossing_are_double_counts() -> None:
    counted = [ev(5, "in"), ev(9, "out"), ev(30, "in"), ev(33, "out")]
    assert match_events(counted, [], tolerance=20) == Matching(0, 4, 0)


def test_missed_crossings() -> None:
    truth = [ev(10), ev(100), ev(200)]
    counted = [ev(101)]
    assert match_events(counted, truth, tolerance=20) == Matching(1, 0, 2)


def test_wrong_direction_is_both_a_double_count_and_a_miss() -> None:
    assert match_events([ev(10, "out")], [ev(10, "in")], tolerance=20) == Matching(0, 1, 1)


def test_other_line_does_not_match() -> None:
    assert match_events([ev(10, line="b")], [ev(10, line="a")], 20) == Matching(0, 1, 1)


def test_outside_the_tolerance_does_not_match() -> None:
    assert match_events([ev(31)], [ev(10)], tolerance=20) == Matching(0, 1, 1)
    assert match_events([ev(30)], [ev(10)], tolerance=20) == Matching(1, 0, 0)


def test_nearest_pairs_first() -> None:
    """12 is nearer 14 than 5 is; 5 then still finds 2, so both match."""
    truth = [ev(2), ev(14)]
    counted = [ev(5), ev(12)]
    assert match_events(counted, truth, tolerance=10) == Matching(2, 0, 0)
    # With only one truth, the nearer count takes it and the other is the double count.
    assert match_events([ev(5), ev(13)], [ev(14)], tolerance=10) == Matching(1, 1, 0)


def test_negative_tolerance_is_refused() -> None:
    with pytest.raises(ValueError, match="tolerance"):
        match_events([], [], tolerance=-1)


def test_occupancy_mae() -> None:
    assert occupancy_mae([1, 2, 3, 0], [1, 1, 5, 0]) == pytest.approx(0.75)
    assert occupancy_mae([], []) == 0.0
    with pytest.raises(ValueError, match="one count per frame"):
        occupancy_mae([1], [1, 2])


def score(lines: tuple[LineScore, ...], zones: dict[str, float] | None = None) -> SceneScore:
    return SceneScore("s", "sys", lines, zones or {}, Matching(0, 0, 0), 10, 0.0)


def test_scene_accuracy_pools_lines_and_directions() -> None:
    s = score((LineScore("a", 10, 10, 9, 10), LineScore("b", 5, 5, 5, 6)))
    # |9-10| + |6-5| = 2 errors over 30 true crossings.
    assert s.line_accuracy == pytest.approx(1 - 2 / 30)
    assert s.min_direction_accuracy == pytest.approx(0.8)


def test_scene_accuracy_with_no_true_crossing() -> None:
    assert score((LineScore("a", 0, 0, 0, 0),)).line_accuracy == 1.0
    assert score((LineScore("a", 0, 0, 1, 0),)).line_accuracy == 0.0
    assert score(()).line_accuracy is None
    assert score(()).occupancy_mae is None


def test_scene_occupancy_is_the_mean_over_zones() -> None:
    assert score((), {"a": 0.5, "b": 1.5}).occupancy_mae == pytest.approx(1.0)
