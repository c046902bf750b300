"""Columnar person detections of one frame."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from edge.frames import Frame
from edge.geometry import bottom_centres

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True, repr=False)
class Detections:
    """Person boxes in normalized image coordinates (x right, y down, 0..1).

    `xyxy` is (N, 4) as x1, y1, x2, y2; `score` is (N,). Boolean masks select rows:
    `d[d.score > 0.5]`.
    """

    xyxy: FloatArray
    score: FloatArray

    def __post_init__(self) -> None:
        if self.xyxy.ndim != 2 or self.xyxy.shape[1] != 4:
            raise ValueError(f"Detections.xyxy must be (N, 4), got {self.xyxy.shape}")
        if self.score.shape != (self.xyxy.shape[0],):
            raise ValueError(
                f"Detections.score must be ({self.xyxy.shape[0]},), got {self.score.shape}"
            )

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32))

    @classmethod
    def from_arrays(cls, xyxy: npt.ArrayLike, score: npt.ArrayLike) -> Detections:
        """Build from anything array-like, copying into float32."""
        boxes = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
        return cls(boxes, np.asarray(score, dtype=np.float32).reshape(-1))

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def __getitem__(self, mask: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> Detections:
        return Detections(self.xyxy[mask], self.score[mask])

    @property
    def feet(self) -> FloatArray:
        """(N, 2) bottom-centre points: where a person stands."""
        return bottom_centres(self.xyxy).astype(np.float32)

    def __repr__(self) -> str:
        return f"Detections(n={len(self)})"


@runtime_checkable
class Detector(Protocol):
    """Finds people in a frame. Implementations keep their interpreter for their lifetime."""

    def detect(self, frame: Frame) -> Detections: ...

    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) the detector wants; sources capture at this size when they can."""
        ...
