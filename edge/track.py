"""Tracking by motion alone: ByteTrack-style use of weak detections, on a Kalman filter.

No appearance, no embeddings, no re-identification: a track is a box, its velocity and
their uncertainty. Ids are random per boot and never leave the process. Memory is
bounded: a track unmatched for `max_age_seconds` is forgotten. Two policies sit beside
the association: the stationary hold (`edge.stationary`) and re-finding broken tracks
(`edge.links`), so the counters downstream only count.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.config import DetectorConfig, TrackerConfig
from edge.detections import Detections
from edge.geometry import iou_of_boxes
from edge.links import LinkSettings, TrackLinks
from edge.matching import contested, greedy_pairs, without
from edge.stationary import StationaryHold, StationarySettings
from edge.tracks import Tracks

F64 = npt.NDArray[np.float64]
Index = npt.NDArray[np.intp]

# The Kalman filter runs four independent constant-velocity filters, one per axis (cx, cy,
# w, h): with diagonal process and measurement noise nothing ever links two axes, so each
# keeps its own 2x2 covariance. Noise, as fractions of box height: process noise per
# reference step of 1/30 s, and the detector's measurement noise.
_STD_POS = 1.0 / 40.0
_STD_VEL = 1.0 / 160.0
_STD_MEAS = 1.0 / 20.0
_REF_STEP = 1.0 / 30.0
# A new track's uncertainty, in multiples of the process noise: its place is a detection
# (a little uncertain), its velocity unknown (very uncertain).
_SPAWN_POS_STD = 2.0
_SPAWN_VEL_STD = 10.0
_CHI2_95_4DOF = 9.488
# Among boxes that overlap a track, prefer the one its motion predicts: IoU is scaled by
# exp(-w d^2), so two people passing each other keep their own tracks.
_MOTION_WEIGHT = 0.125
# Direction consistency (after OC-SORT's observation-centric momentum): a box that lies
# behind a moving track's last observation, against its velocity, is probably someone
# walking the other way. Among the pairs that may match, the preference is scaled by
# 1 - w (1 - cos) / 2: halved for a box straight behind, untouched straight ahead. Tracks
# slower than _DIR_MIN_SPEED heights per reference step, or boxes within _DIR_MIN_STEP
# heights of the last observation, have no direction to speak of.
_DIR_WEIGHT = 0.5
_DIR_MIN_SPEED = 0.005
_DIR_MIN_STEP = 0.02
# A lost track's search box grows with the time it has been lost, by `buffer` per
# coast time, up to _MAX_LOST_GROWTH times `buffer` on top of the usual buffer.
_MAX_LOST_GROWTH = 3.0


def _config_default(section: type[DetectorConfig | TrackerConfig], key: str) -> Any:
    """The config's default for `key` of `section`: defaults are written there only."""
    return field(default=section.model_fields[key].default)


@dataclass(frozen=True, slots=True)
class TrackerSettings:
    """Association thresholds; checked once, when the tracker is built.

    Every default is the config's (`edge.config`, `[detector]` and `[tracker]`): a
    sensor builds its settings with `from_config`.
    """

    high_score: float = _config_default(DetectorConfig, "score_threshold")
    low_score: float = _config_default(DetectorConfig, "low_score_threshold")
    match_iou: float = _config_default(TrackerConfig, "match_iou")
    low_match_iou: float = _config_default(TrackerConfig, "low_match_iou")
    min_hits: int = _config_default(TrackerConfig, "min_hits")
    max_age_seconds: float = _config_default(TrackerConfig, "max_age_seconds")
    coast_seconds: float = _config_default(TrackerConfig, "coast_seconds")
    buffer: float = _config_default(TrackerConfig, "buffer")
    stationary: StationarySettings = field(default_factory=StationarySettings)
    links: LinkSettings = field(default_factory=LinkSettings)

    def __post_init__(self) -> None:
        if not 0.0 < self.low_score <= self.high_score <= 1.0:
            raise ValueError(
                f"need 0 < low_score <= high_score <= 1, got {self.low_score}, {self.high_score}"
            )
        if not 0.0 < self.match_iou < 1.0 or not 0.0 < self.low_match_iou < 1.0:
            raise ValueError("match_iou and low_match_iou must lie in (0, 1)")
        if self.min_hits < 1:
            raise ValueError(f"min_hits must be at least 1, got {self.min_hits}")
        if self.max_age_seconds <= 0 or self.coast_seconds < 0:
            raise ValueError("max_age_seconds must be > 0 and coast_seconds >= 0")
        if not 0.0 <= self.buffer <= 2.0:
            raise ValueError(f"buffer must lie in [0, 2], got {self.buffer}")

    @classmethod
    def from_config(
        cls, detector: DetectorConfig | None = None, tracker: TrackerConfig | None = None
    ) -> TrackerSettings:
        """The settings of a sensor's `[detector]` and `[tracker]` (their defaults if None)."""
        d = detector if detector is not None else DetectorConfig()
        t = tracker if tracker is not None else TrackerConfig()
        return cls(
            high_score=d.score_threshold,
            low_score=d.low_score_threshold,
            match_iou=t.match_iou,
            low_match_iou=t.low_match_iou,
            min_hits=t.min_hits,
            max_age_seconds=t.max_age_seconds,
            coast_seconds=t.coast_seconds,
            buffer=t.buffer,
        )

    @classmethod
    def default(cls) -> TrackerSettings:
        """The config's defaults."""
        return cls.from_config()


