"""Scenes: exact ground truth on hand-made trajectories, determinism, the shipped library."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.config import Config
from lab.sim.scene import MIN_VISIBLE, Scene, SceneError, load_scene, scene_from_dict, scene_names

# The door: a horizontal segment at y = 0.5 from x = 0.2 to 0.8; "in" is below it.
DOOR = {"name": "door", "points": [[0.2, 0.5], [0.8, 0.5]], "inside": [0.5, 0.9]}
ROOM = {"name": "room", "polygon": [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]]}


def scene_of(*people: dict[str, object], duration: float = 10.0, **extra: object) -> Scene:
    data: dict[str, object] = {
        "fps": 10,
        "duration": duration,
        "lines": [DOOR],
        "zones": [ROOM],
        "people": list(people),
    }
    data.update(extra)
    return scene_from_dict(data, "test")


def walk(path: list[list[float]], times: list[float] | None = None) -> dict[str, object]:
    return {"times": times or [float(k) for k in range(len(path))], "path": path}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param([[0.5, 0.3], [0.5, 0.7]], {"in": 1, "out": 0}, id="down-through-door-is-in"),
        pytest.param([[0.5, 0.7], [0.5, 0.3]], {"in": 0, "out": 1}, id="reversed-is-out"),
        pytest.param([[0.5, 0.3], [0.5, 0.45], [0.5, 0.3]], {"in": 0, "out": 0}, id="turn-before"),
        pytest.param([[0.5, 0.3], [0.5, 0.5], [0.5, 0.3]], {"in": 0, "out": 0}, id="touch-back"),
        pytest.param(
            [[0.5, 0.3], [0.5, 0.5], [0.5, 0.5], [0.5, 0.7]], {"in": 1, "out": 0}, id="stop-on"
        ),
        pytest.param([[0.9, 0.3], [0.9, 0.7]], {"in": 0, "out": 0}, id="outside-segment"),
        pytest.param([[0.1, 0.3], [0.1, 0.7]], {"in": 0, "out": 0}, id="outside-other-end"),
        pytest.param([[0.8, 0.3], [0.8, 0.7]], {"in": 1, "out": 0}, id="at-the-end-point"),
        pytest.param([[0.3, 0.3], [0.9, 0.7]], {"in": 1, "out": 0}, id="diagonal-in-segment"),
        pytest.param([[0.5, 0.3], [0.5, 0.7], [0.5, 0.3]], {"in": 1, "out": 1}, id="in-and-back"),
        pytest.param(
            [[0.9, 0.3], [0.9, 0.7], [0.5, 0.7], [0.5, 0.3]],
            {"in": 0, "out": 1},
            id="around-the-end-then-out",
        ),
        pytest.param([[0.1, 0.5], [0.9, 0.5]], {"in": 0, "out": 0}, id="along-the-line"),
    ],
)
def test_line_ground_truth_of_a_single_path(
    path: list[list[float]], expected: dict[str, int]
) -> None:
    assert scene_of(walk(path)).ground_truth() == {"door": expected}


def test_crossing_belongs_to_the_first_frame_at_or_after_it() -> None:
    scene = scene_of(walk([[0.5, 0.3], [0.5, 0.7]], [0.0, 4.0]))  # reaches y=0.5 at t=2.0
    (crossing,) = scene.crossings
    assert crossing.time == pytest.approx(2.0)
    assert crossing.frame == 20
    assert scene.ground_truth(until_frame=19) == {"door": {"in": 0, "out": 0}}
    assert scene.ground_truth(until_frame=20) == {"door": {"in": 1, "out": 0}}


def test_a_crossing_after_the_last_frame_is_not_counted() -> None:
    # 10 frames: t = 0.0 .. 0.9; the line is reached at t = 1.0.
    scene = scene_of(walk([[0.5, 0.3], [0.5, 0.7]], [0.0, 2.0]), duration=1.0)
    assert scene.frames == 10
    assert scene.ground_truth() == {"door": {"in": 0, "out": 0}}


def test_truth_boxes_come_from_feet_height_and_aspect() -> None:
    person = {"times": [0.0, 1.0], "path": [[0.4, 0.6], [0.6, 0.8]], "height": 0.2, "aspect": 0.5}
    scene = scene_of(person)
    ids, boxes = scene.truth_boxes(5)  # t = 0.5: feet (0.5, 0.7)
    assert ids.tolist() == [0]
    np.testing.assert_allclose(boxes, [[0.45, 0.5, 0.55, 0.7]], atol=1e-6)
    assert boxes.dtype == np.float32
    assert len(scene.truth_boxes(11)[0]) == 0  # after the last waypoint the person is gone


def test_boxes_are_clipped_and_mostly_hidden_people_are_not_visible() -> None:
    h = 0.2
    # Feet at y = 0.1: the box spans -0.1..0.1, half inside -> visible, clipped at 0.
    # Feet at y = 0.04: 20% inside, below MIN_VISIBLE -> not visible.
    assert MIN_VISIBLE > 0.2
    scene = scene_of(
        {"times": [0.0, 1.0], "path": [[0.5, 0.1], [0.5, 0.1]], "height": h},
        {"times": [0.0, 1.0], "path": [[0.2, 0.04], [0.2, 0.04]], "height": h},
    )
    ids, boxes = scene.truth_boxes(0)
    assert ids.tolist() == [0]
    assert boxes[0, 1] == 0.0
    assert boxes[0, 3] == pytest.approx(0.1)


def test_occupancy_counts_feet_inside_each_zone() -> None:
    scene = scene_of(
        walk([[0.5, 0.3], [0.5, 0.7]], [0.0, 4.0]),  # enters the room (y > 0.5) after t = 2
        walk([[0.1, 0.9], [0.1, 0.9]], [0.0, 9.0]),  # stands in the room
    )
    assert scene.occupancy(0) == {"room": 1}
    assert scene.occupancy(30) == {"room": 2}
    assert scene.occupancy(45) == {"room": 1}  # the walker's path ended at t = 4
    assert scene.occupancy(5000) == {"room": 0}


GENERATED = {
    "fps": 10,
    "duration": 60,
    "lines": [DOOR],
    "generators": [
        {
            "kind": "walk",
            "count": 12,
            "from": [[0.3, 0.1], [0.7, 0.1]],
            "to": [[0.3, 0.9], [0.7, 0.9]],
            "group": [1, 3],
            "reverse": 0.5,
        },
        {"kind": "wander", "count": 3, "region": [0.1, 0.6, 0.9, 0.9]},
    ],
}


def test_generated_scenes_are_deterministic_from_the_seed() -> None:
    a = scene_from_dict({**GENERATED, "seed": 7})
    b = scene_from_dict({**GENERATED, "seed": 7})
    c = scene_from_dict({**GENERATED, "seed": 8})
    assert len(a.people) == len(b.people) == 15
    for p, q in zip(a.people, b.people, strict=True):
        np.testing.assert_array_equal(p.path, q.path)
        np.testing.assert_array_equal(p.times, q.times)
    assert a.crossings == b.crossings
    assert any(not np.array_equal(p.path, q.path) for p, q in zip(a.people, c.people, strict=True))


def test_every_generated_walker_through_the_door_is_counted_once() -> None:
    scene = scene_from_dict({**GENERATED, "seed": 3})
    truth = scene.ground_truth()["door"]
    walkers = 12
    assert truth["in"] + truth["out"] == walkers
    assert 0 < truth["in"] < walkers  # reverse = 0.5 gives both directions


@settings(max_examples=60, deadline=None)
@given(
    x0=st.floats(0.0, 1.0),
    x1=st.floats(0.0, 1.0),
    y0=st.floats(0.05, 0.45),
    y1=st.floats(0.55, 0.95),
)
def test_a_straight_pass_counts_once_iff_it_meets_the_segment(
    x0: float, x1: float, y0: float, y1: float
) -> None:
    f = (0.5 - y0) / (y1 - y0)
    x_at_line = x0 + f * (x1 - x0)
    if abs(x_at_line - 0.2) < 1e-6 or abs(x_at_line - 0.8) < 1e-6:
        return
    hits = int(0.2 < x_at_line < 0.8)
    down = scene_of(walk([[x0, y0], [x1, y1]]))
    up = scene_of(walk([[x1, y1], [x0, y0]]))
    assert down.ground_truth() == {"door": {"in": hits, "out": 0}}
    assert up.ground_truth() == {"door": {"in": 0, "out": hits}}


def test_config_for_a_scene_is_a_valid_sensor_config() -> None:
    scene = scene_of(walk([[0.5, 0.3], [0.5, 0.7]]))
    config = scene.config()
    assert isinstance(config, Config)
    assert config.sensor.id == "sim"
    assert config.source.uri == "synthetic:test"
    assert [line.name for line in config.lines] == ["door"]
    assert [zone.name for zone in config.zones] == ["room"]
    assert scene.config(publish={"bucket_seconds": 5}).publish.bucket_seconds == 5


def test_unknown_scene_names_the_choices() -> None:
    with pytest.raises(SceneError, match=r"unknown scene 'nope'; use one of: .*door_single"):
        load_scene("nope")


def test_missing_scene_path_says_so(tmp_path: Path) -> None:
    with pytest.raises(SceneError, match="does not exist"):
        load_scene(tmp_path / "absent.toml")


def test_bad_scene_file_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        "fps = 10\nduration = 5\nspeed = 3\n[[people]]\ntimes = [0]\npath = [[0.1, 0.2]]\n"
    )
    with pytest.raises(SceneError, match=r"bad.toml: speed: unknown key"):
        load_scene(path)
    path.write_text("fps = 10\nduration = 5\n[[people]]\ntimes = [0, 1]\npath = [[0.1, 0.2]]\n")
    with pytest.raises(SceneError, match="times and path must have the same length"):
        load_scene(str(path))


def test_a_wrong_expected_ground_truth_fails_the_load() -> None:
    with pytest.raises(SceneError, match="has 1 true 'in' crossings but the file expects 2"):
        scene_of(walk([[0.5, 0.3], [0.5, 0.7]]), expected={"door": {"in": 2}})


@pytest.mark.parametrize("name", scene_names())
def test_every_shipped_scene_loads_with_its_expected_truth(name: str) -> None:
    scene = load_scene(name)
    assert scene.frames > 0
    assert scene.people
    assert scene.lines or scene.zones
    scene.config()


def test_the_library_covers_the_scenarios() -> None:
    assert {
        "door_single",
        "door_groups",
        "turn_back",
        "loiter_line",
        "line_ends",
        "border",
        "crowd",
        "quiet",
    } <= set(scene_names())


def test_the_crowd_is_dense() -> None:
    scene = load_scene("crowd")
    assert max(len(scene.truth_boxes(i)[0]) for i in range(scene.frames)) >= 30


def test_loitering_and_turning_back_cross_nothing() -> None:
    assert load_scene("loiter_line").ground_truth() == {"door": {"in": 0, "out": 0}}
    turn = load_scene("turn_back")
    # People 0-9 turn before the line, 10-14 stand on it; only 15-19 cross and come back.
    assert len(turn.people) == 20
    assert sorted({c.person for c in turn.crossings}) == list(range(15, 20))


def test_the_quiet_scene_is_empty_in_the_middle() -> None:
    scene = load_scene("quiet")
    assert scene.frames == 9000
    assert all(len(scene.present(i)[0]) == 0 for i in range(200, 8800, 50))


def test_line_ends_has_passes_just_outside_the_segment() -> None:
    scene = load_scene("line_ends")
    crossers = {c.person for c in scene.crossings}
    near_ends = [p for p in range(30) if p not in crossers]
    assert near_ends, "some passes near the ends must miss the segment"
    assert len(crossers) == 17
