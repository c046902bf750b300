"""OpenCV frame source: a video file, a webcam index, or an RTSP/HTTP stream.

Frames are decoded by OpenCV at the file's or stream's own size (a webcam is asked for
the capture size and picks its nearest mode; `decode_size()` tells which), resized
(stretched; area averaging for a strong shrink, else bilinear, as the detector's
preprocessing does) to the capture size at once, then turned from OpenCV's BGR into RGB.
A file is decoded as fast as the pipeline reads unless `realtime`, which paces it at its
own frame rate; its frame `index` is the decode index from 0 (a corrupt frame is skipped
with a warning but keeps its index) and its `timestamp` is `origin + index / fps`.
A camera or stream stamps frames with the capture time (and `clock` from the monotonic
clock) and raises a transient SourceError when it stops delivering.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.detect.preprocess import interpolation
from edge.frames import Frame, SourceError

logger = logging.getLogger(__name__)


def to_rgb(cv2: Any, image: npt.NDArray[np.uint8], size: tuple[int, int]) -> npt.NDArray[np.uint8]:
    """An OpenCV frame (BGR or grey) resized to `size` (w, h), then as RGB: resizing first
    converts fewer pixels."""
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    source = (image.shape[1], image.shape[0])
    if source != size:
        image = cv2.resize(image, size, interpolation=interpolation(cv2, source, size))
    rgb: npt.NDArray[np.uint8] = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return rgb


INSTALL_HINT = "install the opencv extra: pip install 'headcount[opencv]'"
FALLBACK_FPS = 25.0
MAX_BAD_FRAMES = 25
"""Consecutive unreadable frames after which a file is treated as ended."""


def import_cv2() -> Any:
    """The cv2 module, or a SourceError saying how to install it."""
    try:
        import cv2
    except ImportError:
        raise SourceError(INSTALL_HINT) from None
    return cv2


class OpenCVSource:
    """`FrameSource` over `cv2.VideoCapture`; `target` is a path, a URL or a webcam index."""

    def __init__(
        self,
        target: str | int,
        size: tuple[int, int],
        *,
        realtime: bool = False,
        fps: float | None = None,
        origin: float | None = None,
        live: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.target = target
        self.size = (int(size[0]), int(size[1]))
        self.live = live or isinstance(target, int)
        self.realtime = realtime and not self.live
        self.requested_fps = fps
        self.fps = fps or FALLBACK_FPS
        self._origin_arg = origin
        self.origin = 0.0
        self._clock = clock
        self._sleep = sleep
        self._cv2: Any = None
        self._cap: Any = None
        self._next = 0
        self._started = False
        self._pace_start: tuple[float, int] | None = None
        self.decoded: tuple[int, int] | None = None
        """The size of the first frame OpenCV decoded (None: none yet)."""

    @property
    def description(self) -> str:
        if isinstance(self.target, int):
            return f"webcam {self.target}"
        return f"stream {self.target}" if self.live else f"video file {self.target}"

    def open(self) -> None:
        """Open the capture; a file reopened after close continues at its next frame."""
        self._cap = self._capture()
        if not self._started:
            self.origin = time.time() if self._origin_arg is None else self._origin_arg
        self._pace_start = None

    def decode_size(self) -> tuple[int, int] | None:
        """The (width, height) OpenCV decodes frames at, before they are resized to `size`:
        a file's or stream's own size (the codec decodes whole frames), or the mode a
        webcam agreed to when asked for `size`. Read from the capture's header: opens a
        capture when none is open and reads no frame; None if it cannot be opened now."""
        if self.decoded is not None:
            return self.decoded
        cap = self._cap
        try:
            probe = cap if cap is not None else self._capture()
        except SourceError:
            return None
        try:
            cv2 = self._cv2
            width = int(probe.get(cv2.CAP_PROP_FRAME_WIDTH))
            height = int(probe.get(cv2.CAP_PROP_FRAME_HEIGHT))
        finally:
            if cap is None:
                probe.release()
        return (width, height) if width > 0 and height > 0 else None

    def _capture(self) -> Any:
        """A configured cv2.VideoCapture for the target, or a SourceError saying why not."""
        cv2 = self._cv2 = import_cv2()
        if not self.live and not Path(str(self.target)).is_file():
            raise SourceError(f"cannot open video file {self.target}: no such file")
        cap = cv2.VideoCapture(self.target)
        if not cap.isOpened():
            cap.release()
            reason = (
                "not a video OpenCV can decode"
                if not self.live
                else "no such device or it is busy"
                if isinstance(self.target, int)
                else "the stream does not answer"
            )
            # Once frames have flowed, failing to reopen is worth retrying.
            raise SourceError(
                f"cannot open {self.description}: {reason}", transient=self.live and self._started
            )
        if self.live:
            width, height = self.size
            if isinstance(self.target, int):
                # Ask the camera for the small size: fewer pixels ever exist in the process.
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            if self.requested_fps:
                cap.set(cv2.CAP_PROP_FPS, self.requested_fps)
        else:
            fps = float(cap.get(cv2.CAP_PROP_FPS))
            if math.isfinite(fps) and fps > 0:
                self.fps = fps
            else:
                logger.warning(
                    "%s does not state its frame rate; assuming %.0f fps",
                    self.description,
                    self.fps,
                )
            if self._next > 0:
                cap.set(cv2.CAP_PROP_POS_FRAMES, self._next)
        return cap

    def read(self) -> Frame | None:
        if self._cap is None:
            raise SourceError(f"{self.description} is not open; call open() first")
        if self.live:
            return self._read_live()
        return self._read_file()

    def _read_live(self) -> Frame:
        ok, image = self._cap.read()
        if not ok or image is None:
            raise SourceError(f"{self.description} stopped delivering frames", transient=True)
        self._started = True
        frame = Frame(self._convert(image), self._next, time.time(), clock=time.monotonic())
        self._next += 1
        return frame

    def _read_file(self) -> Frame | None:
        total = int(self._cap.get(self._cv2.CAP_PROP_FRAME_COUNT))
        bad = 0
        while True:
            ok, image = self._cap.read()
            if ok and image is not None:
                break
            if total <= 0 or self._next >= total or bad >= MAX_BAD_FRAMES:
                return None
            logger.warning("skipped unreadable frame %d of %s", self._next, self.description)
            self._next += 1
            bad += 1
        self._started = True
        index = self._next
        self._next += 1
        if self.realtime:
            self._pace(index)
        return Frame(self._convert(image), index, self.origin + index / self.fps)

    def _pace(self, index: int) -> None:
        """Sleep until this frame's video time has passed since the first paced frame."""
        now = self._clock()
        if self._pace_start is None:
            self._pace_start = (now, index)
            return
        start, first = self._pace_start
        wait = start + (index - first) / self.fps - now
        if wait > 0:
            self._sleep(wait)

    def _convert(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        decoded = (int(image.shape[1]), int(image.shape[0]))
        if decoded != self.decoded:
            if self.decoded is not None:
                logger.warning(
                    "%s now decodes at %dx%d, not %dx%d",
                    self.description,
                    *decoded,
                    *self.decoded,
                )
            self.decoded = decoded
        return to_rgb(self._cv2, image, self.size)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
