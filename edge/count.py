"""Counting from tracks: door lines (in/out at the feet) and zones (occupancy).

A line counts a crossing when a track's feet leave a dead band around the line on the
side opposite to the one it was last committed to, and the path from its last point
beyond the band on the old side meets the segment itself. Standing, turning or
jittering inside the band counts nothing. A track that leaves the output leaves a
short-lived "ghost" (its committed side, place and velocity): the same track, re-found by
the tracker after a long occlusion, takes it back; else a new track that appears where
the ghost's motion predicts inherits that side, so a person whose track broke at the line
is counted exactly once; one that ended while walking over the line, clearly past it, is
counted then, and its ghost carries the far side. Only motion is used: no appearance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.config import LineConfig, ZoneConfig
from edge.geometry import Polygon, bottom_centres, segment_parameter
from edge.tracks import Tracks

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class TrackPositions:
    """Where this frame's tracks stand, computed once and shared by every line and zone."""

    feet: F64
    xyxy: F64
    heights: F64

    @classmethod
    def of(cls, tracks: Tracks) -> TrackPositions:
        xyxy = tracks.xyxy.astype(np.float64)
        return cls(bottom_centres(xyxy), xyxy, xyxy[:, 3] - xyxy[:, 1])


@dataclass(frozen=True, slots=True)
class Crossings:
    """Crossings of one line in one frame."""

    in_: int
    out: int


@dataclass(slots=True)
class _Ghost:
    track: int
    side: int
    anchor: F64
    feet: F64
    velocity: F64
    height: float
    time: float
    home_time: float


# Columns of LineCounter._state: the anchor (last feet beyond the band on the committed
# side), the feet and time of the last detection, the velocity of the feet, the box
# height, and when the track was last beyond the band on its committed side and its box
# height there.
# LineCounter._flags: the committed side, the streak of detections beyond the band
# towards a side, and the streak of detections clearly past the line (half the band).
_ANCHOR = slice(0, 2)
_FEET = slice(2, 4)
_VELOCITY = slice(4, 6)
_HEIGHT = 6
_TIME = 7
_HOME_TIME = 8
_HOME_HEIGHT = 9
_COLUMNS = 10

RETURN_MARGIN_SECONDS = 1.0
"""How long past the tracker's memory a ghost still waits for its own track: the tracker
re-finds a lost track on the frame after its age is checked, up to a frame interval later."""

ENDED_MAX_SPEED = 1.5
"""Box heights per second: a track that ended past the line counts its crossing only if
it got there from its side at most this fast (a brisk walk), not by jumping onto
someone else's box."""

ENDED_MAX_GROWTH = 0.3
"""Nor if its box grew or shrank by more than this log-ratio (about a third) since it
left its side: a jump onto someone else's box."""

END_CROSSING_SECONDS = 2.0
"""At the end of footage, a track seen past the line that left its side at most this long
before its last detection is crossing; one that stood on the line longer is not."""


