"""Frames and the boundary every frame source implements."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

_SAME_AS_TIMESTAMP = math.nan


@dataclass(frozen=True, slots=True, repr=False)
class Frame:
    """One RGB image at detector resolution, its source index and its two times.

    `timestamp` is wall time, seconds since the epoch: what messages are stamped with.
    `clock` is seconds on a clock that never jumps, which paces buckets, heartbeats and
    the tracker: video time for footage, a monotonic clock for a camera or stream. It
    defaults to `timestamp`, which is right for footage stamped `origin + video time`
    (so a replayed file is bucketed by video time); a live source stamps wall time and
    passes `clock=time.monotonic()` (or the sensor's own timestamp), so a wall-clock jump
    moves the stamps but neither holds a bucket open nor ages a track.
    The repr never shows pixels, so a frame cannot leak through a log line.
    """

    image: npt.NDArray[np.uint8]
    index: int
    timestamp: float
    clock: float = _SAME_AS_TIMESTAMP

    def __post_init__(self) -> None:
        if self.image.ndim != 3 or self.image.shape[2] != 3:
            raise ValueError(f"Frame.image must be (H, W, 3) RGB, got shape {self.image.shape}")
        if self.image.dtype != np.uint8:
            raise ValueError(f"Frame.image must be uint8, got {self.image.dtype}")
        if math.isnan(self.clock):
            object.__setattr__(self, "clock", self.timestamp)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.image.shape[1]), int(self.image.shape[0])

    def __repr__(self) -> str:
        w, h = self.size
        return (
            f"Frame(index={self.index}, timestamp={self.timestamp:.3f}, "
            f"clock={self.clock:.3f}, size={w}x{h})"
        )


class SourceError(Exception):
    """A frame source failed. `transient` failures are retried by the pipeline."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


@runtime_checkable
class FrameSource(Protocol):
    """Delivers frames in order; `read()` returns None at the end of finite footage.

    `read()` raises SourceError when the device fails; a transient error means the
    pipeline may `close()` and `open()` again and continue.
    """

    def open(self) -> None: ...

    def read(self) -> Frame | None: ...

    def close(self) -> None: ...
