"""The one loop: frame -> detections -> tracks -> counts -> messages, on the frame's clock."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from edge.buckets import BucketClock
from edge.commands import CommandInbox
from edge.count import Counters
from edge.detections import Detector
from edge.frames import Frame, FrameSource, SourceError
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


@dataclass(frozen=True, slots=True)
class RunSummary:
    frames: int
    detector_runs: int
    totals: dict[str, tuple[int, int]]
    reopened: int
    stopped: bool


class Pipeline:
    """Runs until the source ends or `stop` is set; closes the open bucket either way.

    Snapshots go out after every frame when `publish_every` is 0; otherwise when counts
    change (at most once per `publish_every` seconds of frame time) and at least every
    `heartbeat` seconds. With `publish_on_crossing` False (noisy totals) a crossing alone
    triggers no snapshot, so its timing reveals nothing. A source that fails
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
        publish_on_crossing: bool = True,
    ) -> None:
        self.source = source
        self.detector = detector
        self.tracker = tracker
        self.counters = counters
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
        self.publish_on_crossing = publish_on_crossing
        self.frames = 0
        self.occupancy: dict[str, int] = {zone.name: 0 for zone in counters.zones}

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
        self._reopened = 0
        self.source.open()
        self.watchdog.ready()
        frames = detector_runs = 0
        last_frame: Frame | None = None
        last_emit: float | None = None
        dirty = True
        tracks = Tracks.empty()
        try:
            while not self.stop.is_set():
                frame = self._read()
                if frame is None:
                    break
                if self.gate is None or self.gate(frame):
                    detections = self.detector.detect(frame)
                    detector_runs += 1
                    tracks = self.tracker.update(detections, frame.timestamp)
                    state = self.counters.update(tracks, frame.timestamp)
                else:
                    # Nothing was looked at anew: the last tracks are not observed again.
                    state = self.counters.unchanged()
                crossed = any(n_in or n_out for n_in, n_out in state.crossings.values())
                changed = state.occupancy != self.occupancy or (
                    crossed and self.publish_on_crossing
                )
                self.occupancy = state.occupancy
                dirty = dirty or changed
                for closed in self.buckets.add(frame.timestamp, state.crossings, state.occupancy):
                    self.publisher.bucket(closed)
                if self._apply_commands():
                    dirty = True
                    last_emit = None
                since = None if last_emit is None else frame.timestamp - last_emit
                due = (
                    since is None
                    or self.publish_every <= 0
                    or (dirty and since >= self.publish_every)
                )
                if due or (since is not None and since >= self.heartbeat):
                    self.publisher.snapshot(
                        timestamp=frame.timestamp,
                        frame=frame.index,
                        totals=self.counters.totals(),
                        occupancy=state.occupancy,
                    )
                    last_emit = frame.timestamp
                    dirty = False
                if self.on_frame is not None:
                    self.on_frame(frame, tracks)
                if self.guard_check is not None:
                    self.guard_check()
                self.watchdog.ping()
                last_frame = frame
                frames += 1
                self.frames = frames
        finally:
            self.watchdog.stopping()
            self._finish(last_frame)
            self.source.close()
        return RunSummary(
            frames=frames,
            detector_runs=detector_runs,
            totals=self.counters.totals(),
            reopened=self._reopened,
            stopped=self.stop.is_set(),
        )

    def _apply_commands(self) -> bool:
        if self.inbox is None:
            return False
        applied = False
        for command in self.inbox.drain():
            names = self.counters.reset(command.lines)
            self.publisher.reset(names)
            log.info("line totals reset on command: %s", ", ".join(names) or "no matching line")
            applied = True
        return applied

    def _finish(self, last_frame: Frame | None) -> None:
        """Close the open bucket and publish the final snapshot, then close the sinks."""
        try:
            self.buckets.add_crossings(self.counters.finish())
            closed = self.buckets.flush()
            if closed is not None:
                self.publisher.bucket(closed)
            if last_frame is not None:
                self.publisher.snapshot(
                    timestamp=last_frame.timestamp,
                    frame=last_frame.index,
                    totals=self.counters.totals(),
                    occupancy=self.occupancy,
                )
        finally:
            self.publisher.close()
