"""Tracked people: the only input the counters accept."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.geometry import bottom_centres


@dataclass(frozen=True, slots=True, repr=False)
class Tracks:
    """Confirmed tracks of one frame; ids are ephemeral, random per boot, never published.

    `xyxy` (N, 4) normalized boxes, `ids` (N,) int64, `coasting` (N,) bool is True for a
    track not matched in this frame whose position is the motion model's prediction.
    """

    ids: npt.NDArray[np.int64]
    xyxy: npt.NDArray[np.float32]
    coasting: npt.NDArray[np.bool_]

    def __post_init__(self) -> None:
        n = self.ids.shape[0]
        if self.ids.ndim != 1:
            raise ValueError(f"Tracks.ids must be (N,), got {self.ids.shape}")
        if self.xyxy.shape != (n, 4):
            raise ValueError(f"Tracks.xyxy must be ({n}, 4), got {self.xyxy.shape}")
        if self.coasting.shape != (n,):
            raise ValueError(f"Tracks.coasting must be ({n},), got {self.coasting.shape}")

    @classmethod
    def empty(cls) -> Tracks:
        return cls(np.zeros((0,), np.int64), np.zeros((0, 4), np.float32), np.zeros((0,), bool))

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def feet(self) -> npt.NDArray[np.float32]:
        """(N, 2) bottom-centre points."""
        return bottom_centres(self.xyxy).astype(np.float32)

    @property
    def heights(self) -> npt.NDArray[np.float32]:
        return (self.xyxy[:, 3] - self.xyxy[:, 1]).astype(np.float32, copy=False)

    def __repr__(self) -> str:
        return f"Tracks(n={len(self)})"
