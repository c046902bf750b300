"""The seeded scenes' ground truth in the truth-file form, and `export-truth`.

A scene's crossings carry their exact time; the truth file takes the frame each belongs to
(the first frame at or after it) divided by the frame rate, like a clip's. Occupancy is
sampled once a second of scene time (every `round(fps)`-th frame).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lab.sim.scene import Scene, SceneError, load_scene
from lab.verify.truth import Crossing, OccupancySample, write_crossings, write_occupancy


@dataclass(frozen=True)
class SceneTruth:
    """A loaded scene and its truth as the harness reads it from files."""

    scene: Scene
    crossings: tuple[Crossing, ...]
    occupancy: tuple[OccupancySample, ...]


def scene_truth(name: str) -> SceneTruth:
    """Load a scene by name or .toml path; SceneError with one sentence if it cannot."""
    scene = load_scene(name)
    crossings = tuple(
        sorted(Crossing(c.frame / scene.fps, c.line, c.direction) for c in scene.crossings)
    )
    step = max(1, round(scene.fps))
    occupancy = tuple(
        OccupancySample(frame / scene.fps, zone, count)
        for frame in range(0, scene.frames, step)
        for zone, count in scene.occupancy(frame).items()
    )
    return SceneTruth(scene, crossings, occupancy)


def export_truth(name: str, out: Path) -> tuple[Path, Path]:
    """Write `<out>/<scene>.crossings.csv` and `<out>/<scene>.occupancy.csv`."""
    truth = scene_truth(name)
    out.mkdir(parents=True, exist_ok=True)
    crossings = out / f"{truth.scene.name}.crossings.csv"
    occupancy = out / f"{truth.scene.name}.occupancy.csv"
    write_crossings(crossings, truth.crossings)
    write_occupancy(occupancy, truth.occupancy)
    return crossings, occupancy


__all__ = ["SceneError", "SceneTruth", "export_truth", "scene_truth"]
