"""Re-finding broken tracks: which track, new to the output, carries on one that left it.

The tracker's filter keeps a lost track's id while it can still match it; this stage
covers what the filter misses, by motion alone: a track that leaves the output (lost for
longer than the coast time, walked out of view, or forgotten) stays on record for a short
while with its last detected feet, velocity and box height. A track new to the output
carries on its own record if it has one (the filter re-found it late), else the nearest
record whose motion predicts where the new track stands. Either way `Tracks.continues`
says so, and a record that can no longer be carried on is listed in `Tracks.forgotten`.
No appearance is used, and nothing here leaves the process.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.geometry import bottom_centres
from edge.tracks import NO_TRACK, Tracks

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class LinkSettings:
    """How a broken track is re-found; the defaults are what the benchmark was tuned on."""

    gap_seconds: float = 2.0
    """A new track may carry on a track another left at most this long before (from that
    track's last detection)."""
    radius: float = 0.6
    """Box heights (the larger of the two boxes): how far from where the left track's
    motion predicts its feet the new track's feet may stand ..."""
    speed_spread: float = 0.5
    """... plus this fraction of the distance the left track would have walked in the
    gap, since a walker may slow down, stop or turn while unseen."""
    velocity_memory: float = 0.6
    """Smoothing of the feet's velocity over detections: each detection's step counts
    1 - velocity_memory against the velocity so far."""
    return_margin_seconds: float = 1.0
    """How long past the tracker's memory a record waits for its own track: the tracker
    re-finds a lost track on the frame after its age is checked, up to a frame later."""

    def __post_init__(self) -> None:
        if self.gap_seconds <= 0 or self.radius <= 0 or self.speed_spread < 0:
            raise ValueError("gap_seconds and radius must be > 0 and speed_spread >= 0")
        if not 0.0 <= self.velocity_memory < 1.0:
            raise ValueError(f"velocity_memory must lie in [0, 1), got {self.velocity_memory}")
        if self.return_margin_seconds < 0:
            raise ValueError("return_margin_seconds must be >= 0")


@dataclass(slots=True)
class _Left:
    """A track that left the output: where and when it was last detected, how it moved."""

    track: int
    feet: F64
    velocity: F64
    height: float
    time: float


class TrackLinks:
    """Per frame: the output's motion records, and which new track carries on which one.

    `memory_seconds` is how long the tracker itself keeps a lost track (its max age): a
    record waits that long (plus the margin) for its own track to come back.
    """

    def __init__(self, settings: LinkSettings, memory_seconds: float) -> None:
        self.settings = settings
        self._keep = max(settings.gap_seconds, memory_seconds + settings.return_margin_seconds)
        # Tracks in the last output, in its order: last detected feet and when, smoothed
        # feet velocity, and the latest box height.
        self._ids = np.zeros((0,), np.int64)
        self._feet = np.zeros((0, 2))
        self._time = np.zeros((0,))
        self._velocity = np.zeros((0, 2))
        self._height = np.zeros((0,))
        self._left: list[_Left] = []

    def __len__(self) -> int:
        """Records held: tracks in the output and tracks that left it lately."""
        return int(self._ids.shape[0]) + len(self._left)

    def update(
        self,
        ids: npt.NDArray[np.int64],
        xyxy: npt.NDArray[np.float32],
        coasting: npt.NDArray[np.bool_],
        timestamp: float,
    ) -> Tracks:
        """The tracker's output of this frame, with velocities and links (see Tracks)."""
        boxes = xyxy.astype(np.float64)
        feet = bottom_centres(boxes)
        heights = boxes[:, 3] - boxes[:, 1]
        forgotten = self._expire(timestamp)
        pos, known = self._find(ids)
        last_feet, last_time, velocity = self._gather(pos, known, feet, timestamp)
        continues = self._link(ids, known, feet, heights, velocity, timestamp=timestamp)
        observed = ~coasting
        self._smooth(velocity, known & observed, feet, last_feet, timestamp - last_time)
        last_feet = np.where(observed[:, None], feet, last_feet)
        last_time = np.where(observed, timestamp, last_time)
        self._leave(pos[known], timestamp)
        self._ids, self._feet, self._time = ids, last_feet, last_time
        self._velocity, self._height = velocity, heights
        previous = np.where(known, pos, NO_TRACK)
        return Tracks(ids, xyxy, coasting, velocity, continues, forgotten, previous)

    def _expire(self, timestamp: float) -> npt.NDArray[np.int64]:
        """Drop records too old to be carried on; their ids."""
        if not self._left:
            return np.zeros((0,), np.int64)
        old = [left.track for left in self._left if timestamp - left.time > self._keep]
        if old:
            self._left = [left for left in self._left if timestamp - left.time <= self._keep]
        return np.asarray(old, np.int64)

    def _find(
        self, ids: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
        """Row of each id in the last frame's output, and whether it was there."""
        if self._ids.size == 0:
            return np.zeros(ids.shape[0], np.intp), np.zeros(ids.shape[0], bool)
        order = np.argsort(self._ids, kind="stable")
        at = np.minimum(np.searchsorted(self._ids[order], ids), self._ids.size - 1)
        pos = order[at]
        return pos, self._ids[pos] == ids

    def _gather(
        self, pos: npt.NDArray[np.intp], known: npt.NDArray[np.bool_], feet: F64, timestamp: float
    ) -> tuple[F64, F64, F64]:
        """Last detected feet, time and velocity per track (a new one: here, now, still)."""
        if known.all():
            return self._feet[pos], self._time[pos], self._velocity[pos]
        if not known.any():
            return feet, np.full(feet.shape[0], timestamp), np.zeros_like(feet)
        column = known[:, None]
        return (
            np.where(column, self._feet[pos], feet),
            np.where(known, self._time[pos], timestamp),
            np.where(column, self._velocity[pos], 0.0),
        )

    def _link(
        self,
        ids: npt.NDArray[np.int64],
        known: npt.NDArray[np.bool_],
        feet: F64,
        heights: F64,
        velocity: F64,
        *,
        timestamp: float,
    ) -> npt.NDArray[np.int64]:
        """Per track, the record it carries on (NO_TRACK for none); a new track carrying
        one on takes its velocity."""
        continues = np.full(ids.shape[0], NO_TRACK, np.int64)
        if known.all() or not self._left:
            return continues
        for i in np.flatnonzero(~known):
            left = self._claim(int(ids[i]), feet[i], float(heights[i]), timestamp)
            if left is not None:
                continues[i] = left.track
                velocity[i] = left.velocity
        return continues

    def _claim(self, track: int, feet: F64, height: float, timestamp: float) -> _Left | None:
        """The track's own record if it is coming back, else the nearest record younger
        than `gap_seconds` whose motion predicts this new track's feet; consumed."""
        s = self.settings
        for k, left in enumerate(self._left):
            if left.track == track:
                return self._left.pop(k)
        best: tuple[float, int] | None = None
        for k, left in enumerate(self._left):
            gap = timestamp - left.time
            if gap > s.gap_seconds:
                continue
            predicted = left.feet + left.velocity * gap
            size = max(left.height, height)
            speed = float(np.hypot(*left.velocity))
            reach = s.radius * size + s.speed_spread * speed * gap
            miss = float(np.hypot(*(feet - predicted)))
            if miss <= reach and (best is None or miss < best[0]):
                best = (miss, k)
        if best is None:
            return None
        return self._left.pop(best[1])

    def _smooth(
        self,
        velocity: F64,
        moving: npt.NDArray[np.bool_],
        feet: F64,
        last_feet: F64,
        dt: F64,
    ) -> None:
        """Fold each detection's step since the track's last detection into its velocity."""
        memory = self.settings.velocity_memory
        moving &= dt > 0
        if moving.any():
            step = (feet - last_feet) / np.where(moving, dt, 1.0)[:, None]
            smoothed = memory * velocity + (1.0 - memory) * step
            velocity[:] = np.where(moving[:, None], smoothed, velocity)

    def _leave(self, staying: npt.NDArray[np.intp], timestamp: float) -> None:
        """Rows of the last output not in `staying` left it: keep their records."""
        if self._ids.size <= staying.size:
            return
        gone = np.ones(self._ids.size, bool)
        gone[staying] = False
        for i in np.flatnonzero(gone):
            self._left.append(
                _Left(
                    track=int(self._ids[i]),
                    feet=self._feet[i].copy(),
                    velocity=self._velocity[i].copy(),
                    height=float(self._height[i]),
                    time=float(self._time[i]),
                )
            )
