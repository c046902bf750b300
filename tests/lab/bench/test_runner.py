"""The benchmark's own machinery: shared streams, fault profiles, rendering, a quick run."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np

from edge.frames import Frame
from edge.gate import MotionGate
from lab.bench.accuracy import detection_stream, run_system, stress_faults
from lab.bench.gating import draw_people, noisy_frames
from lab.bench.peers import HeadcountSystem
from lab.bench.runner import dense_scene
from lab.sim.scene import load_scene
from tests.lab.conftest import run_installed


def test_stress_faults_are_the_issue_target_and_never_milder_than_the_scene() -> None:
    for name in ("door_single", "crowd"):
        scene = load_scene(name)
        faults = stress_faults(scene)
        assert faults.miss_rate >= 0.10 and faults.miss_rate >= scene.faults.miss_rate
        assert faults.jitter >= 0.03 and faults.occlusion_rate >= scene.faults.occlusion_rate
        assert faults.line_gap_rate >= 0.2
        assert faults.occlusion_frames[1] >= scene.faults.occlusion_frames[1]


def test_stream_is_deterministic_and_truncated() -> None:
    scene = load_scene("door_single")
    a = detection_stream(scene, "scene", None, frames=50)
    b = detection_stream(scene, "scene", None, frames=50)
    assert a.frames == 50 and len(a.detections) == 50
    for x, y in zip(a.detections, b.detections):
        np.testing.assert_array_equal(x.xyxy, y.xyxy)


def test_another_detector_seed_draws_other_faults_on_the_same_people() -> None:
    scene = load_scene("door_single")
    a = detection_stream(scene, "scene", None, frames=200)
    b = detection_stream(scene, "scene", None, frames=200, seed=1)
    again = detection_stream(scene, "scene", None, frames=200, seed=1)
    assert any(
        x.xyxy.shape != y.xyxy.shape or not np.array_equal(x.xyxy, y.xyxy)
        for x, y in zip(a.detections, b.detections)
    )
    for x, y in zip(b.detections, again.detections):
        np.testing.assert_array_equal(x.xyxy, y.xyxy)


def test_scoring_a_truncated_scene_uses_the_truth_up_to_its_last_frame() -> None:
    scene = load_scene("door_single")
    stream = detection_stream(scene, "scene", None, frames=300)
    score = run_system(stream, HeadcountSystem(scene.config()))
    truth = scene.ground_truth(until_frame=299)["door"]
    (line,) = score.lines
    assert (line.true_in, line.true_out) == (truth["in"], truth["out"])
    assert truth["in"] + truth["out"] > 0
    assert score.frames == 300 and score.occupancy_mae is not None


def test_dense_scene_has_everyone_in_view() -> None:
    scene = dense_scene(people=50, seconds=3.0)
    for index in (0, scene.frames // 2, scene.frames - 1):
        ids, _ = scene.truth_boxes(index)
        assert len(ids) == 50


def test_rendered_busy_frames_move_the_gate_and_noise_alone_does_not() -> None:
    scene = load_scene("door_single")
    background = np.full((240, 320, 3), 90, np.uint8)
    background[:, 160:] = 150
    empty = noisy_frames(background, 30, seed=0)
    gate = MotionGate(keepalive_seconds=100.0, hold_seconds=0.0)
    runs = [gate(Frame(img, i, i / 10)) for i, img in enumerate(empty)]
    assert runs == [True] + [False] * 29

    start = next(i for i in range(scene.frames) if len(scene.truth_boxes(i)[0]) > 0) + 10
    busy = [draw_people(background, scene, start + k) for k in range(10)]
    # Without hold, a walker's change against the last run frame triggers at least every
    # other frame; with the default hold the detector runs on every frame.
    gate = MotionGate(keepalive_seconds=100.0, hold_seconds=0.0)
    runs = [gate(Frame(img, k, k / 10)) for k, img in enumerate(busy)]
    assert not any(a is b is False for a, b in itertools.pairwise(runs))
    gate = MotionGate(keepalive_seconds=100.0)
    assert all(gate(Frame(img, k, k / 10)) for k, img in enumerate(busy))


def test_quick_run_writes_results_with_every_section(
    peers: dict[str, str], wheel_site: Path, tmp_path: Path
) -> None:
    """`headcount bench --quick` from an installed wheel (not editable), outside the tree."""
    result = run_installed(wheel_site, ["bench", "--quick", "--out", str(tmp_path)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    text = (tmp_path / "RESULTS.md").read_text()
    for heading in (
        "## The issue's aims, checked on this run",
        "## Machine and versions",
        "## Counting accuracy on seeded scenes",
        "### Line count accuracy, `scene` faults",
        "### Line count accuracy, `stress` faults",
        "### Other detector seeds",
        "#### `stress` faults, 1 seeds",
        "## Tracking + counting time per frame",
        "## Whole sensor speed",
        "## Motion gating",
        "## Real pixels: rendered scenes through the whole sensor",
    ):
        assert heading in text
    for scene in ("door_single", "door_groups", "turn_back", "loiter_line", "crowd"):
        assert f"| {scene} |" in text
    for system in ("headcount", "supervision", "norfair@"):
        assert system in text
    assert re.search(r"\| uint8 \| 1 \| [0-9.]+ ", text)
    assert re.search(r"\| empty \| on \| \d+ \| \d+ \|", text)
    assert re.search(r"\| crowd \| [0-9.]+ % \([0-9.]+ %\) \|", text)  # mean (worst) over seeds
    assert "over 1 other detector seeds, no double count from loitering" in text
    # The ratio aim is judged per capture path, each line naming its configurations.
    for capture in ("Pi camera capture (isp)", "640x480 JPEG file capture (mjpeg)"):
        assert re.search(
            rf"bare invoke loop, {re.escape(capture)}: \*\*(not )?met\*\* "
            r"\(model/threads: uint8/1: [0-9.]+\)",
            text,
        )
    for png in ("accuracy_scene.png", "accuracy_stress.png", "stages.png", "tracking_time.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