class LineCounter:
    """Counts in/out crossings of one segment; totals are cumulative until `reset()`."""

    def __init__(
        self,
        line: LineConfig,
        *,
        ghost_seconds: float = 2.0,
        ghost_radius: float = 0.6,
        track_memory_seconds: float = 2.0,
    ) -> None:
        self.name = line.name
        self._a = np.asarray(line.points[0], np.float64)
        self._b = np.asarray(line.points[1], np.float64)
        self._hysteresis = line.hysteresis
        direction = (self._b - self._a) / float(np.hypot(*(self._b - self._a)))
        self._normal = np.abs(np.array([direction[1], direction[0]]))
        # The unit normal pointing to the `inside` side: distance = points @ _toward - _offset.
        toward = np.array([-direction[1], direction[0]])
        if toward @ np.asarray(line.inside, np.float64) < toward @ self._a:
            toward = -toward
        self._toward = toward
        self._offset = float(toward @ self._a)
        self._confirm = line.confirm_frames
        self._min_band = line.min_band
        self._ghost_seconds = ghost_seconds
        # A track lost for longer than the tracker's coast time leaves the output but may
        # come back under its own id until the tracker forgets it (plus a frame or so):
        # its ghost waits for it that long.
        self._ghost_keep = max(ghost_seconds, track_memory_seconds + RETURN_MARGIN_SECONDS)
        self._ghost_radius = ghost_radius
        self.total_in = 0
        self.total_out = 0
        # Per-track state, rows sorted by id: floats packed in one array and the side and
        # streaks in another (columns above), so a frame gathers and reorders two arrays.
        self._ids = np.zeros((0,), np.int64)
        self._state = np.zeros((0, _COLUMNS))
        self._flags = np.zeros((0, 3), np.int16)
        self._ghosts: list[_Ghost] = []

    def reset(self) -> None:
        """Zero the totals; the tracks' sides are kept, so nobody is counted twice."""
        self.total_in = 0
        self.total_out = 0

    @property
    def live_tracks(self) -> int:
        return int(self._ids.shape[0])

    def _distance(self, points: F64) -> F64:
        """Signed distance of (N, 2) points to the line, positive on the `inside` side."""
        return np.asarray(points @ self._toward - self._offset)

    def _band(self, xyxy: F64) -> F64:
        """Half-width of the dead band: a fraction of each box's extent across the line."""
        extent = self._normal[0] * (xyxy[:, 2] - xyxy[:, 0]) + self._normal[1] * (
            xyxy[:, 3] - xyxy[:, 1]
        )
        return np.asarray(np.maximum(self._min_band, self._hysteresis * extent), np.float64)

    def update(
        self, tracks: Tracks, timestamp: float, positions: TrackPositions | None = None
    ) -> Crossings:
        """Advance with this frame's tracks; returns the crossings it completed."""
        at = positions if positions is not None else TrackPositions.of(tracks)
        ids = tracks.ids
        feet = at.feet
        n = ids.shape[0]
        dist = self._distance(feet)
        band = self._band(at.xyxy)

        self._expire_ghosts(timestamp)
        if self._ids.size:
            pos = np.minimum(np.searchsorted(self._ids, ids), self._ids.size - 1)
            known = self._ids[pos] == ids
        else:
            pos = np.zeros(n, np.intp)
            known = np.zeros(n, bool)
        if known.all():
            state = self._state[pos]
            flags = self._flags[pos]
        else:
            state = np.empty((n, _COLUMNS))
            state[:, _ANCHOR] = feet
            state[:, _FEET] = feet
            state[:, _VELOCITY] = 0.0
            state[:, _TIME] = timestamp
            state[:, _HOME_TIME] = timestamp
            state[:, _HOME_HEIGHT] = at.heights
            flags = np.zeros((n, 3), np.int16)
            state[known] = self._state[pos[known]]
            flags[known] = self._flags[pos[known]]
            for i in np.flatnonzero(~known):
                ghost = self._claim_ghost(int(ids[i]), feet[i], float(at.heights[i]), timestamp)
                if ghost is not None:
                    flags[i, 0] = ghost.side
                    state[i, _ANCHOR] = ghost.anchor
                    state[i, _VELOCITY] = ghost.velocity
                    state[i, _HOME_TIME] = ghost.home_time
                    state[i, _HOME_HEIGHT] = ghost.height
        side = flags[:, 0]
        streak = flags[:, 1]
        past = flags[:, 2]

        # Only a real detection may commit a side or teach the velocity: a coasting box
        # is the tracker's guess. Place, time and velocity are of the last detection.
        observed = ~tracks.coasting
        dt = timestamp - state[:, _TIME]
        moving = known & observed & (dt > 0)
        if moving.any():
            step = (feet[moving] - state[moving, _FEET]) / dt[moving, None]
            state[moving, _VELOCITY] = 0.6 * state[moving, _VELOCITY] + 0.4 * step
        state[observed, _FEET] = feet[observed]
        state[observed, _TIME] = timestamp
        state[:, _HEIGHT] = at.heights

        # Direction of each real detection beyond the band: 1 on the inside, -1 outside.
        direction = ((dist > band) & observed).astype(np.int16) - ((dist < -band) & observed)
        # A side is taken after `confirm` detections in a row beyond the band on it; the
        # streak's sign is its direction. Taking the far side is a crossing.
        candidate = (direction != 0) & (direction != side)
        crossed = Crossings(0, 0)
        if candidate.any():
            extends = candidate & (np.sign(streak) == direction)
            streak[:] = np.where(
                extends,
                streak + direction,
                np.where(candidate, direction, np.where(observed, 0, streak)),
            )
            # A track appearing beyond the band takes that side at once; a side taken
            # later, or the far side, needs `confirm` detections in a row.
            commit = candidate & ((~known & (side == 0)) | (np.abs(streak) >= self._confirm))
            if commit.any():
                flipped = commit & (side != 0)
                crossed = self._tally(state[flipped, _ANCHOR], feet[flipped], direction[flipped])
                side[commit] = direction[commit]
                streak[commit] = 0
        else:
            streak[observed] = 0
        far = observed & (side != 0) & (dist * side <= -0.5 * band)
        past[:] = np.where(far, past + 1, np.where(observed, 0, past))
        home = (direction == side) & (direction != 0)
        state[home, _ANCHOR] = feet[home]
        state[home, _HOME_HEIGHT] = at.heights[home]
        state[home, _HOME_TIME] = timestamp

        if self._ids.size > np.count_nonzero(known):
            ended = self._retire(pos[known])
            crossed = Crossings(crossed.in_ + ended.in_, crossed.out + ended.out)
        if n > 1 and not bool(np.all(ids[1:] > ids[:-1])):
            order = np.argsort(ids, kind="stable")
            ids, state, flags = ids[order], state[order], flags[order]
        self._ids = ids.copy()
        self._state = state
        self._flags = flags
        return crossed

    def finish(self) -> Crossings:
        """At a clean end of the footage, count crossings already under way.

        A track whose last detection was beyond the band on the far side had crossed;
        footage that ends before the confirming detections can arrive must not lose it.
        So had a track last seen past the line itself (inside the band) that left its side
        at most END_CROSSING_SECONDS before: it was walking through when the footage
        ended. One that stood on the line for longer counts nothing.
        """
        if self._ids.size == 0:
            return Crossings(0, 0)
        side = self._flags[:, 0]
        streak = self._flags[:, 1]
        state = self._state
        pending = self._under_way(ended=False)
        if not pending.any():
            return Crossings(0, 0)
        crossed = self._tally(state[pending, _ANCHOR], state[pending, _FEET], -side[pending])
        side[pending] = -side[pending]
        streak[pending] = 0
        return crossed

    def _tally(self, start: F64, end: F64, new_side: npt.NDArray[np.int16]) -> Crossings:
        """Add the side changes whose path start -> end meets the segment to the totals."""
        if start.shape[0] == 0:
            return Crossings(0, 0)
        u = segment_parameter(start, end, self._a, self._b)
        directions = new_side[np.isfinite(u) & (u >= 0.0) & (u <= 1.0)]
        crossed = Crossings(
            int(np.count_nonzero(directions == 1)), int(np.count_nonzero(directions == -1))
        )
        self.total_in += crossed.in_
        self.total_out += crossed.out
        return crossed

    def _under_way(self, ended: bool) -> npt.NDArray[np.bool_]:
        """Rows with a crossing under way: last seen beyond the band on the far side
        awaiting confirmation, or past the line at most END_CROSSING_SECONDS after leaving
        their side.

        With `ended` (the track ended, not the footage), only rows last seen clearly past
        the line (by half the band), moving on towards the far side, having got there
        from their side no faster than ENDED_MAX_SPEED with a box of about the same size.
        """
        side = self._flags[:, 0]
        state = self._state
        recent = (side != 0) & (state[:, _TIME] - state[:, _HOME_TIME] <= END_CROSSING_SECONDS)
        if ended:
            onward = (state[:, _VELOCITY] @ self._toward) * side < 0
            step = state[:, _FEET] - state[:, _ANCHOR]
            took = np.maximum(state[:, _TIME] - state[:, _HOME_TIME], 1e-3)
            speed = np.hypot(step[:, 0], step[:, 1]) / (took * state[:, _HEIGHT])
            clearly = self._flags[:, 2] > 0
            growth = state[:, _HEIGHT] / np.maximum(state[:, _HOME_HEIGHT], 1e-6)
            same_size = np.abs(np.log(growth)) <= ENDED_MAX_GROWTH
            plausible = (speed <= ENDED_MAX_SPEED) & same_size
            return np.asarray(recent & clearly & onward & plausible)
        beyond = (side != 0) & (np.sign(self._flags[:, 1]) == -side)
        past = self._distance(state[:, _FEET]) * side < 0
        return np.asarray(beyond | (recent & past))

    def _retire(self, continuing: npt.NDArray[np.intp]) -> Crossings:
        """Tracks that ended (rows not in `continuing`) leave a ghost if they had a side.

        One that ended walking over the line counts its crossing now (see `_under_way`),
        and its ghost carries the far side, so whoever takes it over is not counted again.
        """
        gone = np.ones(self._ids.size, bool)
        gone[continuing] = False
        gone &= self._flags[:, 0] != 0
        crossed = Crossings(0, 0)
        passing = gone & self._under_way(ended=True)
        if passing.any():
            side = self._flags[:, 0]
            crossed = self._tally(
                self._state[passing, _ANCHOR], self._state[passing, _FEET], -side[passing]
            )
            side[passing] = -side[passing]
            self._state[passing, _ANCHOR] = self._state[passing, _FEET]
            self._state[passing, _HOME_HEIGHT] = self._state[passing, _HEIGHT]
            self._state[passing, _HOME_TIME] = self._state[passing, _TIME]
        for i in np.flatnonzero(gone):
            row = self._state[i]
            self._ghosts.append(
                _Ghost(
                    track=int(self._ids[i]),
                    side=int(self._flags[i, 0]),
                    anchor=row[_ANCHOR].copy(),
                    feet=row[_FEET].copy(),
                    velocity=row[_VELOCITY].copy(),
                    height=float(row[_HEIGHT]),
                    time=float(row[_TIME]),
                    home_time=float(row[_HOME_TIME]),
                )
            )
        return crossed

    def _expire_ghosts(self, timestamp: float) -> None:
        if self._ghosts:
            self._ghosts = [g for g in self._ghosts if timestamp - g.time <= self._ghost_keep]

    def _claim_ghost(self, track: int, feet: F64, height: float, timestamp: float) -> _Ghost | None:
        """The track's own ghost if it is coming back, else the nearest ghost younger than
        `ghost_seconds` whose motion predicts this new track's position; consumed."""
        best: tuple[float, int] | None = None
        for k, ghost in enumerate(self._ghosts):
            if ghost.track == track:
                return self._ghosts.pop(k)
        for k, ghost in enumerate(self._ghosts):
            gap = timestamp - ghost.time
            if gap > self._ghost_seconds:
                continue
            predicted = ghost.feet + ghost.velocity * gap
            size = max(ghost.height, height)
            speed = float(np.hypot(*ghost.velocity))
            radius = self._ghost_radius * size + 0.5 * speed * gap
            miss = float(np.hypot(*(feet - predicted)))
            if miss <= radius and (best is None or miss < best[0]):
                best = (miss, k)
        if best is None:
            return None
        return self._ghosts.pop(best[1])


