"""What the page shows over the background: anonymous feet dots and a preview of the counts.

The dots are where confirmed tracks stand in the latest frame, rounded and sorted, so
their order carries no identity; nothing of earlier frames is kept. The preview counts
the lines and zones as drawn on the page; it is never published and starts from zero
whenever the drawing changes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from edge.bootstrap import tracker_settings
from edge.config import Config, LineConfig, ZoneConfig
from edge.count import Counters
from edge.detections import Detections
from edge.track import Tracker

DOT_DECIMALS = 3
"""Dots are rounded to 1/1000 of the image: enough to see where people walk."""


@dataclass(frozen=True)
class LiveState:
    """One frame's view: feet dots and the preview's counts."""

    dots: tuple[tuple[float, float], ...]
    lines: dict[str, tuple[int, int]]
    zones: dict[str, int]


class LivePreview:
    """Tracks people as the sensor does and counts them on the drawing being edited."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._tracker, self._counters = self._start(config.lines, config.zones)
        self._state = LiveState((), {}, {})

    def _start(self, lines: list[LineConfig], zones: list[ZoneConfig]) -> tuple[Tracker, Counters]:
        """A tracker and counters that start together: counters follow one tracker's
        output frame by frame from its first frame, never from the middle of it."""
        return Tracker(tracker_settings(self._config)), Counters(lines, zones)

    def set_drawing(self, lines: list[LineConfig], zones: list[ZoneConfig]) -> None:
        """Track and count these lines and zones from now on, from zero."""
        tracker, counters = self._start(lines, zones)
        with self._lock:
            self._tracker, self._counters = tracker, counters
            self._state = LiveState(
                (),  # until the next frame, which the new counters see too
                {line.name: (0, 0) for line in lines},
                {zone.name: 0 for zone in zones},
            )

    def update(self, detections: Detections, timestamp: float) -> LiveState:
        """Advance by one frame's detections; returns (and keeps) this frame's view."""
        with self._lock:
            tracks = self._tracker.update(detections, timestamp)
            counted = self._counters.update(tracks, timestamp)
        seen = tracks.feet[~tracks.coasting]
        dots = sorted(
            (round(float(x), DOT_DECIMALS), round(float(y), DOT_DECIMALS))
            for x, y in np.clip(seen, 0.0, 1.0)
        )
        state = LiveState(tuple(dots), counted.totals, counted.occupancy)
        with self._lock:
            self._state = state
        return state

    @property
    def state(self) -> LiveState:
        return self._state
