"""Motion gate on synthetic frames: still scenes run only at keep-alive, motion runs."""

from __future__ import annotations

import numpy as np
import pytest

from edge.frames import Frame
from edge.gate import MotionGate, thumbnail

FPS = 10.0


def background(seed: int = 0) -> np.ndarray:
    """A textured 240x320 RGB still (smooth gradients plus fixed texture)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:240, 0:320]
    base = 60 + 0.4 * x + 0.3 * y
    texture = rng.integers(-20, 20, (240, 320))
    grey = np.clip(base + texture, 0, 255)
    return np.stack([grey, grey * 0.9, grey * 0.8], axis=2).astype(np.uint8)


def noisy(image: np.ndarray, rng: np.random.Generator, sigma: float = 3.0) -> np.ndarray:
    return np.clip(image + rng.normal(0, sigma, image.shape), 0, 255).astype(np.uint8)


def with_person(image: np.ndarray, x: int, faint: bool = False) -> np.ndarray:
    out = image.copy()
    if faint:
        # 40 grey levels brighter: a 1 px step moves a 10 px cell's mean by only 4 levels.
        region = out[120:200, x : x + 30].astype(np.int16) + 40
        out[120:200, x : x + 30] = np.clip(region, 0, 255).astype(np.uint8)
    else:
        out[120:200, x : x + 30] = (200, 40, 40)
    return out


def frame(image: np.ndarray, i: int) -> Frame:
    return Frame(image, i, 1_800_000_000.0 + i / FPS)


def test_thumbnail_is_the_grey_block_mean() -> None:
    image = np.zeros((48, 64, 3), np.uint8)
    image[:24, :32] = 255
    thumb = thumbnail(image, (2, 2))
    assert thumb.shape == (2, 2)
    assert thumb[0, 0] == pytest.approx(255.0, abs=0.01)
    assert thumb[0, 1] == thumb[1, 0] == thumb[1, 1] == 0.0


def test_thumbnail_of_a_tiny_image_keeps_every_pixel() -> None:
    image = np.full((10, 12, 3), 7, np.uint8)
    assert thumbnail(image, (32, 24)).shape == (10, 12)


def test_still_scene_runs_only_at_keepalive() -> None:
    rng = np.random.default_rng(1)
    still = background()
    gate = MotionGate(threshold=0.01, keepalive_seconds=2.0, hold_seconds=0.0)
    runs = [i for i in range(100) if gate(frame(noisy(still, rng), i))]
    # First frame, then every 2 s of frame time (20 frames at 10 fps).
    assert runs == [0, 20, 40, 60, 80]
    assert gate.runs == 5 and gate.skips == 95


def test_motion_runs_every_frame() -> None:
    rng = np.random.default_rng(2)
    still = background()
    gate = MotionGate(threshold=0.01, keepalive_seconds=2.0, hold_seconds=0.0)
    gate(frame(still, 0))
    decisions = [gate(frame(noisy(with_person(still, 20 + 8 * i), rng), i)) for i in range(1, 30)]
    assert all(decisions)


def test_slow_motion_accumulates_against_the_last_run() -> None:
    """A faint person creeping 1 px a frame is caught: the reference is the last run's frame.

    One step alone stays under pixel_delta; two steps against the last run exceed it.
    """
    still = background()
    gate = MotionGate(threshold=0.002, keepalive_seconds=100.0, hold_seconds=0.0)
    gate(frame(with_person(still, 100, faint=True), 0))
    decisions = [gate(frame(with_person(still, 100 + i, faint=True), i)) for i in range(1, 40)]
    assert decisions[0] is False
    assert 10 <= sum(decisions) <= 30


def test_hold_keeps_running_after_motion_stops() -> None:
    still = background()
    gate = MotionGate(threshold=0.01, keepalive_seconds=100.0, hold_seconds=1.0)
    gate(frame(still, 0))
    assert gate(frame(with_person(still, 50), 1))  # someone appears
    after = [gate(frame(with_person(still, 50), i)) for i in range(2, 30)]
    # Held for 1 s after the motion at frame 1 (frames 2..11), then skipped.
    assert after[:10] == [True] * 10
    assert not any(after[10:])


def test_changed_fraction_measures_the_change() -> None:
    still = background()
    gate = MotionGate()
    assert gate.changed_fraction(frame(still, 0)) == 1.0
    gate(frame(still, 0))
    assert gate.changed_fraction(frame(still, 1)) == 0.0
    assert gate.changed_fraction(frame(with_person(still, 100), 1)) > 0.01


def test_reset_forces_the_next_run() -> None:
    still = background()
    gate = MotionGate(keepalive_seconds=100.0, hold_seconds=0.0)
    assert gate(frame(still, 0))
    assert not gate(frame(still, 1))
    gate.reset()
    assert gate(frame(still, 2))


def test_clock_going_back_runs_the_detector() -> None:
    still = background()
    gate = MotionGate(keepalive_seconds=100.0, hold_seconds=0.0)
    assert gate(frame(still, 10))
    assert gate(frame(still, 0))


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"threshold": 1.5}, "threshold"),
        ({"keepalive_seconds": 0.0}, "keepalive_seconds"),
        ({"downscale": (0, 24)}, "downscale"),
        ({"pixel_delta": -1.0}, "pixel_delta"),
    ],
)
def test_bad_settings_are_refused_at_construction(kwargs: dict[str, object], word: str) -> None:
    with pytest.raises(ValueError, match=word):
        MotionGate(**kwargs)  # type: ignore[arg-type]


def test_the_sensor_is_built_with_the_gate_only_when_configured() -> None:
    from edge.bootstrap import build_sensor
    from edge.config import parse_config

    base = {
        "sensor": {"id": "s1"},
        "lines": [{"name": "door", "points": [[0.1, 0.5], [0.9, 0.5]], "inside": [0.5, 0.9]}],
        "source": {"uri": "synthetic:door_single"},
        "privacy": {"guard": "off"},
    }
    plain = build_sensor(parse_config(base), sink="none").pipeline
    assert plain.gate is None
    gated_config = parse_config(
        {
            **base,
            "detector": {"motion_gate": True, "motion_threshold": 0.02, "keepalive_seconds": 5},
        }
    )
    gate = build_sensor(gated_config, sink="none").pipeline.gate
    assert isinstance(gate, MotionGate)
    assert (gate.threshold, gate.keepalive_seconds) == (0.02, 5.0)


def test_a_frame_the_gate_skips_observes_nobody_anew() -> None:
    """The person's first detection beyond the dead band comes on frame 12 and the gate
    skips frame 13: the crossing needs a second real detection (frame 14), not frame 12's
    tracks seen again, and the skipped frame keeps the occupancy of the frame before."""
    from edge.config import LineConfig, PrivacyConfig, ZoneConfig
    from edge.count import Counters
    from edge.pipeline import Pipeline
    from edge.privacy.output import OutputPrivacy
    from edge.publish import Publisher
    from edge.track import Tracker
    from tests.fakes.core import ListSource, RecordingSink, ScriptedDetector, box_at

    line = LineConfig(name="door", points=((0.1, 0.5), (0.9, 0.5)), inside=(0.5, 0.9))
    zone = ZoneConfig(name="hall", polygon=[(0, 0.5), (1, 0.5), (1, 1), (0, 1)])
    script = {k: [box_at(0.5, 0.3 + 0.02 * k)] for k in range(25)}  # the band ends at 0.53
    sink = RecordingSink()
    pipeline = Pipeline(
        source=ListSource(25),
        detector=ScriptedDetector(script),
        tracker=Tracker(seed=0),
        counters=Counters([line], [zone]),
        privacy=OutputPrivacy(PrivacyConfig()),
        publisher=Publisher(site="hq", sensor="door-1", boot="b00t", sinks=[sink]),
        bucket_seconds=60,
        publish_every=0.0,
        gate=lambda frame: frame.index != 13,
    )
    summary = pipeline.run()
    assert summary.detector_runs == 24
    counted = [s.frame for s in sink.snapshots if s.lines["door"].in_ == 1]
    assert counted[0] == 14
    by_frame = {s.frame: s for s in sink.snapshots}
    assert by_frame[13].zones["hall"].occupancy == by_frame[12].zones["hall"].occupancy == 1
    assert summary.totals == {"door": (1, 0)}


def test_the_gates_defaults_are_the_configs() -> None:
    from edge.config import DetectorConfig

    gate, config = MotionGate(), DetectorConfig()
    assert (gate.threshold, gate.keepalive_seconds) == (
        config.motion_threshold,
        config.keepalive_seconds,
    )
