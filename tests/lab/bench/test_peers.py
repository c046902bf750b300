"""Each system counts like ours on clean single walkers; the peers' conventions are mapped."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from edge.config import LineConfig, ZoneConfig
from edge.detections import Detections
from lab.bench.accuracy import detection_stream, run_system
from lab.bench.peers import (
    CountingSystem,
    HeadcountSystem,
    NorfairSystem,
    PlainLine,
    SupervisionSystem,
    supervision_line_ends,
)
from lab.sim.scene import Scene, scene_from_dict

Factory = Callable[[Scene], CountingSystem]

SYSTEMS: dict[str, Factory] = {
    "headcount": lambda s: HeadcountSystem(s.config()),
    "supervision": lambda s: SupervisionSystem(s.lines, s.zones, s.size, s.fps),
    "norfair": lambda s: NorfairSystem(s.lines, s.zones, s.size, distance_threshold=24.0),
}


def walker(path: list[list[float]], inside: list[float]) -> Scene:
    """One person, perfect detections, walking `path` over 7 s across a door line."""
    return scene_from_dict(
        {
            "fps": 10,
            "duration": 10,
            "seed": 3,
            "lines": [{"name": "door", "points": [[0.1, 0.55], [0.9, 0.55]], "inside": inside}],
            "zones": [{"name": "room", "polygon": [[0, 0.55], [1, 0.55], [1, 1], [0, 1]]}],
            "faults": {"partial_rate": 0.0},
            "people": [{"times": [1.0, 8.0], "path": path}],
        },
        "walker",
    )


DOWN = [[0.5, 0.15], [0.5, 0.95]]
UP = [[0.5, 0.95], [0.5, 0.15]]


@pytest.mark.parametrize("system", sorted(SYSTEMS))
@pytest.mark.parametrize(
    ("path", "inside", "expected"),
    [
        (DOWN, [0.5, 0.9], (1, 0)),  # towards the inside point: in
        (UP, [0.5, 0.9], (0, 1)),
        (DOWN, [0.5, 0.1], (0, 1)),  # the same walk with 'inside' on the other side
        (UP, [0.5, 0.1], (1, 0)),
    ],
)
def test_a_single_walker_counts_in_our_direction(
    peers: dict[str, str],
    system: str,
    path: list[list[float]],
    inside: list[float],
    expected: tuple[int, int],
) -> None:
    scene = walker(path, inside)
    truth = scene.ground_truth()["door"]
    assert (truth["in"], truth["out"]) == expected
    score = run_system(detection_stream(scene, "clean"), SYSTEMS[system](scene))
    (line,) = score.lines
    assert (line.counted_in, line.counted_out) == expected
    assert score.matching.double_counts == 0
    assert score.matching.missed == 0


@pytest.mark.parametrize(
    ("points", "inside", "flipped"),
    [
        (((0.1, 0.5), (0.9, 0.5)), (0.5, 0.9), True),
        (((0.1, 0.5), (0.9, 0.5)), (0.5, 0.1), False),
        (((0.9, 0.5), (0.1, 0.5)), (0.5, 0.9), False),
    ],
)
def test_supervision_line_ends_put_our_inside_on_its_in_side(
    points: tuple[tuple[float, float], tuple[float, float]],
    inside: tuple[float, float],
    flipped: bool,
) -> None:
    line = LineConfig(name="door", points=points, inside=inside)
    start, end = supervision_line_ends(line)
    assert (start, end) == ((points[1], points[0]) if flipped else points)


def test_supervision_does_not_count_unconfirmed_tracks(peers: dict[str, str]) -> None:
    """ByteTrack gives a new track id -1 until it is confirmed; it must not be counted."""
    zone = ZoneConfig(name="room", polygon=[(0, 0), (1, 0), (1, 1), (0, 1)])
    system = SupervisionSystem([], [zone], (320, 240), 10.0)
    box = Detections.from_arrays([[0.4, 0.4, 0.5, 0.7]], [0.9])
    occupancy = [system.update(box, 1.0 + i / 10).occupancy["room"] for i in range(4)]
    assert occupancy == [0, 1, 1, 1]


LINE = LineConfig(name="door", points=((0.2, 0.5), (0.8, 0.5)), inside=(0.5, 0.9))


@pytest.mark.parametrize(
    ("xs", "ys", "expected"),
    [
        ([0.5, 0.5], [0.4, 0.6], (1, 0)),
        ([0.5, 0.5], [0.6, 0.4], (0, 1)),
        ([0.9, 0.9], [0.4, 0.6], (0, 0)),  # beside the segment's end
        ([0.5, 0.5, 0.5], [0.4, 0.5, 0.4], (0, 0)),  # touches the line and goes back
        ([0.5, 0.5, 0.5], [0.4, 0.5, 0.6], (1, 0)),  # through the line via a point on it
    ],
)
def test_plain_line_test(xs: list[float], ys: list[float], expected: tuple[int, int]) -> None:
    line = PlainLine(LINE)
    total = np.zeros(2, int)
    for x, y in zip(xs, ys):
        total += line.update([7], np.asarray([[x, y]]))
    assert tuple(total) == expected