class ZoneCounter:
    """Occupancy of one polygon: tracked people whose feet are inside it now."""

    def __init__(self, zone: ZoneConfig) -> None:
        self.name = zone.name
        self._polygon = Polygon(zone.polygon)

    def update(self, tracks: Tracks, positions: TrackPositions | None = None) -> int:
        if len(tracks) == 0:
            return 0
        feet = positions.feet if positions is not None else tracks.feet
        return int(np.count_nonzero(self._polygon.contains(feet)))


@dataclass(frozen=True, slots=True)
class CountState:
    """Totals since boot (or reset), this frame's crossings and occupancy."""

    totals: dict[str, tuple[int, int]]
    crossings: dict[str, tuple[int, int]]
    occupancy: dict[str, int]


class Counters:
    """All lines and zones of a sensor, advanced together once per frame."""

    def __init__(
        self,
        lines: list[LineConfig],
        zones: list[ZoneConfig],
        *,
        track_memory_seconds: float = 2.0,
    ) -> None:
        """`track_memory_seconds`: how long the tracker keeps a lost track (its max age)."""
        self.lines = [
            LineCounter(line, track_memory_seconds=track_memory_seconds) for line in lines
        ]
        self.zones = [ZoneCounter(zone) for zone in zones]

    def update(self, tracks: Tracks, timestamp: float) -> CountState:
        positions = TrackPositions.of(tracks)
        crossings: dict[str, tuple[int, int]] = {}
        for line in self.lines:
            c = line.update(tracks, timestamp, positions)
            crossings[line.name] = (c.in_, c.out)
        return CountState(
            totals=self.totals(),
            crossings=crossings,
            occupancy={zone.name: zone.update(tracks, positions) for zone in self.zones},
        )

    def finish(self) -> dict[str, tuple[int, int]]:
        """Crossings completed by the end of the footage (see LineCounter.finish)."""
        out: dict[str, tuple[int, int]] = {}
        for line in self.lines:
            c = line.finish()
            out[line.name] = (c.in_, c.out)
        return out

    def totals(self) -> dict[str, tuple[int, int]]:
        return {line.name: (line.total_in, line.total_out) for line in self.lines}

    def reset(self, names: list[str] | None = None) -> list[str]:
        """Zero the totals of the named lines (all when None); returns the names reset."""
        chosen = [line for line in self.lines if names is None or line.name in names]
        for line in chosen:
            line.reset()
        return [line.name for line in chosen]
