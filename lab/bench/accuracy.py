"""Runs counting systems over seeded scenes on one shared detection stream and scores them.

The simulated detector's output for a scene and fault profile is computed once; every
system sees exactly the same `Detections` per frame. Each system's `update` is timed with
`perf_counter` (tracking and counting, including the peers' conversion into their own
types); detection itself is not part of that time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from edge.detections import Detections
from edge.frames import Frame
from lab.bench.metrics import (
    Event,
    LineScore,
    SceneScore,
    match_events,
    occupancy_mae,
)
from lab.bench.peers import CountingSystem
from lab.sim.detector import SimulatedDetector
from lab.sim.scene import Faults, Scene

log = logging.getLogger(__name__)

SystemFactory = Callable[[Scene], CountingSystem]
MATCH_SECONDS = 2.0
"""A counted event within this many seconds of a true crossing of the same kind matches it."""

_ORIGIN = 1_800_000_000.0


@dataclass(frozen=True, slots=True)
class Stream:
    """A scene's detections per frame under one fault profile, shared by every system."""

    scene: Scene
    profile: str
    frames: int
    detections: tuple[Detections, ...]

    def timestamp(self, index: int) -> float:
        return _ORIGIN + index / self.scene.fps


SEED_STRIDE = 1000
"""Detector seed k of a scene draws its faults from the scene's seed + k * SEED_STRIDE."""


def detection_stream(
    scene: Scene,
    profile: str,
    faults: Faults | None = None,
    frames: int | None = None,
    seed: int = 0,
) -> Stream:
    """The simulated detections of the first `frames` frames (all when None).

    `seed` 0 draws the faults from the scene's own seed; any other draws a different,
    equally seeded set of misses, gaps, jitter and false positives on the same people.
    """
    count = scene.frames if frames is None else min(frames, scene.frames)
    detector = SimulatedDetector(scene, faults, scene.seed + seed * SEED_STRIDE)
    pixel = np.zeros((1, 1, 3), np.uint8)  # the simulated detector reads only the index
    out = [
        detector.detect(Frame(pixel, index, _ORIGIN + index / scene.fps)) for index in range(count)
    ]
    return Stream(scene, profile, count, tuple(out))


def stress_faults(scene: Scene) -> Faults:
    """The issue's target conditions: 10 % missed, jitter, occlusion and id-breaking gaps.

    Each rate is at least the scene's own, so a scene designed harsher stays harsher.
    """
    own = scene.faults
    return own.model_copy(
        update={
            "miss_rate": max(own.miss_rate, 0.10),
            "jitter": max(own.jitter, 0.03),
            "occlusion_rate": max(own.occlusion_rate, 0.2),
            "occlusion_frames": (
                max(own.occlusion_frames[0], 3),
                max(own.occlusion_frames[1], 8),
            ),
            "line_gap_rate": max(own.line_gap_rate, 0.2),
            "line_gap_frames": max(own.line_gap_frames, 4),
        }
    )


def run_system(stream: Stream, system: CountingSystem) -> SceneScore:
    """Feed the stream to the system; score lines, zones and matched events."""
    scene = stream.scene
    totals = {line.name: [0, 0] for line in scene.lines}
    counted_events: list[Event] = []
    zone_counts: dict[str, list[int]] = {zone.name: [] for zone in scene.zones}
    zone_truth: dict[str, list[int]] = {zone.name: [] for zone in scene.zones}
    spent = 0.0
    clock = time.perf_counter
    for index in range(stream.frames):
        detections = stream.detections[index]
        t0 = clock()
        counts = system.update(detections, stream.timestamp(index))
        spent += clock() - t0
        for name, (n_in, n_out) in counts.crossings.items():
            totals[name][0] += n_in
            totals[name][1] += n_out
            counted_events.extend([Event(name, "in", index)] * n_in)
            counted_events.extend([Event(name, "out", index)] * n_out)
        if zone_counts:
            truth = scene.occupancy(index)
            for name, series in zone_counts.items():
                series.append(counts.occupancy.get(name, 0))
                zone_truth[name].append(truth[name])
    last = stream.frames - 1
    for name, (n_in, n_out) in system.finish().items():
        totals[name][0] += n_in
        totals[name][1] += n_out
        counted_events.extend([Event(name, "in", last)] * n_in)
        counted_events.extend([Event(name, "out", last)] * n_out)
    truth_totals = scene.ground_truth(until_frame=last)
    true_events = [Event(c.line, c.direction, c.frame) for c in scene.crossings if c.frame <= last]
    lines = tuple(
        LineScore(
            line=name,
            true_in=truth_totals[name]["in"],
            true_out=truth_totals[name]["out"],
            counted_in=totals[name][0],
            counted_out=totals[name][1],
        )
        for name in totals
    )
    tolerance = round(MATCH_SECONDS * scene.fps)
    return SceneScore(
        scene=scene.name,
        system=system.name,
        lines=lines,
        zone_mae={name: occupancy_mae(zone_counts[name], zone_truth[name]) for name in zone_counts},
        matching=match_events(counted_events, true_events, tolerance),
        frames=stream.frames,
        seconds_per_frame=spent / max(stream.frames, 1),
    )


def run_all(
    streams: Sequence[Stream], factories: Sequence[SystemFactory]
) -> list[tuple[str, SceneScore]]:
    """(profile, score) for every stream and system, systems interleaved per stream."""
    results: list[tuple[str, SceneScore]] = []
    for stream in streams:
        for factory in factories:
            score = run_system(stream, factory(stream.scene))
            log.info(
                "%s/%s %s: accuracy %s, %.3f ms/frame",
                stream.profile,
                stream.scene.name,
                score.system,
                "n/a" if score.line_accuracy is None else f"{score.line_accuracy:.3f}",
                score.seconds_per_frame * 1e3,
            )
            results.append((stream.profile, score))
    return results