def _to_state(xyxy: F64) -> F64:
    """x1,y1,x2,y2 -> cx,cy,w,h."""
    return np.concatenate([(xyxy[:, :2] + xyxy[:, 2:4]) * 0.5, xyxy[:, 2:4] - xyxy[:, :2]], 1)


def _to_xyxy(state: F64, grow: F64 | float = 0.0) -> F64:
    """cx,cy,w,h (N, >=4) -> x1,y1,x2,y2, each side grown by `grow` times the size."""
    scale = 0.5 + np.asarray(grow)
    half = np.maximum(state[:, 2:4], 1e-6) * (scale[:, None] if scale.ndim else scale)
    return np.concatenate([state[:, :2] - half, state[:, :2] + half], 1)


def _grow_boxes(xyxy: F64, grow: float) -> F64:
    margin = (xyxy[:, 2:4] - xyxy[:, :2]) * grow
    return np.concatenate([xyxy[:, :2] - margin, xyxy[:, 2:4] + margin], 1)


@dataclass(frozen=True, slots=True)
class _FrameData:
    """Per-frame arrays shared by the association stages."""

    boxes: F64
    scores: npt.NDArray[np.float32]
    predicted: F64
    """(T, 4) each track's predicted box, buffered (more for a lost track)."""
    grown: F64
    """(D, 4) the detections' boxes, buffered."""
    z: F64
    """(D, 4) the detections as measurements: cx, cy, w, h."""
    s_inv: F64
    """(T, 4) inverse variances of each track's predicted measurement (see _innovation_inverse)."""


@dataclass(slots=True)
class _Free:
    """Detections nobody took yet: confident ones (`high`) and weak ones (`low`)."""

    high: Index
    low: Index

    def pool(self) -> Index:
        return np.concatenate([self.high, self.low]) if self.low.size else self.high

    def take(self, pool: Index, taken: Index) -> None:
        """Drop `pool`'s entries at positions `taken` (pool = high then low)."""
        if taken.size:
            n = self.high.size
            weak = taken >= n
            self.high = without(self.high, taken[~weak])
            if weak.any():
                self.low = without(self.low, taken[weak] - n)


