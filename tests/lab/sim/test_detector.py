"""The simulated detector: truth when faultless, fault rates as configured (fixed seeds)."""

from __future__ import annotations

import numpy as np
import pytest

from edge.detections import Detections, Detector
from edge.frames import Frame
from lab.sim.detector import LOW_SCORE, SimulatedDetector
from lab.sim.scene import Faults, Scene, scene_from_dict

DOOR = {"name": "door", "points": [[0.2, 0.5], [0.8, 0.5]], "inside": [0.5, 0.9]}
IMAGE = np.zeros((24, 32, 3), np.uint8)
PERFECT = {"partial_rate": 0.0}


def frame(index: int) -> Frame:
    return Frame(IMAGE, index, 1000.0 + index / 10)


def busy_scene(seed: int = 5) -> Scene:
    """Eight people standing still for 100 s (1000 frames): 8000 true boxes."""
    people = [
        {"times": [0.0, 100.0], "path": [[0.1 + 0.1 * k, 0.8], [0.1 + 0.1 * k, 0.8]]}
        for k in range(8)
    ]
    return scene_from_dict(
        {"fps": 10, "duration": 100, "seed": seed, "lines": [DOOR], "people": people}
    )


def faults(**rates: object) -> Faults:
    return Faults.model_validate({**PERFECT, **rates})


def run(detector: SimulatedDetector, frames: range) -> list[Detections]:
    return [detector.detect(frame(i)) for i in frames]


def test_is_a_detector_with_the_scene_size() -> None:
    detector = SimulatedDetector(busy_scene())
    assert isinstance(detector, Detector)
    assert detector.input_size == (320, 240)


def test_without_faults_it_returns_the_truth() -> None:
    scene = busy_scene()
    detector = SimulatedDetector(scene, faults())
    for i in (0, 500, 999):
        got = detector.detect(frame(i))
        _, truth = scene.truth_boxes(i)
        order = np.lexsort((got.xyxy[:, 1], got.xyxy[:, 0]))
        np.testing.assert_allclose(got.xyxy[order], truth, atol=1e-6)
        assert np.all((got.score >= 0.6) & (got.score <= 0.95))
    assert len(detector.detect(frame(1000))) == 0
    assert len(detector.detect(frame(-1))) == 0


def test_same_seed_same_detections_in_any_order() -> None:
    noisy = faults(miss_rate=0.2, jitter=0.05, false_positive_rate=1.0, occlusion_rate=0.2)
    a = SimulatedDetector(busy_scene(), noisy)
    b = SimulatedDetector(busy_scene(), noisy)
    forward = run(a, range(50))
    backward = run(b, range(49, -1, -1))[::-1]
    for x, y in zip(forward, backward, strict=True):
        np.testing.assert_array_equal(x.xyxy, y.xyxy)
        np.testing.assert_array_equal(x.score, y.score)
    other = run(SimulatedDetector(busy_scene(), noisy, seed=99), range(50))
    assert any(
        len(x) != len(y) or not np.array_equal(x.xyxy, y.xyxy) for x, y in zip(forward, other)
    )


def test_miss_rate_drops_that_share_of_boxes() -> None:
    counts = [
        len(d) for d in run(SimulatedDetector(busy_scene(), faults(miss_rate=0.2)), range(1000))
    ]
    assert sum(counts) / 8000 == pytest.approx(0.8, abs=0.02)


def test_false_positives_per_frame_follow_the_rate() -> None:
    scene = scene_from_dict({"fps": 10, "duration": 100, "lines": [DOOR]})  # nobody there
    counts = [
        len(d) for d in run(SimulatedDetector(scene, faults(false_positive_rate=2.0)), range(1000))
    ]
    assert np.mean(counts) == pytest.approx(2.0, abs=0.15)


def test_static_false_positives_stay_near_the_line_and_flicker() -> None:
    scene = scene_from_dict({"fps": 10, "duration": 100, "lines": [DOOR]})
    detector = SimulatedDetector(scene, faults(static_false_positives=1, static_on_rate=0.3))
    seen = run(detector, range(1000))
    shown = [d for d in seen if len(d)]
    assert len(shown) / 1000 == pytest.approx(0.3, abs=0.04)
    feet = np.concatenate([d.feet for d in shown])
    assert np.all(np.abs(feet[:, 1] - 0.5) < 0.07)  # within 0.03 + wobble of y = 0.5
    assert np.ptp(feet[:, 0]) < 0.1  # one fixed place, not random boxes
    assert np.all((feet[:, 0] > 0.2) & (feet[:, 0] < 0.8))


def test_jitter_is_a_fraction_of_the_box_size() -> None:
    scene = busy_scene()
    detector = SimulatedDetector(scene, faults(jitter=0.05))
    errors = []
    for i in range(0, 1000, 4):
        got = detector.detect(frame(i))
        _, truth = scene.truth_boxes(i)
        order = np.argsort(got.xyxy[:, 0])
        width = truth[:, 2] - truth[:, 0]
        errors.append((got.xyxy[order, 0] - truth[:, 0]) / width)
    assert np.std(np.concatenate(errors)) == pytest.approx(0.05, rel=0.1)


def test_partly_occluded_share_scores_in_the_low_band() -> None:
    scores = np.concatenate(
        [
            d.score
            for d in run(SimulatedDetector(busy_scene(), faults(partial_rate=0.25)), range(1000))
        ]
    )
    low = (scores >= LOW_SCORE[0]) & (scores <= LOW_SCORE[1])
    assert np.mean(low) == pytest.approx(0.25, abs=0.02)
    assert np.all(scores[~low] >= 0.6)


def test_occlusion_gaps_hide_a_person_for_runs_of_the_configured_length() -> None:
    scene = scene_from_dict(
        {
            "fps": 10,
            "duration": 100,
            "people": [{"times": [0, 100], "path": [[0.5, 0.8], [0.5, 0.8]]}],
            "zones": [{"name": "z", "polygon": [[0, 0], [1, 0], [1, 1]]}],
        }
    )
    detector = SimulatedDetector(scene, faults(occlusion_rate=0.3, occlusion_frames=[3, 6]))
    present = np.array([len(d) for d in run(detector, range(1000))]) > 0
    edges = np.flatnonzero(np.diff(present.astype(int)))
    gaps = [b - a for a, b in zip(edges[::2], edges[1::2]) if not present[a + 1]]
    assert gaps, "expected some occlusion gaps"
    assert min(gaps) >= 3
    assert 1 - present.mean() == pytest.approx(0.3 * 4.5 / 10, abs=0.05)  # gap starts x mean length


def test_line_gap_hides_a_crossing_person_right_around_the_line() -> None:
    scene = scene_from_dict(
        {
            "fps": 10,
            "duration": 10,
            "lines": [DOOR],
            "people": [{"times": [0.0, 8.0], "path": [[0.5, 0.3], [0.5, 0.7]]}],
        }
    )
    (crossing,) = scene.crossings
    assert crossing.frame == 40
    detector = SimulatedDetector(scene, faults(line_gap_rate=1.0, line_gap_frames=4))
    hidden = [i for i, d in enumerate(run(detector, range(81))) if len(d) == 0]
    assert hidden == [38, 39, 40, 41]
