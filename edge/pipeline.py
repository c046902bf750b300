"""The one loop: frame -> detections -> tracks -> counts -> privacy -> messages.

Paced on each frame's `clock` (video time, or a monotonic clock for a camera): buckets,
heartbeats and the tracker; messages carry the frame's wall `timestamp`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from edge.buckets import BucketClock
from edge.commands import CommandInbox
from edge.count import Counters
from edge.detections import Detector
from edge.frames import Frame, FrameSource, SourceError
from edge.privacy.output import PrivacyStage, ReleasedState
from edge.publish import Publisher
from edge.track import Tracker
from edge.tracks import Tracks

log = logging.getLogger(__name__)


class Watchdog(Protocol):
    """The service manager's liveness protocol (systemd's sd_notify, or nothing)."""

    def ready(self) -> None: ...

    def ping(self) -> None: ...

    def stopping(self) -> None: ...


class _NoWatchdog:
    def ready(self) -> None:
        pass

    def ping(self) -> None:
        pass

    def stopping(self) -> None:
        pass


@dataclass(slots=True)
class StageTimes:
    """Seconds spent per stage, summed over frames; for the benchmark and logs."""

    totals: dict[str, float] = field(default_factory=dict)
    frames: int = 0

    def add(self, stage: str, seconds: float) -> None:
        self.totals[stage] = self.totals.get(stage, 0.0) + seconds

    def per_frame(self) -> dict[str, float]:
        n = max(self.frames, 1)
        return {stage: total / n for stage, total in self.totals.items()}


@dataclass(frozen=True, slots=True)
class RunSummary:
    """How a run ended. `totals` are exact: for tests and tools, never for a log line;
    `published` are the line totals of the last snapshot as released."""

    frames: int
    detector_runs: int
    totals: dict[str, tuple[int, int]]
    published: dict[str, tuple[int, int]]
    reopened: int
    stopped: bool


class Pipeline:
    """Runs until the source ends or `stop` is set; closes the open bucket either way.

    Each frame's counts go through the privacy stage, and only what it releases goes
    to the publisher. Snapshots go out after every frame when `publish_every` is 0;
    otherwise when the released state changes (at most once per `publish_every`
    seconds of frame time) and at least every `heartbeat` seconds. The decision looks
    at released values only, so a snapshot's timing reveals nothing its payload does
    not (a person in a zone below k, a crossing under noise). A source that fails
    transiently is closed and re-opened with backoff; counts are kept. `guard_check`
    runs every frame and raises to stop the sensor when the privacy guard has refused.
    """

    def __init__(
        self,
        *,
        source: FrameSource,
        detector: Detector,
        tracker: Tracker,
        counters: Counters,
        privacy: PrivacyStage,
        publisher: Publisher,
        bucket_seconds: float,
        publish_every: float = 1.0,
        heartbeat: float = 30.0,
        inbox: CommandInbox | None = None,
        watchdog: Watchdog | None = None,
        gate: Callable[[Frame], bool] | None = None,
        stop: threading.Event | None = None,
        reopen_seconds: float = 2.0,
        max_reopen_seconds: float = 60.0,
        on_frame: Callable[[Frame, Tracks], None] | None = None,
        guard_check: Callable[[], None] | None = None,
    ) -> None:
        self.source = source
        self.detector = detector
        self.tracker = tracker
        self.counters = counters
        self.privacy = privacy
        self.publisher = publisher
        self.buckets = BucketClock(
            bucket_seconds,
            [line.name for line in counters.lines],
            [zone.name for zone in counters.zones],
        )
        self.publish_every = publish_every
        self.heartbeat = heartbeat
        self.inbox = inbox
        self.watchdog: Watchdog = watchdog if watchdog is not None else _NoWatchdog()
        self.gate = gate
        self.stop = stop if stop is not None else threading.Event()
        self.reopen_seconds = reopen_seconds
        self.max_reopen_seconds = max_reopen_seconds
        self.on_frame = on_frame
        self.guard_check = guard_check
        self.times = StageTimes()
        self.frames = 0
        self.detector_runs = 0
        self.occupancy: dict[str, int] = {zone.name: 0 for zone in counters.zones}
        self._reopened = 0
        self._tracks = Tracks.empty()
        self._last_frame: Frame | None = None
        self._released: ReleasedState | None = None
        self._published: ReleasedState | None = None
        self._last_emit: float | None = None
        self._dirty = True

    def _read(self) -> Frame | None:
        """Next frame; on a transient failure, re-open with backoff until it works or stop."""
        wait = self.reopen_seconds
        while not self.stop.is_set():
            try:
                return self.source.read()
            except SourceError as error:
                if not error.transient:
                    raise
                log.warning("%s; re-opening the source in %.0f s", error, wait)
                self._reopened += 1
                self.source.close()
                if self._wait(wait):
                    return None
                wait = min(wait * 2, self.max_reopen_seconds)
                try:
                    self.source.open()
                except SourceError as reopen_error:
                    if not reopen_error.transient:
                        raise
                    log.warning("%s", reopen_error)
        return None

    def _wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`, keeping the watchdog fed; True if asked to stop."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.watchdog.ping()
            if self.stop.wait(min(left, 1.0)):
                return True
        return False

    def run(self) -> RunSummary:
        self.source.open()
        self.watchdog.ready()
        try:
            while not self.stop.is_set():
                started = time.perf_counter()
                frame = self._read()
                if frame is None:
                    break
                self.times.add("capture", time.perf_counter() - started)
                self._step(frame)
        finally:
            self.watchdog.stopping()
            self._finish()
            self.source.close()
        published = self._published.lines if self._published is not None else {}
        return RunSummary(
            frames=self.frames,
            detector_runs=self.detector_runs,
            totals=self.counters.totals(),
            published={name: (t.in_, t.out) for name, t in published.items()},
            reopened=self._reopened,
            stopped=self.stop.is_set(),
        )

    def _step(self, frame: Frame) -> None:
        """One frame: track, count, close buckets, apply commands, maybe publish state."""
        tracks = self._track(frame)
        started = time.perf_counter()
        state = self.counters.update(tracks, frame.clock)
        self.occupancy = state.occupancy
        self.times.add("count", time.perf_counter() - started)
        started = time.perf_counter()
        for closed in self.buckets.add(
            state.crossings, state.occupancy, clock=frame.clock, wall=frame.timestamp
        ):
            self.publisher.bucket(self.privacy.bucket(closed))
        forced = self._apply_commands()
        self._publish_state(frame, forced)
        self.times.add("publish", time.perf_counter() - started)
        if self.on_frame is not None:
            self.on_frame(frame, tracks)
        if self.guard_check is not None:
            self.guard_check()
        self.watchdog.ping()
        self._last_frame = frame
        self.frames += 1
        self.times.frames = self.frames

    def _track(self, frame: Frame) -> Tracks:
        """Detect and track on frames the gate lets through; else keep the last tracks."""
        started = time.perf_counter()
        if self.gate is None or self.gate(frame):
            detections = self.detector.detect(frame)
            self.detector_runs += 1
            detected = time.perf_counter()
            self.times.add("detect", detected - started)
            self._tracks = self.tracker.update(detections, frame.clock)
        else:
            detected = time.perf_counter()
            self.times.add("detect", detected - started)
        self.times.add("track", time.perf_counter() - detected)
        return self._tracks

    def _publish_state(self, frame: Frame, forced: bool) -> None:
        """Publish the released state when it changed, when due, or as a heartbeat."""
        released = self.privacy.state(self.counters.totals(), self.occupancy)
        self._dirty = self._dirty or forced or released != self._released
        self._released = released
        if forced:
            self._last_emit = None
        since = None if self._last_emit is None else frame.clock - self._last_emit
        due = (
            since is None
            or self.publish_every <= 0
            or (self._dirty and since >= self.publish_every)
            or since >= self.heartbeat
        )
        if due:
            self.publisher.snapshot(released, timestamp=frame.timestamp, frame=frame.index)
            self._published = released
            self._last_emit = frame.clock
            self._dirty = False

    def _apply_commands(self) -> bool:
        if self.inbox is None:
            return False
        applied = False
        for command in self.inbox.drain():
            names = self.counters.reset(command.lines)
            self.privacy.reset(names)
            self.publisher.count_reset()
            log.info("line totals reset on command: %s", ", ".join(names) or "no matching line")
            applied = True
        return applied

    def _finish(self) -> None:
        """Close the open bucket and publish the final snapshot, then close the sinks."""
        try:
            self.buckets.add_crossings(self.counters.finish())
            closed = self.buckets.flush()
            if closed is not None:
                self.publisher.bucket(self.privacy.bucket(closed))
            last = self._last_frame
            if last is not None:
                released = self.privacy.state(self.counters.totals(), self.occupancy)
                self.publisher.snapshot(released, timestamp=last.timestamp, frame=last.index)
                self._published = released
        finally:
            self.publisher.close()
