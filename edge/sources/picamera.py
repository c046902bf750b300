"""The Raspberry Pi camera through picamera2, captured at the detector's input size.

Only one stream is configured: `main`, at the capture size, in RGB888. There is no raw
stream and no larger stream, so full-resolution frames never exist in this process (the
ISP scales on the way out). picamera2's "RGB888" is B, G, R in memory; frames are turned
into R, G, B here. Frames are stamped with the capture time; a camera that gives no frame
within `timeout` seconds raises a transient SourceError so the pipeline can reopen it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.frames import Frame, SourceError

logger = logging.getLogger(__name__)

INSTALL_HINT = (
    "picamera2 is not installed: install python3-picamera2 (apt) and create the venv "
    "with --system-site-packages"
)
CAPTURE_FORMAT = "RGB888"
"""picamera2 name for 24-bit pixels stored B, G, R."""


def import_picamera2() -> Any:
    """The picamera2.Picamera2 class, or a SourceError saying how to install it."""
    try:
        from picamera2 import Picamera2
    except ImportError:
        raise SourceError(INSTALL_HINT) from None
    return Picamera2


def resize_nearest(image: npt.NDArray[np.uint8], size: tuple[int, int]) -> npt.NDArray[np.uint8]:
    """Nearest-neighbour resize of an (H, W, C) image to (width, height), vectorized."""
    width, height = size
    rows = (np.arange(height) * image.shape[0] // height).astype(np.intp)
    cols = (np.arange(width) * image.shape[1] // width).astype(np.intp)
    return np.ascontiguousarray(image[rows[:, None], cols[None, :]])


class PiCameraSource:
    """`FrameSource` over picamera2's `main` stream at `size` (width, height)."""

    def __init__(
        self,
        size: tuple[int, int],
        *,
        fps: float | None = None,
        camera_num: int = 0,
        timeout: float = 2.0,
        buffer_count: int = 4,
    ) -> None:
        self.size = (int(size[0]), int(size[1]))
        self.fps = fps
        self.camera_num = camera_num
        self.timeout = timeout
        self.buffer_count = buffer_count
        self._camera: Any = None
        self._stream_size = self.size
        self._next = 0

    def open(self) -> None:
        """Open, configure (main only, RGB888 at `size`, no raw) and start the camera."""
        picamera2 = import_picamera2()
        cameras = picamera2.global_camera_info()
        if len(cameras) <= self.camera_num:
            raise SourceError(
                f"no Pi camera number {self.camera_num} is connected; check the ribbon cable "
                "and that `rpicam-hello --list-cameras` lists it",
                transient=self._next > 0,
            )
        try:
            camera = picamera2(self.camera_num)
        except (RuntimeError, IndexError):
            raise SourceError(
                "cannot open the Pi camera: it is in use by another process or failed to start",
                transient=self._next > 0,
            ) from None
        controls: dict[str, Any] = {}
        if self.fps:
            period = round(1_000_000 / self.fps)
            controls["FrameDurationLimits"] = (period, period)
        try:
            config = camera.create_video_configuration(
                main={"size": self.size, "format": CAPTURE_FORMAT},
                lores=None,
                raw=None,
                buffer_count=self.buffer_count,
                controls=controls,
                display=None,
                encode=None,
                queue=False,
            )
            camera.configure(config)
            stream = camera.camera_configuration()["main"]
            camera.start()
        except (RuntimeError, ValueError) as error:
            camera.close()
            raise SourceError(
                f"the Pi camera refused the capture configuration ({error}); "
                "try another [detector] input size"
            ) from None
        self._stream_size = (int(stream["size"][0]), int(stream["size"][1]))
        if self._stream_size != self.size:
            logger.info(
                "camera delivers %dx%d; frames are resized to %dx%d",
                *self._stream_size,
                *self.size,
            )
        self._camera = camera

    def decode_size(self) -> tuple[int, int]:
        """The size frames reach this process at: the ISP's output, the capture size (or
        the aligned size the camera configured, once open)."""
        return self._stream_size

    def read(self) -> Frame:
        camera = self._camera
        if camera is None:
            raise SourceError("the Pi camera is not open; call open() first")
        try:
            request = camera.capture_request(wait=self.timeout)
        except (TimeoutError, RuntimeError):
            raise SourceError(
                f"the Pi camera delivered no frame within {self.timeout:g} s", transient=True
            ) from None
        try:
            bgr = request.make_array("main")
        finally:
            request.release()
        stamp, clock = time.time(), time.monotonic()
        rgb = np.ascontiguousarray(bgr[:, :, 2::-1])
        if (rgb.shape[1], rgb.shape[0]) != self.size:
            rgb = resize_nearest(rgb, self.size)
        frame = Frame(rgb, self._next, stamp, clock=clock)
        self._next += 1
        return frame

    def close(self) -> None:
        """Stop and release the camera; safe to call twice or after a failure."""
        camera, self._camera = self._camera, None
        if camera is None:
            return
        try:
            camera.stop()
        except RuntimeError:
            logger.warning("the Pi camera did not stop cleanly")
        try:
            camera.close()
        except RuntimeError:
            logger.warning("the Pi camera did not close cleanly")
