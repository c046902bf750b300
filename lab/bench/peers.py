"""The counting systems compared by the benchmark, behind one small interface.

Each system takes the same per-frame `Detections` (normalized boxes and scores) and
returns that frame's line crossings and zone occupancy:

- `HeadcountSystem`: this project's `Tracker` and `Counters`, configured from the scene.
- `SupervisionSystem`: roboflow `supervision`'s `LineZone` and `PolygonZone` on the
  `trackers` package's `ByteTrackTracker`, in pixels, with documented defaults; tracks not
  confirmed yet (tracker id -1) are dropped before counting, as a careful user would.
- `NorfairSystem`: `norfair.Tracker` on box corners with the euclidean distance and a
  plain line test on the tracked box's bottom-centre (a sign change of the side and the
  path meeting the segment), zones by the same point in polygon.

The peers are imported lazily: they are the `bench` extra, never runtime dependencies.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from edge.config import Config, LineConfig, ZoneConfig
from edge.count import Counters
from edge.detections import Detections
from edge.geometry import points_in_polygon, segment_parameter, signed_distance
from edge.track import Tracker

PEER_PACKAGES = ("supervision", "trackers", "norfair")
INSTALL_HINT = "pip install -e '.[bench]'"


class PeersMissingError(Exception):
    """A peer package is not installed; the message says how to install it."""


@dataclass(frozen=True, slots=True)
class FrameCounts:
    """One frame's output: crossings per line (in, out) and occupancy per zone."""

    crossings: dict[str, tuple[int, int]]
    occupancy: dict[str, int]


class CountingSystem(Protocol):
    """A tracker plus counters: one `update` per frame, also with no detections."""

    name: str

    def update(self, detections: Detections, timestamp: float) -> FrameCounts: ...

    def finish(self) -> dict[str, tuple[int, int]]:
        """Crossings the system completes when the footage ends (none for most)."""
        ...


def require_peers() -> dict[str, str]:
    """Versions of the peer packages, or PeersMissingError naming the install command."""
    versions: dict[str, str] = {}
    missing: list[str] = []
    for package in PEER_PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            missing.append(package)
    if missing:
        raise PeersMissingError(
            f"the benchmark's peers ({', '.join(missing)}) are not installed; "
            f"run `{INSTALL_HINT}` (norfair: see the Makefile's bench target)"
        )
    return versions


class HeadcountSystem:
    """This project's tracker and counters, exactly as the sensor builds them."""

    name = "headcount"

    def __init__(self, config: Config, *, seed: int = 0) -> None:
        from edge.bootstrap import tracker_settings

        self._tracker = Tracker(tracker_settings(config), seed=seed)
        self._counters = Counters(
            config.lines, config.zones, track_memory_seconds=config.tracker.max_age_seconds
        )

    def update(self, detections: Detections, timestamp: float) -> FrameCounts:
        tracks = self._tracker.update(detections, timestamp)
        state = self._counters.update(tracks, timestamp)
        return FrameCounts(state.crossings, state.occupancy)

    def finish(self) -> dict[str, tuple[int, int]]:
        """What the sensor does at the end of a file: crossings under way are counted."""
        return self._counters.finish()


def _pixels(points: npt.ArrayLike, size: tuple[int, int]) -> npt.NDArray[np.float64]:
    return np.asarray(points, np.float64).reshape(-1, 2) * np.asarray(size, np.float64)


def supervision_line_ends(line: LineConfig) -> tuple[tuple[float, float], tuple[float, float]]:
    """(start, end) so that supervision's `in` is our `in`.

    supervision counts `in` for an anchor going from the side where
    cross(end - start, p - start) > 0 to the side where it is < 0 (image y points down);
    our `inside` must therefore lie on the negative side.
    """
    a, b = line.points
    inside = signed_distance(np.asarray([line.inside]), a, b)[0]
    return (a, b) if inside < 0 else (b, a)


class SupervisionSystem:
    """`trackers.ByteTrackTracker` + `supervision.LineZone` / `PolygonZone`, in pixels.

    The tracker gets its documented defaults and the scene's frame rate; lines and zones
    trigger on the box's bottom centre, like ours.
    """

    name = "supervision"

    def __init__(
        self,
        lines: Sequence[LineConfig],
        zones: Sequence[ZoneConfig],
        size: tuple[int, int],
        fps: float,
    ) -> None:
        try:
            sv: Any = importlib.import_module("supervision")
            trackers: Any = importlib.import_module("trackers")
        except ImportError:
            raise PeersMissingError(
                f"supervision and trackers are needed for the benchmark; run `{INSTALL_HINT}`"
            ) from None
        self._sv = sv
        self._size = size
        self._tracker: Any = trackers.ByteTrackTracker(frame_rate=fps)
        anchor = [sv.Position.BOTTOM_CENTER]
        self._lines: list[tuple[str, Any]] = []
        for line in lines:
            start, end = (_pixels(p, size)[0] for p in supervision_line_ends(line))
            zone = sv.LineZone(
                start=sv.Point(float(start[0]), float(start[1])),
                end=sv.Point(float(end[0]), float(end[1])),
                triggering_anchors=anchor,
            )
            self._lines.append((line.name, zone))
        self._zones: list[tuple[str, Any]] = [
            (
                zone.name,
                sv.PolygonZone(
                    polygon=np.round(_pixels(zone.polygon, size)).astype(np.int64),
                    triggering_anchors=anchor,
                ),
            )
            for zone in zones
        ]

    def update(self, detections: Detections, timestamp: float) -> FrameCounts:
        sv = self._sv
        w, h = self._size
        scale = np.asarray([w, h, w, h], np.float32)
        frame = sv.Detections(
            xyxy=detections.xyxy * scale,
            confidence=detections.score.copy(),
            class_id=np.zeros(len(detections), int),
        )
        tracked = self._tracker.update(frame)
        ids = tracked.tracker_id
        if ids is not None and len(tracked):
            tracked = tracked[np.asarray(ids) != -1]
            tracked.tracker_id = np.asarray(tracked.tracker_id).astype(int)
        crossings: dict[str, tuple[int, int]] = {}
        for name, line_zone in self._lines:
            crossed_in, crossed_out = line_zone.trigger(tracked)
            crossings[name] = (
                int(np.count_nonzero(crossed_in)),
                int(np.count_nonzero(crossed_out)),
            )
        occupancy = {
            name: int(np.count_nonzero(zone.trigger(tracked))) if len(tracked) else 0
            for name, zone in self._zones
        }
        return FrameCounts(crossings, occupancy)

    def finish(self) -> dict[str, tuple[int, int]]:
        """Nothing is pending at the end: this system counts on the sign change itself."""
        return {}


