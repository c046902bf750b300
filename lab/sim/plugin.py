"""The `synthetic:<scene>` source: a seeded scene read once, its frames and its simulated detector.

Registered as the `synthetic` entry point of `headcount.sources`, so `headcount run --source
synthetic:door_single` works on any install without the sensor's code naming the lab.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.frames import FrameSource, SourceError
from lab.sim.detector import SimulatedDetector
from lab.sim.scene import Scene, SceneError, load_scene
from lab.sim.source import SyntheticSource


@dataclass(frozen=True)
class SyntheticPair:
    """One loaded scene: the detector that reads its truth and the frames that carry its clock."""

    scene: Scene
    detector: SimulatedDetector

    def source(self, size: tuple[int, int], *, origin: float | None = None) -> FrameSource:
        return SyntheticSource(self.scene, size, origin=origin)


def open_synthetic(spec: str) -> SyntheticPair:
    """Load scene `spec` (a name or a .toml path); SourceError with one sentence if it can't."""
    try:
        scene = load_scene(spec)
    except SceneError as error:
        raise SourceError(str(error)) from None
    return SyntheticPair(scene, SimulatedDetector(scene))
