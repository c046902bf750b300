"""Frames of a synthetic scene: one tiny blank image reused, with the scene's index and time.

The pixels carry nothing; the bootstrap pairs this source with the scene's
`lab.sim.detector.SimulatedDetector`, which reads the truth by `frame.index`.
"""

from __future__ import annotations

import time

import numpy as np

from edge.frames import Frame, SourceError
from lab.sim.scene import Scene


class SyntheticSource:
    """`FrameSource` yielding `scene.frames` frames at `origin + index / fps`, then None."""

    def __init__(
        self, scene: Scene, size: tuple[int, int] = (32, 24), *, origin: float | None = None
    ) -> None:
        width, height = size
        if width < 1 or height < 1:
            raise SourceError(f"frame size must be positive, got {width}x{height}")
        self.scene = scene
        self.size = (width, height)
        self._origin_arg = origin
        self.origin = 0.0
        self._image = np.zeros((height, width, 3), np.uint8)
        self._image.flags.writeable = False
        self._next = 0
        self._open = False

    def open(self) -> None:
        """Start (or, after close, continue) the scene; the time origin is fixed at first open."""
        if not self._open and self._next == 0:
            self.origin = time.time() if self._origin_arg is None else self._origin_arg
        self._open = True

    def read(self) -> Frame | None:
        if not self._open:
            raise SourceError("the synthetic source is not open; call open() first")
        if self._next >= self.scene.frames:
            return None
        index = self._next
        self._next += 1
        return Frame(self._image, index, self.origin + index / self.scene.fps)

    def close(self) -> None:
        self._open = False
