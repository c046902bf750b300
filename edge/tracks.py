"""Tracked people: the only input the counters accept."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.geometry import bottom_centres

NO_TRACK = -1
"""`Tracks.continues` of a track that takes over no earlier record."""


@dataclass(frozen=True, slots=True, repr=False)
class Tracks:
    """Confirmed tracks of one frame; ids are ephemeral, random per boot, never published.

    `xyxy` (N, 4) normalized boxes, `ids` (N,) int64, `coasting` (N,) bool is True for a
    track not matched in this frame whose position is the motion model's prediction.
    `velocity` (N, 2) is how fast the feet move (normalized units per second, smoothed
    over the track's detections). Identity is the tracker's to decide: `continues` (N,)
    names, for a track new to the output, the track it carries on (its own id when a
    lost track comes back, another when a broken track is re-found), else NO_TRACK;
    `forgotten` (M,) lists tracks that left the output and will never be carried on.
    `previous` (N,) is each track's row in the tracker's previous Tracks (NO_TRACK if it
    was not there), so whoever keeps per-track state carries it along without a search:
    such a consumer must see every Tracks the tracker returns, once, in order.
    """

    ids: npt.NDArray[np.int64]
    xyxy: npt.NDArray[np.float32]
    coasting: npt.NDArray[np.bool_]
    velocity: npt.NDArray[np.float64]
    continues: npt.NDArray[np.int64]
    forgotten: npt.NDArray[np.int64]
    previous: npt.NDArray[np.intp]

    def __post_init__(self) -> None:
        n = self.ids.shape[0]
        if self.ids.ndim != 1:
            raise ValueError(f"Tracks.ids must be (N,), got {self.ids.shape}")
        if self.xyxy.shape != (n, 4):
            raise ValueError(f"Tracks.xyxy must be ({n}, 4), got {self.xyxy.shape}")
        if self.coasting.shape != (n,):
            raise ValueError(f"Tracks.coasting must be ({n},), got {self.coasting.shape}")
        if self.velocity.shape != (n, 2):
            raise ValueError(f"Tracks.velocity must be ({n}, 2), got {self.velocity.shape}")
        if self.continues.shape != (n,):
            raise ValueError(f"Tracks.continues must be ({n},), got {self.continues.shape}")
        if self.forgotten.ndim != 1:
            raise ValueError(f"Tracks.forgotten must be (M,), got {self.forgotten.shape}")
        if self.previous.shape != (n,):
            raise ValueError(f"Tracks.previous must be ({n},), got {self.previous.shape}")

    @classmethod
    def empty(cls) -> Tracks:
        ids = np.zeros((0,), np.int64)
        rows = np.zeros((0,), np.intp)
        return cls(
            ids,
            np.zeros((0, 4), np.float32),
            np.zeros((0,), bool),
            np.zeros((0, 2)),
            ids,
            ids,
            rows,
        )

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
