"""The setup mode's frame loop: detect, preview, gather the background, refresh it.

The frame thread reads frames at page resolution, runs the detector once per frame and
feeds the live preview and the background buffer; every `refresh_seconds` of frame time
it wakes the refresh thread, which rebuilds the served background (median, clean, PNG)
without holding up the frames. The detector is shared under a lock. The web app reads
the latest results; nothing is written anywhere.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.config import Config, LineConfig, ZoneConfig
from edge.detections import Detections, Detector
from edge.frames import Frame, FrameSource, SourceError
from edge.setup.background import BackgroundSettings, MaskedMedian, clean
from edge.setup.live import LivePreview, LiveState
from edge.setup.png import encode_png

log = logging.getLogger(__name__)

MIN_FRAMES_TO_SERVE = 3


@dataclass(frozen=True)
class ServedBackground:
    """The background as the page gets it: PNG bytes and what was blanked."""

    png: bytes
    version: int
    blanked_regions: int
    unseen_share: float
    frames: int


class _LockedDetector:
    """The session's detector, used by two threads one call at a time."""

    def __init__(self, detector: Detector) -> None:
        self._detector = detector
        self._lock = threading.Lock()

    @property
    def input_size(self) -> tuple[int, int]:
        return self._detector.input_size

    def detect(self, frame: Frame) -> Detections:
        with self._lock:
            return self._detector.detect(frame)


class SetupSession:
    """Frames in, a clean background and a live view out, until `stop` is set.

    `source` makes an opened frame source; it is called again when a file ends.
    """

    def __init__(
        self,
        source: Callable[[], FrameSource] | None,
        detector: Detector,
        config: Config,
        *,
        settings: BackgroundSettings | None = None,
        refresh_seconds: float = 3.0,
        guard_check: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.new_source = source
        self.detector = _LockedDetector(detector)
        self.settings = settings or BackgroundSettings()
        self.refresh_seconds = refresh_seconds
        self.live = LivePreview(config)
        self._median = MaskedMedian(self.settings)
        self._guard_check = guard_check
        self._clock = clock
        self._lock = threading.Lock()
        self._background: ServedBackground | None = None
        self._last_refresh: float | None = None
        self._refresh_wanted = threading.Event()
        self.frames = 0
        self.refreshes = 0
        self.refresh_seconds_total = 0.0  # wall time spent rebuilding backgrounds
        self.error: BaseException | None = None
        self._first_frame_at: float | None = None
        self._times = _FrameTimes()

    # --- what the page reads ----------------------------------------------------

    @property
    def background(self) -> ServedBackground | None:
        with self._lock:
            return self._background

    @property
    def view(self) -> LiveState:
        return self.live.state

    @property
    def fps(self) -> float:
        """Frames per second of wall time since the first frame."""
        if self._first_frame_at is None or self.frames < 2:
            return 0.0
        elapsed = self._clock() - self._first_frame_at
        return (self.frames - 1) / elapsed if elapsed > 0 else 0.0

    def set_drawing(self, lines: list[LineConfig], zones: list[ZoneConfig]) -> None:
        self.live.set_drawing(lines, zones)

    # --- the threads ------------------------------------------------------------

    def start(self, stop: threading.Event) -> list[threading.Thread]:
        """Start the frame and refresh threads; both end when `stop` is set."""
        threads = [
            threading.Thread(target=self.run, args=(stop,), name="setup-frames", daemon=True),
            threading.Thread(
                target=self.refresh_loop, args=(stop,), name="setup-refresh", daemon=True
            ),
        ]
        for thread in threads:
            thread.start()
        return threads

    def run(self, stop: threading.Event) -> None:
        """Read and process frames until `stop`; a failure is kept in `error` and stops all."""
        if self.new_source is None:
            raise ValueError("this session has no source; call step() with frames instead")
        source = self.new_source()
        try:
            while not stop.is_set():
                frame = source.read()
                if frame is None:  # a file: play it again, so the page keeps moving
                    source.close()
                    source = self.new_source()
                    frame = source.read()
                    if frame is None:
                        raise SourceError("the source delivers no frames; check --source")
                self.step(self._times.continued(frame))
                if self._guard_check is not None:
                    self._guard_check()
        except Exception as error:  # kept for the command to report; the page stops
            log.error(
                "setup stopped reading frames: %s", error, exc_info=log.isEnabledFor(logging.DEBUG)
            )
            self.error = error
            stop.set()
        finally:
            self._refresh_wanted.set()  # let the refresh thread see `stop`
            source.close()

    def refresh_loop(self, stop: threading.Event) -> None:
        """Rebuild the background whenever the frame thread asks, until `stop`."""
        while True:
            self._refresh_wanted.wait()
            self._refresh_wanted.clear()
            if stop.is_set():
                return
            try:
                self.refresh()
            except Exception as error:  # same contract as the frame thread
                log.error("setup stopped refreshing the background: %s", error)
                self.error = error
                stop.set()
                return

    # --- the work ---------------------------------------------------------------

    def step(self, frame: Frame) -> bool:
        """Process one frame; True when a background refresh is due (the caller's to run)."""
        if self._first_frame_at is None:
            self._first_frame_at = self._clock()
        image = fit(frame.image, self.settings.size)
        detections = self.detector.detect(Frame(image, frame.index, frame.timestamp))
        people = detections[detections.score >= self.settings.blank_score]
        self.live.update(detections, frame.timestamp)
        self._median.offer(image, people, frame.timestamp)
        self.frames += 1
        due = self._median.count >= MIN_FRAMES_TO_SERVE and (
            self._last_refresh is None
            or frame.timestamp - self._last_refresh >= self.refresh_seconds
        )
        if due:
            self._last_refresh = frame.timestamp
            self._refresh_wanted.set()
        return due

    def refresh(self) -> ServedBackground:
        """Rebuild the served background from the buffer now."""
        started = time.perf_counter()
        image, unseen = self._median.median()
        cleaned = clean(image, unseen, self.detector, self.settings)
        png = encode_png(cleaned.image)
        with self._lock:
            previous = self._background
            served = ServedBackground(
                png=png,
                version=1 if previous is None else previous.version + 1,
                blanked_regions=cleaned.blanked_regions,
                unseen_share=cleaned.unseen_share,
                frames=self._median.count,
            )
            self._background = served
        self.refreshes += 1
        self.refresh_seconds_total += time.perf_counter() - started
        return served


class _FrameTimes:
    """Frame times that keep growing when a file starts over (its clock starts over too)."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._last: float | None = None
        self._gap = 0.04

    def continued(self, frame: Frame) -> Frame:
        timestamp = frame.timestamp + self._offset
        if self._last is not None and timestamp <= self._last:
            self._offset += self._last + self._gap - timestamp
            timestamp = self._last + self._gap
        elif self._last is not None:
            self._gap = timestamp - self._last
        self._last = timestamp
        return Frame(frame.image, frame.index, timestamp)


def fit(image: npt.NDArray[np.uint8], size: tuple[int, int]) -> npt.NDArray[np.uint8]:
    """`image` at `size` (w, h) by nearest sampling; unchanged if already that size."""
    width, height = size
    if image.shape[1] == width and image.shape[0] == height:
        return image
    rows = (np.arange(height) * image.shape[0] // height).astype(np.intp)
    cols = (np.arange(width) * image.shape[1] // width).astype(np.intp)
    return np.ascontiguousarray(image[rows][:, cols])
