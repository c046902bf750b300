"""Fakes at the core's boundaries: a list of frames, scripted detections, a recording sink."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge.detections import Detections
from edge.frames import Frame, SourceError
from edge.messages import Bucket, Snapshot


def blank_frame(index: int, timestamp: float, size: tuple[int, int] = (32, 24)) -> Frame:
    return Frame(np.zeros((size[1], size[0], 3), np.uint8), index, timestamp)


class ListSource:
    """Frames at `fps` from `origin`; can fail transiently once at `fail_at`."""

    def __init__(
        self,
        count: int,
        fps: float = 10.0,
        origin: float = 1_800_000_000.0,
        fail_at: int | None = None,
    ) -> None:
        self.count = count
        self.fps = fps
        self.origin = origin
        self.fail_at = fail_at
        self.opened = 0
        self.closed = 0
        self._next = 0

    def open(self) -> None:
        self.opened += 1

    def read(self) -> Frame | None:
        if self.fail_at is not None and self._next == self.fail_at:
            self.fail_at = None
            raise SourceError("camera stopped delivering frames", transient=True)
        if self._next >= self.count:
            return None
        i = self._next
        self._next += 1
        return blank_frame(i, self.origin + i / self.fps)

    def close(self) -> None:
        self.closed += 1


class ScriptedDetector:
    """Returns the detections scripted for each frame index (none where unscripted)."""

    def __init__(self, script: dict[int, Sequence[Sequence[float]]], score: float = 0.9) -> None:
        self.script = script
        self.score = score
        self.calls = 0

    @property
    def input_size(self) -> tuple[int, int]:
        return (32, 24)

    def detect(self, frame: Frame) -> Detections:
        self.calls += 1
        boxes = self.script.get(frame.index, [])
        return Detections.from_arrays(
            np.asarray(boxes, np.float32).reshape(-1, 4), np.full(len(boxes), self.score)
        )


class RecordingSink:
    """Keeps every message it is given."""

    def __init__(self) -> None:
        self.snapshots: list[Snapshot] = []
        self.buckets: list[Bucket] = []
        self.closed = False

    def publish_snapshot(self, snapshot: Snapshot) -> None:
        self.snapshots.append(snapshot)

    def publish_bucket(self, bucket: Bucket) -> None:
        self.buckets.append(bucket)

    def close(self) -> None:
        self.closed = True


def box_at(feet_x: float, feet_y: float, height: float = 0.2, aspect: float = 0.4) -> list[float]:
    """A person's box standing at the given feet point."""
    w = height * aspect
    return [feet_x - w / 2, feet_y - height, feet_x + w / 2, feet_y]
