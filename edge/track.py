"""Tracking by motion alone: ByteTrack-style use of weak detections, on a Kalman filter.

No appearance, no embeddings, no re-identification: a track is a box, its velocity and
their uncertainty. Ids are random per boot and never leave the process. Memory is
bounded: a track unmatched for `max_age_seconds` is forgotten.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.detections import Detections
from edge.geometry import iou_of_boxes
from edge.tracks import Tracks

F64 = npt.NDArray[np.float64]

# The Kalman filter runs four independent constant-velocity filters, one per axis (cx, cy,
# w, h): with diagonal process and measurement noise nothing ever links two axes, so each
# keeps its own 2x2 covariance. Noise, as fractions of box height: process noise per
# reference step of 1/30 s, and the detector's measurement noise.
_STD_POS = 1.0 / 40.0
_STD_VEL = 1.0 / 160.0
_STD_MEAS = 1.0 / 20.0
_REF_STEP = 1.0 / 30.0
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
# Stationary tracks (a mannequin or poster the detector takes for a person, or a person
# standing still): a confirmed track whose filtered centre has stayed within _STILL_RADIUS
# heights of one point for _STILL_SECONDS first takes the box that fits it closely (IoU of
# the unbuffered boxes at least _HOLD_IOU, centre within _STILL_RADIUS of that point), so
# nobody walking past can take its box. It takes no other box, except, when none of its
# own came, a box nobody else took within _RELEASE_RADIUS heights of that point (the
# person walked off), so it does not follow a slow passer-by away either.
_STILL_RADIUS = 0.15
_STILL_SECONDS = 5.0
_HOLD_IOU = 0.5
_RELEASE_RADIUS = 0.5


@dataclass(frozen=True, slots=True)
class TrackerSettings:
    """Association thresholds; checked once, when the tracker is built."""

    high_score: float = 0.5
    low_score: float = 0.2
    match_iou: float = 0.2
    low_match_iou: float = 0.4
    min_hits: int = 2
    max_age_seconds: float = 2.0
    coast_seconds: float = 1.0
    buffer: float = 0.3

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


def _to_state(xyxy: F64) -> F64:
    """x1,y1,x2,y2 -> cx,cy,w,h."""
    return np.concatenate([(xyxy[:, :2] + xyxy[:, 2:4]) * 0.5, xyxy[:, 2:4] - xyxy[:, :2]], 1)


def _to_xyxy(state: F64, grow: F64 | float = 0.0) -> F64:
    """cx,cy,w,h (N, >=4) -> x1,y1,x2,y2, each side grown by `grow` times the size."""
    scale = 0.5 + np.asarray(grow)
    half = np.maximum(state[:, 2:4], 1e-6) * (scale[:, None] if scale.ndim else scale)
    return np.concatenate([state[:, :2] - half, state[:, :2] + half], 1)


def greedy_pairs(
    rows: npt.NDArray[np.intp], cols: npt.NDArray[np.intp], score: F64
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Of candidate pairs (rows[k], cols[k]) with `score[k]`, those chosen greedily by
    descending score, each row and column at most once."""
    if rows.size == 0:
        empty = np.zeros((0,), np.intp)
        return empty, empty
    order = np.argsort(-score, kind="stable")
    used_r: set[int] = set()
    used_c: set[int] = set()
    out_r: list[int] = []
    out_c: list[int] = []
    for r, c in zip(rows[order].tolist(), cols[order].tolist(), strict=True):
        if r in used_r or c in used_c:
            continue
        used_r.add(r)
        used_c.add(c)
        out_r.append(r)
        out_c.append(c)
    return np.asarray(out_r, np.intp), np.asarray(out_c, np.intp)


def _contested(rows: npt.NDArray[np.intp], cols: npt.NDArray[np.intp]) -> bool:
    """Whether some row or column appears in more than one pair (rows ascending)."""
    if rows.size <= 1:
        return False
    return bool((rows[1:] == rows[:-1]).any()) or int(np.bincount(cols).max()) > 1


@dataclass(frozen=True, slots=True)
class _FrameData:
    """Per-frame arrays shared by the association stages."""

    predicted: F64
    grown: F64
    z: F64
    s_inv: F64
    """(T, 4) inverse variances of each track's predicted measurement (see _innovation_inverse)."""