class PlainLine:
    """A sign change of the feet's side with the path meeting the segment; no dead band."""

    def __init__(self, line: LineConfig) -> None:
        self.name = line.name
        self.a = np.asarray(line.points[0], np.float64)
        self.b = np.asarray(line.points[1], np.float64)
        inside = signed_distance(np.asarray([line.inside]), self.a, self.b)[0]
        self.orient = 1.0 if inside > 0 else -1.0
        self.last: dict[int, tuple[float, npt.NDArray[np.float64]]] = {}

    def update(self, ids: Sequence[int], feet: npt.NDArray[np.float64]) -> tuple[int, int]:
        n_in = n_out = 0
        side = signed_distance(feet, self.a, self.b) * self.orient if len(ids) else np.zeros(0)
        seen: dict[int, tuple[float, npt.NDArray[np.float64]]] = {}
        for k, track in enumerate(ids):
            s = float(side[k])
            previous = self.last.get(track)
            if s == 0.0:
                if previous is not None:
                    seen[track] = previous
                continue
            if previous is not None and np.sign(previous[0]) != np.sign(s):
                u = segment_parameter(previous[1], feet[k], self.a, self.b)[0]
                if np.isfinite(u) and 0.0 <= u <= 1.0:
                    if s > 0:
                        n_in += 1
                    else:
                        n_out += 1
            seen[track] = (s, feet[k].copy())
        self.last = seen
        return n_in, n_out


class NorfairSystem:
    """`norfair.Tracker` on box corners (euclidean, threshold in pixels) + a plain line test.

    Detections at or above `min_score` are tracked (norfair has no low-score stage); the
    other tracker arguments keep norfair's defaults.
    """

    def __init__(
        self,
        lines: Sequence[LineConfig],
        zones: Sequence[ZoneConfig],
        size: tuple[int, int],
        *,
        distance_threshold: float,
        min_score: float = 0.5,
    ) -> None:
        try:
            norfair: Any = importlib.import_module("norfair")
        except ImportError:
            raise PeersMissingError(
                f"norfair is needed for the benchmark; run `{INSTALL_HINT}`"
            ) from None
        self._norfair = norfair
        self.name = f"norfair@{distance_threshold:g}px"
        self.distance_threshold = distance_threshold
        self._size = size
        self._min_score = min_score
        self._tracker: Any = norfair.Tracker(
            distance_function="euclidean", distance_threshold=distance_threshold
        )
        self._lines = [PlainLine(line) for line in lines]
        self._zones = [(zone.name, np.asarray(zone.polygon, np.float64)) for zone in zones]

    def update(self, detections: Detections, timestamp: float) -> FrameCounts:
        norfair = self._norfair
        w, h = self._size
        keep = detections.score >= self._min_score
        boxes = detections.xyxy[keep].astype(np.float64) * np.asarray([w, h, w, h])
        scores = detections.score[keep].astype(np.float64)
        found = [
            norfair.Detection(points=box.reshape(2, 2), scores=np.array([s, s]))
            for box, s in zip(boxes, scores, strict=True)
        ]
        objects = self._tracker.update(detections=found)
        ids = [int(obj.id) for obj in objects]
        if objects:
            corners = np.stack([np.asarray(obj.estimate, np.float64) for obj in objects])
            feet = np.stack(
                [(corners[:, 0, 0] + corners[:, 1, 0]) * 0.5 / w, corners[:, 1, 1] / h], axis=1
            )
        else:
            feet = np.zeros((0, 2))
        crossings = {line.name: line.update(ids, feet) for line in self._lines}
        occupancy = {
            name: int(np.count_nonzero(points_in_polygon(feet.astype(np.float32), polygon)))
            if len(feet)
            else 0
            for name, polygon in self._zones
        }
        return FrameCounts(crossings, occupancy)

    def finish(self) -> dict[str, tuple[int, int]]:
        """Nothing is pending at the end: this system counts on the sign change itself."""
        return {}