class Tracker:
    """One call per frame, `update(detections, timestamp)`, also with no detections.

    Returns confirmed tracks: matched in this frame, or lost for at most `coast_seconds`
    (then `coasting` is True and the box is the motion model's prediction), linked to the
    tracks they carry on (see `edge.links`).
    """

    def __init__(self, settings: TrackerSettings | None = None, *, seed: int | None = None) -> None:
        self.settings = settings if settings is not None else TrackerSettings.default()
        rng = np.random.default_rng(seed) if seed is not None else None
        start = int(rng.integers(0, 2**62)) if rng is not None else secrets.randbits(62)
        self._next_id = start
        self._mean = np.zeros((0, 8))
        self._cov = np.zeros((0, 3, 4))  # per axis: var(pos), cov(pos, vel), var(vel)
        self._ids = np.zeros((0,), np.int64)
        self._hits = np.zeros((0,), np.int64)
        self._confirmed = np.zeros((0,), bool)
        self._last_seen = np.zeros((0,))
        self._obs = np.zeros((0, 2))
        self._hold = StationaryHold(self.settings.stationary)
        self._links = TrackLinks(self.settings.links, self.settings.max_age_seconds)
        self._time: float | None = None

    def __len__(self) -> int:
        """Number of live tracks (tentative, tracked and lost): bounded by the scene."""
        return int(self._ids.shape[0])

    def reset(self) -> None:
        """Forget every track (e.g. after the camera was re-opened); tracks that leave the
        output so may still be carried on by new ones, as any broken track."""
        self._select(np.zeros((0,), np.intp))
        self._time = None

    def update(self, detections: Detections, timestamp: float) -> Tracks:
        """Advance every track to `timestamp`, associate `detections`, return confirmed tracks."""
        previous, self._time = self._time, timestamp
        self._predict(0.0 if previous is None else max(0.0, timestamp - previous))
        frame = self._frame(detections, timestamp)
        s = self.settings
        scores = frame.scores
        free = _Free(
            high=(scores >= s.high_score).nonzero()[0],
            low=((scores >= s.low_score) & (scores < s.high_score)).nonzero()[0],
        )
        matched = np.full(len(self), -1, np.intp)  # detection index per track row
        standing = self._hold.standing(self._confirmed, timestamp)
        anyone_standing = bool(standing.any())
        if anyone_standing:
            self._mean[standing, 4:] = 0.0  # it stands: its velocity is the detector's jitter
            self._match_standing(standing, frame, free, matched)
        self._match_moving(self._confirmed & ~standing, frame, free, matched)
        self._match_tentative(frame, free, matched)
        if anyone_standing:
            self._release_standing(standing, frame, free, matched)
        self._correct_matched(matched, frame, timestamp)
        self._forget_lost(matched < 0, timestamp)
        self._spawn(frame.boxes[free.high], timestamp)
        return self._output(timestamp)

    def _frame(self, detections: Detections, timestamp: float) -> _FrameData:
        s = self.settings
        boxes = detections.xyxy.astype(np.float64)
        lost_for = timestamp - self._last_seen
        grow = s.buffer * (
            1.0 + np.minimum(lost_for / max(s.coast_seconds, 1e-3), _MAX_LOST_GROWTH)
        )
        return _FrameData(
            boxes=boxes,
            scores=detections.score,
            predicted=_to_xyxy(self._mean, grow),
            grown=_grow_boxes(boxes, s.buffer),
            z=_to_state(boxes),
            s_inv=self._innovation_inverse(),
        )

    def _limits(self, frame: _FrameData, pool: Index) -> F64:
        """Least overlap per detection: a weak one (a person coming out from behind someone
        is often seen only weakly at first) needs the stricter `low_match_iou`."""
        s = self.settings
        return np.where(frame.scores[pool] >= s.high_score, s.match_iou, s.low_match_iou)

    def _match_standing(
        self, standing: npt.NDArray[np.bool_], frame: _FrameData, free: _Free, matched: Index
    ) -> None:
        """Stage 0: standing tracks take the boxes that fit them closely, and only those."""
        pool = free.pool()
        if pool.size == 0:
            return
        rows = standing.nonzero()[0]
        r, c = self._hold.own_boxes(
            rows,
            _to_xyxy(self._mean[rows]),
            frame.boxes[pool],
            frame.z[pool, :2],
            self._mean[rows, 3],
        )
        matched[rows[r]] = pool[c]
        free.take(pool, c)

    def _match_moving(
        self, moving: npt.NDArray[np.bool_], frame: _FrameData, free: _Free, matched: Index
    ) -> None:
        """Stage 1: the other confirmed tracks (tracked or lost) against every detection
        left. Competing pairs go by motion fit, so a track takes its own weak box rather
        than a confident one that fits its motion worse."""
        rows = moving.nonzero()[0]
        pool = free.pool()
        if rows.size == 0 or pool.size == 0:
            return
        r, c = self._associate(rows, pool, self._limits(frame, pool), frame)
        matched[rows[r]] = pool[c]
        free.take(pool, c)

    def _match_tentative(self, frame: _FrameData, free: _Free, matched: Index) -> None:
        """Stage 2: tentative tracks against the confident detections left over; only
        confident detections start or confirm tracks."""
        rows = np.flatnonzero(~self._confirmed)
        if rows.size == 0 or free.high.size == 0:
            return
        pool = free.high
        r, c = self._associate(rows, pool, self.settings.match_iou, frame)
        matched[rows[r]] = pool[c]
        free.high = without(pool, c)

    def _release_standing(
        self, standing: npt.NDArray[np.bool_], frame: _FrameData, free: _Free, matched: Index
    ) -> None:
        """Stage 3: a standing track that found no box of its own may take a box nobody
        took that lies near where it stood (a person who stood still walks off)."""
        rows = np.flatnonzero(standing & (matched < 0))
        pool = free.pool()
        if rows.size == 0 or pool.size == 0:
            return
        r, c = self._associate(rows, pool, self._limits(frame, pool), frame)
        near = self._hold.released(rows[r], frame.z[pool[c], :2], self._mean[rows[r], 3])
        r, c = r[near], c[near]
        matched[rows[r]] = pool[c]
        free.take(pool, c)

    def _correct_matched(self, matched: Index, frame: _FrameData, timestamp: float) -> None:
        """Fold each matched detection into its track."""
        rows = (matched >= 0).nonzero()[0]
        if rows.size == 0:
            return
        self._correct(rows, frame.z[matched[rows]], frame.s_inv[rows])
        self._hits[rows] += 1
        self._last_seen[rows] = timestamp
        self._obs[rows] = frame.z[matched[rows], :2]
        self._hold.moved(rows, self._mean[rows, :2], self._mean[rows, 3], timestamp)
        self._confirmed |= self._hits >= self.settings.min_hits

    def _forget_lost(self, unmatched: npt.NDArray[np.bool_], timestamp: float) -> None:
        """Unmatched tentative tracks, and tracks lost longer than `max_age_seconds`, go."""
        if not unmatched.any():
            return
        self._mean[unmatched, 6:] = 0.0  # a lost track keeps its place but not its growth rate
        keep = ~(unmatched & ~self._confirmed) & (
            timestamp - self._last_seen <= self.settings.max_age_seconds
        )
        if not keep.all():
            self._select(np.flatnonzero(keep))

    def _select(self, index: Index | npt.NDArray[np.bool_]) -> None:
        self._mean = self._mean[index]
        self._cov = self._cov[index]
        self._ids = self._ids[index]
        self._hits = self._hits[index]
        self._confirmed = self._confirmed[index]
        self._last_seen = self._last_seen[index]
        self._obs = self._obs[index]
        self._hold.select(index)

    def _predict(self, dt: float) -> None:
        if self._mean.shape[0] == 0 or dt <= 0:
            return
        step = dt / _REF_STEP
        h = np.maximum(self._mean[:, 3], 1e-3)
        self._mean[:, :4] += self._mean[:, 4:] * step
        # Per axis, P = F P F^T + Q with F = [[1, step], [0, 1]], Q = diag(pos, vel) h^2 step.
        q = (h * h * step)[:, None]
        cov = self._cov
        pos_pos, pos_vel, vel_vel = cov[:, 0], cov[:, 1], cov[:, 2]
        pos_pos += step * (2.0 * pos_vel + step * vel_vel) + q * _STD_POS**2
        pos_vel += step * vel_vel
        vel_vel += q * _STD_VEL**2

    def _innovation_inverse(self) -> F64:
        """(T, 4) inverse variances of each track's predicted measurement (cx, cy, w, h)."""
        r = (_STD_MEAS * np.maximum(self._mean[:, 3], 1e-3)) ** 2
        return np.asarray(1.0 / (self._cov[:, 0] + r[:, None]))

    def _associate(
        self,
        rows: npt.NDArray[np.intp],
        cols: npt.NDArray[np.intp],
        threshold: float | F64,
        frame: _FrameData,
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """Matched pairs, as positions into `rows` (tracks) and `cols` (detections).

        A pair can match when the IoU of the predicted (buffered) box with the detection,
        weighed by how well the box fits the track's motion, reaches `threshold` and the
        squared Mahalanobis distance of the box (cx, cy, w, h) from the prediction is
        within the chi-square 95% quantile for 4 degrees. Where pairs compete for a track
        or a detection, they are taken greedily by that weight times the direction
        consistency (from the track's last observed centre), so direction decides between
        competitors and never keeps a lone track from its box.
        """
        sim = iou_of_boxes(frame.predicted[rows], frame.grown[cols])
        limit = np.broadcast_to(np.asarray(threshold, np.float64), cols.shape)
        r, c = np.nonzero(sim >= limit)
        if r.size == 0:
            return r, c
        diff = frame.z[cols[c]] - self._mean[rows[r], :4]
        d2 = (diff * diff * frame.s_inv[rows[r]]).sum(axis=1)
        weighed = sim[r, c] * np.exp(-_MOTION_WEIGHT * d2)
        ok = (weighed >= limit[c]) & (d2 <= _CHI2_95_4DOF)
        r, c = r[ok], c[ok]
        if not contested(r, c):
            return r, c
        score = weighed[ok] * self._direction_weight(rows[r], frame.z[cols[c], :2])
        return greedy_pairs(r, c, score)

    def _direction_weight(self, rows: npt.NDArray[np.intp], centres: F64) -> F64:
        """Per (track row, box centre) pair: 1 ahead of the track's motion, down to
        1 - _DIR_WEIGHT straight behind it (see _DIR_WEIGHT)."""
        velocity = self._mean[rows, 4:6]
        step = centres - self._obs[rows]
        h = np.maximum(self._mean[rows, 3], 1e-3)
        speed = np.hypot(velocity[:, 0], velocity[:, 1])
        dist = np.hypot(step[:, 0], step[:, 1])
        cos = (velocity * step).sum(axis=1) / np.maximum(speed * dist, 1e-12)
        moving = (speed > _DIR_MIN_SPEED * h) & (dist > _DIR_MIN_STEP * h)
        return np.where(moving, 1.0 - _DIR_WEIGHT * 0.5 * (1.0 - cos), 1.0)

    def _correct(self, rows: npt.NDArray[np.intp], z: F64, s_inv: F64) -> None:
        """Kalman update of the matched rows with measurements `z` (cx, cy, w, h);
        `s_inv` their inverse innovation variances."""
        if rows.size == 0:
            return
        cov = self._cov[rows]
        pos_pos, pos_vel, vel_vel = cov[:, 0], cov[:, 1], cov[:, 2]
        gain_pos = pos_pos * s_inv
        gain_vel = pos_vel * s_inv
        innovation = z - self._mean[rows, :4]
        self._mean[rows, :4] += gain_pos * innovation
        self._mean[rows, 4:] += gain_vel * innovation
        vel_vel -= gain_vel * pos_vel
        pos_vel -= gain_pos * pos_vel
        pos_pos -= gain_pos * pos_pos
        self._cov[rows] = cov

    def _spawn(self, boxes: F64, t: float) -> None:
        """New tentative tracks (confirmed at once when `min_hits` is 1) on `boxes`."""
        n = boxes.shape[0]
        if n == 0:
            return
        z = _to_state(boxes)
        mean = np.concatenate([z, np.zeros((n, 4))], axis=1)
        h = np.maximum(z[:, 3], 1e-3)
        cov = np.zeros((n, 3, 4))
        cov[:, 0] = ((_SPAWN_POS_STD * _STD_POS * h) ** 2)[:, None]
        cov[:, 2] = ((_SPAWN_VEL_STD * _STD_VEL * h) ** 2)[:, None]
        ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        self._next_id += n
        self._mean = np.concatenate([self._mean, mean])
        self._cov = np.concatenate([self._cov, cov])
        self._ids = np.concatenate([self._ids, ids])
        self._hits = np.concatenate([self._hits, np.ones(n, np.int64)])
        self._confirmed = np.concatenate([self._confirmed, np.full(n, self.settings.min_hits <= 1)])
        self._last_seen = np.concatenate([self._last_seen, np.full(n, t)])
        self._obs = np.concatenate([self._obs, z[:, :2]])
        self._hold.add(z[:, :2], t)

    def _output(self, timestamp: float) -> Tracks:
        """Confirmed tracks seen now, or lost for at most `coast_seconds` and still in view
        (a coasting track whose predicted feet have left the image walked out of view),
        with their links."""
        lost_for = timestamp - self._last_seen
        lost = lost_for > 0
        visible = self._confirmed & (lost_for <= self.settings.coast_seconds)
        if lost.any():
            cx, bottom = self._mean[:, 0], self._mean[:, 1] + self._mean[:, 3] * 0.5
            in_view = (cx >= 0.0) & (cx <= 1.0) & (bottom >= 0.0) & (bottom <= 1.0)
            visible &= ~lost | in_view
        out = visible.nonzero()[0]
        xyxy = np.minimum(np.maximum(_to_xyxy(self._mean[out]), 0.0), 1.0).astype(np.float32)
        return self._links.update(self._ids[out], xyxy, lost[out], timestamp)
