"""The `paced:<scene>[?stall=AT:SECONDS]` source: a seeded scene delivered in real time.

It stands in for a camera watching the clip on a screen: frame i is delivered at the
scene's start plus i / fps of wall-clock time, and carries that moment as its timestamp,
so a listener can measure latency from a true crossing to its published count.
`stall=AT:SECONDS` plans a stopped source: from scene time AT the source raises a
transient `SourceError` (as a camera that stops delivering) for SECONDS of wall-clock
time, then delivers the frames it held back, late. Registered as a `headcount.sources`
entry point, so `headcount run --source paced:door_single` works on any install.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from edge.frames import Frame, FrameSource, SourceError
from lab.sim.detector import SimulatedDetector
from lab.sim.plugin import open_synthetic
from lab.sim.scene import Scene


@dataclass(frozen=True)
class Stall:
    """A planned stop of the source: at scene time `at_s`, for `seconds` of wall-clock time."""

    at_s: float
    seconds: float


def parse_spec(spec: str) -> tuple[str, Stall | None]:
    """(scene name or path, planned stall); SourceError with one sentence for a bad spec."""
    scene, _, query = spec.partition("?")
    if not query:
        return scene, None
    key, _, value = query.partition("=")
    at, _, seconds = value.partition(":")
    try:
        stall = Stall(float(at), float(seconds))
    except ValueError:
        stall = Stall(-1.0, -1.0)
    if key != "stall" or stall.at_s < 0 or stall.seconds <= 0:
        raise SourceError(
            f"paced source option {query!r} must be stall=AT:SECONDS, e.g. stall=20:3"
        )
    return scene, stall


class PacedSource:
    """Delivers a scene's frames at their own pace on the wall clock, with an optional stall."""

    def __init__(self, inner: FrameSource, scene: Scene, stall: Stall | None) -> None:
        self.inner = inner
        self.scene = scene
        self.stall = stall
        self.origin: float | None = None
        self._stall_until: float | None = None
        self._delay = 0.0
        self._pending: Frame | None = None

    def open(self) -> None:
        self.inner.open()
        if self.origin is None:
            self.origin = time.time()

    def read(self) -> Frame | None:
        frame, self._pending = self._pending or self.inner.read(), None
        if frame is None or self.origin is None:
            return frame
        if self._stalled(frame):
            self._pending = frame
            raise SourceError("the paced source stopped (a planned stall)", transient=True)
        due = self.origin + self._delay + frame.index / self.scene.fps
        time.sleep(max(0.0, due - time.time()))
        return Frame(frame.image, frame.index, due)

    def _stalled(self, frame: Frame) -> bool:
        """True during the planned stall, which starts when its first frame comes up."""
        if self.stall is None or frame.index / self.scene.fps < self.stall.at_s:
            return False
        now = time.time()
        if self._stall_until is None:
            self._stall_until = now + self.stall.seconds
            self._delay = self.stall.seconds
        return now < self._stall_until

    def close(self) -> None:
        self.inner.close()


@dataclass(frozen=True)
class PacedPair:
    """The scene's simulated detector with its frames paced in real time."""

    scene: Scene
    detector: SimulatedDetector
    stall: Stall | None

    def source(self, size: tuple[int, int], *, origin: float | None = None) -> FrameSource:
        from lab.sim.source import SyntheticSource

        return PacedSource(SyntheticSource(self.scene, size, origin=0.0), self.scene, self.stall)


def open_paced(spec: str) -> PacedPair:
    """Entry point of `headcount.sources`: `paced:<scene>[?stall=AT:SECONDS]`."""
    name, stall = parse_spec(spec)
    pair = open_synthetic(name)
    return PacedPair(pair.scene, pair.detector, stall)
