"""Counting from tracks: door lines (in/out at the feet) and zones (occupancy).

A line counts a crossing when a track's feet leave a dead band around the line on the
side opposite to the one it was last committed to, and the path from its last point
beyond the band on the old side meets the segment itself. Standing, turning or
jittering inside the band counts nothing. Who is who is the tracker's business: a track
that carries on one that left the output (`Tracks.continues`) takes over that one's
side, so a person whose track broke at the line is counted exactly once. A track that
ends while walking over the line, clearly past it, is counted then, and whoever carries
it on has the far side already.
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

    def __add__(self, other: Crossings) -> Crossings:
        return Crossings(self.in_ + other.in_, self.out + other.out)


# Per-track records of a line, one row per track (a numpy record array: the tracks of a
# frame are gathered, updated and stored with one indexing each, which a dict of
# per-track objects cannot do for 50 people within the speed budget).
_RECORD = np.dtype(
    [
        ("id", np.int64),
        ("side", np.int16),  # committed side: 1 inside, -1 outside, 0 none yet
        ("streak", np.int16),  # detections in a row beyond the band towards a new side, signed
        ("past", np.int16),  # detections in a row clearly past the line (half the band)
        ("anchor", np.float64, 2),  # last feet beyond the band on the committed side
        ("feet", np.float64, 2),  # feet at the last detection
        ("time", np.float64),  # time of the last detection
        ("velocity", np.float64, 2),  # the feet's velocity, as the tracker gives it
        ("height", np.float64),  # box height now
        ("home_time", np.float64),  # when last beyond the band on the committed side
        ("home_height", np.float64),  # and the box height there
    ]
)
Records = npt.NDArray[np.void]

ENDED_CLEARLY_PAST = 0.5
"""Fraction of the dead band's half-width: a track that ends counts its crossing only if
last seen at least this far past the line."""

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

    def __init__(self, line: LineConfig) -> None:
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
        self.total_in = 0
        self.total_out = 0
        self._records: Records = np.zeros((0,), _RECORD)  # the last frame's tracks, in order
        self._ended: dict[int, np.void] = {}  # sided tracks that left it, until forgotten

    def reset(self) -> None:
        """Zero the totals; the tracks' sides are kept, so nobody is counted twice."""
        self.total_in = 0
        self.total_out = 0

    @property
    def live_tracks(self) -> int:
        return int(self._records.shape[0])

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
        for track in tracks.forgotten.tolist():
            self._ended.pop(track, None)
        pos = tracks.previous
        known = pos >= 0
        records = self._gather(tracks, at, pos, known, timestamp)
        # Only a real detection may commit a side: a coasting box is the tracker's guess.
        observed = ~tracks.coasting
        self._observe(records, tracks, at, observed, timestamp)
        dist = self._distance(at.feet)
        band = self._band(at.xyxy)
        # Direction of each real detection beyond the band: 1 on the inside, -1 outside.
        direction = ((dist > band) & observed).astype(np.int16) - ((dist < -band) & observed)
        crossed = self._commit(records, direction, observed, known, at.feet)
        self._count_clearly_past(records, observed, dist, band)
        self._mark_home(records, direction, at, timestamp)
        if self._records.shape[0] > np.count_nonzero(known):
            crossed = crossed + self._retire(pos[known])
        self._records = records  # in the order of this frame's tracks
        return crossed

    @staticmethod
    def _observe(
        records: Records,
        tracks: Tracks,
        at: TrackPositions,
        observed: npt.NDArray[np.bool_],
        timestamp: float,
    ) -> None:
        """Place and time of each real detection; velocity and box height of every track."""
        if observed.all():
            records["feet"] = at.feet
            records["time"] = timestamp
        else:
            records["feet"][observed] = at.feet[observed]
            records["time"][observed] = timestamp
        records["velocity"] = tracks.velocity
        records["height"] = at.heights

    @staticmethod
    def _mark_home(
        records: Records, direction: npt.NDArray[np.int16], at: TrackPositions, timestamp: float
    ) -> None:
        """Tracks beyond the band on their committed side: where, when and how tall."""
        home = (direction == records["side"]) & (direction != 0)
        records["anchor"][home] = at.feet[home]
        records["home_height"][home] = at.heights[home]
        records["home_time"][home] = timestamp

    def _gather(
        self,
        tracks: Tracks,
        at: TrackPositions,
        pos: npt.NDArray[np.intp],
        known: npt.NDArray[np.bool_],
        timestamp: float,
    ) -> Records:
        """This frame's records: the known tracks' own; a new track starts where it stands
        with no side, unless it carries on a track that left with one (see Tracks)."""
        if known.all():
            return self._records[pos]
        records: Records = np.zeros(tracks.ids.shape[0], _RECORD)
        records["id"] = tracks.ids
        records["anchor"] = at.feet
        records["feet"] = at.feet
        records["time"] = timestamp
        records["home_time"] = timestamp
        records["home_height"] = at.heights
        records[known] = self._records[pos[known]]
        for i in np.flatnonzero(~known & (tracks.continues >= 0)):
            ended = self._ended.pop(int(tracks.continues[i]), None)
            if ended is not None:
                records["side"][i] = ended["side"]
                records["anchor"][i] = ended["anchor"]
                records["home_time"][i] = ended["home_time"]
                # Its box is compared with the box that left, not with that box's home.
                records["home_height"][i] = ended["height"]
        return records

    def _commit(
        self,
        records: Records,
        direction: npt.NDArray[np.int16],
        observed: npt.NDArray[np.bool_],
        known: npt.NDArray[np.bool_],
        feet: F64,
    ) -> Crossings:
        """A side is taken after `confirm` detections in a row beyond the band on it (the
        streak's sign is its direction); taking the far side is a crossing. A track
        appearing beyond the band takes that side at once."""
        side = records["side"]
        streak = records["streak"]
        candidate = (direction != 0) & (direction != side)
        if not candidate.any():
            streak[observed] = 0
            return Crossings(0, 0)
        extends = candidate & (np.sign(streak) == direction)
        records["streak"] = np.where(
            extends,
            streak + direction,
            np.where(candidate, direction, np.where(observed, 0, streak)),
        )
        streak = records["streak"]
        commit = candidate & ((~known & (side == 0)) | (np.abs(streak) >= self._confirm))
        if not commit.any():
            return Crossings(0, 0)
        flipped = commit & (side != 0)
        crossed = self._tally(records["anchor"][flipped], feet[flipped], direction[flipped])
        side[commit] = direction[commit]
        streak[commit] = 0
        return crossed

    def _count_clearly_past(
        self, records: Records, observed: npt.NDArray[np.bool_], dist: F64, band: F64
    ) -> None:
        """Detections in a row clearly past the line from the committed side."""
        side = records["side"]
        past = records["past"]
        far = observed & (side != 0) & (dist * side <= -ENDED_CLEARLY_PAST * band)
        records["past"] = np.where(far, past + 1, np.where(observed, 0, past))

    def finish(self) -> Crossings:
        """At a clean end of the footage, count crossings already under way.

        A track whose last detection was beyond the band on the far side had crossed;
        footage that ends before the confirming detections can arrive must not lose it.
        So had a track last seen past the line itself (inside the band) that left its side
        at most END_CROSSING_SECONDS before: it was walking through when the footage
        ended. One that stood on the line for longer counts nothing.
        """
        records = self._records
        if records.shape[0] == 0:
            return Crossings(0, 0)
        pending = self._under_way(records, ended=False)
        if not pending.any():
            return Crossings(0, 0)
        side = records["side"]
        crossed = self._tally(records["anchor"][pending], records["feet"][pending], -side[pending])
        side[pending] = -side[pending]
        records["streak"][pending] = 0
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

    def _under_way(self, records: Records, ended: bool) -> npt.NDArray[np.bool_]:
        """Rows with a crossing under way: last seen beyond the band on the far side
        awaiting confirmation, or past the line at most END_CROSSING_SECONDS after leaving
        their side.

        With `ended` (the track ended, not the footage), only rows last seen clearly past
        the line (ENDED_CLEARLY_PAST), moving on towards the far side, having got there
        from their side no faster than ENDED_MAX_SPEED with a box of about the same size.
        """
        side = records["side"]
        feet = records["feet"]
        time = records["time"]
        recent = (side != 0) & (time - records["home_time"] <= END_CROSSING_SECONDS)
        if ended:
            onward = (records["velocity"] @ self._toward) * side < 0
            step = feet - records["anchor"]
            took = np.maximum(time - records["home_time"], 1e-3)
            height = records["height"]
            speed = np.hypot(step[:, 0], step[:, 1]) / (took * height)
            clearly = records["past"] > 0
            growth = height / np.maximum(records["home_height"], 1e-6)
            same_size = np.abs(np.log(growth)) <= ENDED_MAX_GROWTH
            plausible = (speed <= ENDED_MAX_SPEED) & same_size
            return np.asarray(recent & clearly & onward & plausible)
        beyond = (side != 0) & (np.sign(records["streak"]) == -side)
        past = self._distance(feet) * side < 0
        return np.asarray(beyond | (recent & past))

    def _retire(self, continuing: npt.NDArray[np.intp]) -> Crossings:
        """Tracks that left the output (rows not in `continuing`) keep their record if
        they had a side, for whichever track carries them on.

        One that ended walking over the line counts its crossing now (see `_under_way`),
        and its record takes the far side, so whoever carries it on is not counted again.
        """
        gone = np.ones(self._records.shape[0], bool)
        gone[continuing] = False
        left = self._records[gone & (self._records["side"] != 0)]
        crossed = Crossings(0, 0)
        passing = self._under_way(left, ended=True)
        if passing.any():
            side = left["side"]
            crossed = self._tally(left["anchor"][passing], left["feet"][passing], -side[passing])
            side[passing] = -side[passing]
            left["anchor"][passing] = left["feet"][passing]
            left["home_height"][passing] = left["height"][passing]
            left["home_time"][passing] = left["time"][passing]
        for record in left:
            self._ended[int(record["id"])] = record
        return crossed


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

    def __init__(self, lines: list[LineConfig], zones: list[ZoneConfig]) -> None:
        self.lines = [LineCounter(line) for line in lines]
        self.zones = [ZoneCounter(zone) for zone in zones]
        self._occupancy = {zone.name: 0 for zone in self.zones}

    def update(self, tracks: Tracks, timestamp: float) -> CountState:
        positions = TrackPositions.of(tracks)
        crossings: dict[str, tuple[int, int]] = {}
        for line in self.lines:
            c = line.update(tracks, timestamp, positions)
            crossings[line.name] = (c.in_, c.out)
        self._occupancy = {zone.name: zone.update(tracks, positions) for zone in self.zones}
        return CountState(totals=self.totals(), crossings=crossings, occupancy=self._occupancy)

    def unchanged(self) -> CountState:
        """The state of a frame the detector skipped (motion gating): nobody was seen
        anew, so nothing crossed and the occupancy is the last frame's."""
        return CountState(
            totals=self.totals(),
            crossings={line.name: (0, 0) for line in self.lines},
            occupancy=dict(self._occupancy),
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
