"""Motion gating measured: CPU per frame with the gate on and off, and busy-scene accuracy.

Two rendered scenes, both at the scene's frame rate on its own clock:

- empty: a real photo without people (scikit-image's `coffee`) with fresh sensor noise
  in every frame;
- busy: a seeded scene's true boxes drawn as person-shaped blobs (body and head) on the
  same photo, with noise, so the gate sees real frame differences.

The detector always costs what the real model costs (it runs the LiteRT detector on the
frame); on the busy scene it returns the scene's simulated detections, so accuracy is
scored against exact ground truth. Frames are rendered before the clock starts.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.config import DetectorConfig, PrivacyConfig
from edge.count import Counters
from edge.detections import Detections
from edge.frames import Frame
from edge.gate import MotionGate
from edge.pipeline import Pipeline
from edge.privacy.output import OutputPrivacy
from edge.publish import Publisher
from edge.track import Tracker
from edge.tracks import Tracks
from lab.bench.metrics import occupancy_mae
from lab.bench.speed import ListFrameSource, photo, resize
from lab.sim.detector import SimulatedDetector
from lab.sim.scene import Scene

Image = npt.NDArray[np.uint8]
NOISE_SIGMA = 2.5
"""Grey levels of per-pixel sensor noise."""


def noisy_frames(base: Image, count: int, seed: int = 0) -> list[Image]:
    """`count` copies of `base` with independent Gaussian noise (vectorized)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        noise = rng.normal(0.0, NOISE_SIGMA, base.shape)
        out.append(np.clip(base + noise, 0, 255).astype(np.uint8))
    return out


def draw_people(base: Image, scene: Scene, index: int) -> Image:
    """The scene's visible people at a frame as blobs: a coloured body and a darker head."""
    image = base.copy()
    height, width = image.shape[:2]
    ids, boxes = scene.truth_boxes(index)
    scale = np.asarray([width, height, width, height])
    for person, box in zip(ids.tolist(), np.round(boxes * scale).astype(int), strict=True):
        x1, y1, x2, y2 = (int(v) for v in box)
        if x2 <= x1 or y2 <= y1:
            continue
        hue = np.random.default_rng(person).integers(40, 220, 3)
        head = y1 + max(1, (y2 - y1) // 6)
        inset = max(1, (x2 - x1) // 4)
        image[head:y2, x1:x2] = hue
        image[y1:head, x1 + inset : max(x1 + inset + 1, x2 - inset)] = hue // 2
    return image


class CostlyDetector:
    """Runs the real model on every frame it is given (its cost) and returns `answer`'s output."""

    def __init__(self, model: Any, answer: Any | None = None) -> None:
        self.model = model
        self.answer = answer
        self.calls = 0

    @property
    def input_size(self) -> tuple[int, int]:
        size: tuple[int, int] = self.model.input_size
        return size

    def detect(self, frame: Frame) -> Detections:
        self.calls += 1
        found: Detections = self.model.detect(frame)
        if self.answer is None:
            return found
        simulated: Detections = self.answer.detect(frame)
        return simulated


@dataclass(frozen=True, slots=True)
class GateRun:
    """One scene with the gate on or off."""

    scene: str
    gated: bool
    frames: int
    detector_runs: int
    cpu_ms_per_frame: float
    line_accuracy: float | None
    occupancy_mae: float | None


def _run(
    scene_name: str,
    images: Sequence[Image],
    *,
    fps: float,
    detector: CostlyDetector,
    gate: MotionGate | None,
    scene: Scene | None,
) -> GateRun:
    lines = scene.lines if scene is not None else []
    zones = scene.zones if scene is not None else []
    config = scene.config() if scene is not None else None
    from edge.bootstrap import tracker_settings
    from edge.track import TrackerSettings

    settings = tracker_settings(config) if config is not None else TrackerSettings()
    occupancy: list[dict[str, int]] = []
    pipeline: Pipeline | None = None

    def record(frame: Frame, tracks: Tracks) -> None:
        assert pipeline is not None
        occupancy.append(dict(pipeline.occupancy))

    pipeline = Pipeline(
        source=ListFrameSource(images, fps),
        detector=detector,
        tracker=Tracker(settings, seed=0),
        counters=Counters(lines, zones),
        privacy=OutputPrivacy(PrivacyConfig()),
        publisher=Publisher(site="bench", sensor="bench", boot="bench", sinks=[]),
        bucket_seconds=60,
        gate=gate,
        on_frame=record,
    )
    cpu0 = time.process_time()
    summary = pipeline.run()
    cpu = time.process_time() - cpu0
    accuracy: float | None = None
    mae: float | None = None
    if scene is not None:
        last = summary.frames - 1
        truth = scene.ground_truth(until_frame=last)
        true = sum(t["in"] + t["out"] for t in truth.values())
        error = sum(
            abs(summary.totals[name][0] - t["in"]) + abs(summary.totals[name][1] - t["out"])
            for name, t in truth.items()
        )
        accuracy = max(0.0, 1.0 - error / true) if true else (1.0 if error == 0 else 0.0)
        if zones:
            errors = [
                occupancy_mae(
                    [o[z.name] for o in occupancy],
                    [scene.occupancy(i)[z.name] for i in range(summary.frames)],
                )
                for z in zones
            ]
            mae = float(np.mean(errors))
    return GateRun(
        scene=scene_name,
        gated=gate is not None,
        frames=summary.frames,
        detector_runs=summary.detector_runs,
        cpu_ms_per_frame=cpu / max(summary.frames, 1) * 1e3,
        line_accuracy=accuracy,
        occupancy_mae=mae,
    )


def make_gate() -> MotionGate:
    """The gate as the sensor would build it by default."""
    return MotionGate()


def measure_gating(
    busy: Scene, frames: int, *, model: str = "default", threads: int = 2
) -> list[GateRun]:
    """Empty and busy scene, gate off then on; `frames` per run (busy: at most the scene's)."""
    from edge.detect import load_detector

    real = load_detector(DetectorConfig(model=model, threads=threads))
    width, height = busy.size
    background = resize(photo("coffee"), (width, height))
    runs: list[GateRun] = []

    empty = noisy_frames(background, frames, seed=1)
    for gate in (None, make_gate()):
        runs.append(
            _run("empty", empty, fps=busy.fps, detector=CostlyDetector(real), gate=gate, scene=None)
        )
    del empty

    count = min(frames, busy.frames)
    rng = np.random.default_rng(2)
    rendered = []
    for i in range(count):
        drawn = draw_people(background, busy, i)
        noise = rng.normal(0.0, NOISE_SIGMA, drawn.shape)
        rendered.append(np.clip(drawn + noise, 0, 255).astype(np.uint8))
    for gate in (None, make_gate()):
        answer = SimulatedDetector(busy)
        runs.append(
            _run(
                busy.name,
                rendered,
                fps=busy.fps,
                detector=CostlyDetector(real, answer),
                gate=gate,
                scene=busy,
            )
        )
    return runs