class Tracker:
    """One call per frame, `update(detections, timestamp)`, also with no detections.

    Returns confirmed tracks: matched in this frame, or lost for at most `coast_seconds`
    (then `coasting` is True and the box is the motion model's prediction).
    """

    def __init__(self, settings: TrackerSettings | None = None, *, seed: int | None = None) -> None:
        self.settings = settings if settings is not None else TrackerSettings()
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
        self._still = np.zeros((0, 3))  # centre (x, y) and since when the track stood there
        self._time: float | None = None

    def __len__(self) -> int:
        """Number of live tracks (tentative, tracked and lost): bounded by the scene."""
        return int(self._ids.shape[0])

    def reset(self) -> None:
        """Forget every track (e.g. after the camera was re-opened)."""
        keep = np.zeros((0,), np.intp)
        self._select(keep)
        self._time = None

    def _select(self, index: npt.NDArray[np.intp] | npt.NDArray[np.bool_]) -> None:
        self._mean = self._mean[index]
        self._cov = self._cov[index]
        self._ids = self._ids[index]
        self._hits = self._hits[index]
        self._confirmed = self._confirmed[index]
        self._last_seen = self._last_seen[index]
        self._obs = self._obs[index]
        self._still = self._still[index]

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
        if not _contested(r, c):
            return r, c
        score = weighed[ok] * self._direction_weight(rows[r], frame.z[cols[c], :2])
        return greedy_pairs(r, c, score)

    def _hold(
        self, rows: npt.NDArray[np.intp], cols: npt.NDArray[np.intp], boxes: F64, frame: _FrameData
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """Stationary tracks' pairs with the detections that fit them closely (see
        _HOLD_IOU), as positions into `rows` and `cols`."""
        sim = iou_of_boxes(_to_xyxy(self._mean[rows]), boxes[cols])
        r, c = np.nonzero(sim >= _HOLD_IOU)
        if r.size == 0:
            return r, c
        near = self._from_still(rows[r], frame.z[cols[c], :2]) <= _STILL_RADIUS
        r, c = r[near], c[near]
        if not _contested(r, c):
            return r, c
        return greedy_pairs(r, c, sim[r, c])

    def _from_still(self, rows: npt.NDArray[np.intp], centres: F64) -> F64:
        """Distance of each centre from the point where its row's track stands (or last
        started standing), in that track's box heights."""
        off = centres - self._still[rows, :2]
        return np.asarray(np.hypot(off[:, 0], off[:, 1]) / self._mean[rows, 3])

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
        n = boxes.shape[0]
        if n == 0:
            return
        z = _to_state(boxes)
        mean = np.concatenate([z, np.zeros((n, 4))], axis=1)
        h = np.maximum(z[:, 3], 1e-3)
        cov = np.zeros((n, 3, 4))
        cov[:, 0] = ((2 * _STD_POS * h) ** 2)[:, None]
        cov[:, 2] = ((10 * _STD_VEL * h) ** 2)[:, None]
        ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        self._next_id += n
        self._mean = np.concatenate([self._mean, mean])
        self._cov = np.concatenate([self._cov, cov])
        self._ids = np.concatenate([self._ids, ids])
        self._hits = np.concatenate([self._hits, np.ones(n, np.int64)])
        self._confirmed = np.concatenate([self._confirmed, np.full(n, self.settings.min_hits <= 1)])
        self._last_seen = np.concatenate([self._last_seen, np.full(n, t)])
        self._obs = np.concatenate([self._obs, z[:, :2]])
        self._still = np.concatenate([self._still, np.c_[z[:, :2], np.full(n, t)]])

    def update(self, detections: Detections, timestamp: float) -> Tracks:
        """Advance every track to `timestamp`, associate `detections`, return confirmed tracks."""
        s = self.settings
        previous = self._time
        dt = 0.0 if previous is None else max(0.0, timestamp - previous)
        self._time = timestamp
        self._predict(dt)

        boxes = detections.xyxy.astype(np.float64)
        scores = detections.score
        high = (scores >= s.high_score).nonzero()[0]

        n_tracks = self._ids.shape[0]
        matched_track = np.full(n_tracks, -1, np.intp)  # detection index per track
        lost_for = timestamp - self._last_seen
        # Buffered boxes: a lost track's search area grows with the time it has been lost.
        grow = s.buffer * (1.0 + np.minimum(lost_for / max(s.coast_seconds, 1e-3), 3.0))
        frame = _FrameData(
            predicted=_to_xyxy(self._mean, grow),
            grown=_grow_boxes(boxes, s.buffer),
            z=_to_state(boxes),
            s_inv=self._innovation_inverse(),
        )

        confirmed = self._confirmed.nonzero()[0]
        low = ((scores >= s.low_score) & (scores < s.high_score)).nonzero()[0]
        # Stage 0: stationary tracks take the boxes that fit them closely, and only those.
        still = self._confirmed & (timestamp - self._still[:, 2] >= _STILL_SECONDS)
        if still.any():
            self._mean[still, 4:] = 0.0  # it stands: its velocity is the detector's jitter
            confirmed = confirmed[~still[confirmed]]
            if high.size or low.size:
                rows_s = still.nonzero()[0]
                pool = np.concatenate([high, low])
                r, c = self._hold(rows_s, pool, boxes, frame)
                if r.size:
                    matched_track[rows_s[r]] = pool[c]
                    free = np.ones(scores.shape[0], bool)
                    free[pool[c]] = False
                    high, low = high[free[high]], low[free[low]]

        # Stage 1: the other confirmed tracks (tracked or lost) against every detection
        # left; a weak one (a person coming out from behind someone is often seen only
        # weakly at first) needs the stricter overlap. Competing pairs go by motion fit,
        # so a track takes its own weak box rather than a confident one that fits its
        # motion worse.
        free_high = high
        if confirmed.size and (high.size or low.size):
            candidates = np.concatenate([high, low]) if low.size else high
            limit: float | F64 = (
                np.concatenate(
                    [np.full(high.size, s.match_iou), np.full(low.size, s.low_match_iou)]
                )
                if low.size
                else s.match_iou
            )
            r, c = self._associate(confirmed, candidates, limit, frame)
            matched_track[confirmed[r]] = candidates[c]
            free_high = _without(high, c[c < high.size])

        # Stage 2: tentative tracks against the confident detections left over; only
        # confident detections start or confirm tracks.
        if free_high.size and confirmed.size < n_tracks:
            tentative = np.flatnonzero(~self._confirmed)
            r, c = self._associate(tentative, free_high, s.match_iou, frame)
            matched_track[tentative[r]] = free_high[c]
            free_high = _without(free_high, c)

        # Stage 3: a stationary track that found no box of its own may take a box nobody
        # took that lies near where it stood (a person who stood still walks off).
        if still.any() and (free_high.size or low.size):
            waiting = np.flatnonzero(still & (matched_track < 0))
            free = np.ones(scores.shape[0], bool)
            free[matched_track[matched_track >= 0]] = False
            pool = np.concatenate([free_high, low[free[low]]])
            if waiting.size and pool.size:
                limit = np.where(scores[pool] >= s.high_score, s.match_iou, s.low_match_iou)
                r, c = self._associate(waiting, pool, limit, frame)
                near = self._from_still(waiting[r], frame.z[pool[c], :2]) <= _RELEASE_RADIUS
                r, c = r[near], c[near]
                matched_track[waiting[r]] = pool[c]
                free_high = _without(free_high, c[c < free_high.size])

        rows = (matched_track >= 0).nonzero()[0]
        if rows.size:
            self._correct(rows, frame.z[matched_track[rows]], frame.s_inv[rows])
            self._hits[rows] += 1
            self._last_seen[rows] = timestamp
            self._obs[rows] = frame.z[matched_track[rows], :2]
            # A track that moved out of reach of the point it stood at stands at a new one.
            moved = rows[self._from_still(rows, self._mean[rows, :2]) > _STILL_RADIUS]
            if moved.size:
                self._still[moved, :2] = self._mean[moved, :2]
                self._still[moved, 2] = timestamp
            self._confirmed |= self._hits >= s.min_hits
        if rows.size < n_tracks:
            unmatched = matched_track < 0
            # A lost track keeps its place but not its growth rate.
            self._mean[unmatched, 6:] = 0.0
            keep = ~(unmatched & ~self._confirmed) & (
                timestamp - self._last_seen <= s.max_age_seconds
            )
            if not keep.all():
                self._select(np.flatnonzero(keep))
        if free_high.size:
            self._spawn(boxes[free_high], timestamp)
        return self._output(timestamp)

    def _output(self, timestamp: float) -> Tracks:
        """Confirmed tracks seen now, or lost for at most `coast_seconds` and still in view:
        a coasting track whose predicted feet have left the image walked out of view."""
        lost_for = timestamp - self._last_seen
        lost = lost_for > 0
        visible = self._confirmed & (lost_for <= self.settings.coast_seconds)
        if lost.any():
            cx, bottom = self._mean[:, 0], self._mean[:, 1] + self._mean[:, 3] * 0.5
            in_view = (cx >= 0.0) & (cx <= 1.0) & (bottom >= 0.0) & (bottom <= 1.0)
            visible &= ~lost | in_view
        out = visible.nonzero()[0]
        xyxy = np.minimum(np.maximum(_to_xyxy(self._mean[out]), 0.0), 1.0).astype(np.float32)
        return Tracks(self._ids[out], xyxy, lost[out])


def _without(index: npt.NDArray[np.intp], taken: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """`index` less the entries at positions `taken`."""
    if taken.size == 0:
        return index
    left = np.ones(index.size, bool)
    left[taken] = False
    return index[left]


def _grow_boxes(xyxy: F64, grow: float) -> F64:
    margin = (xyxy[:, 2:4] - xyxy[:, :2]) * grow
    return np.concatenate([xyxy[:, :2] - margin, xyxy[:, 2:4] + margin], 1)
