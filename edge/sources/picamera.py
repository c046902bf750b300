"""The Raspberry Pi camera through picamera2: the detector reads the ISP's `lores` stream.

The camera shows the sensor's whole field of view: the sensor mode that reads the whole
pixel array is chosen, and `main` keeps the array's aspect ratio, so its crop (which
`lores` shares) is the whole array. `main` must exist, and must be at least as large as
`lores`, so it is configured at the smallest size of that aspect that holds `lores`
(534x300 for a 16:9 sensor and a 300x300 detector), in YUV420, and never read. `lores`
is the detector's size: the full view scaled to it (stretched, as the detector's
default `stretch` resize would do; coordinates are normalized, so lines drawn on the
full view match). There is no raw stream, so no full-resolution frame ever reaches this
process. The lores buffer is read through a zero-copy view and converted once, from
BT.601 limited-range YUV420 (what picamera2's video configuration gives a stream below
1280x720), into the RGB frame.

Frames are stamped with the request's `SensorTimestamp` (when the sensor captured it,
on CLOCK_MONOTONIC): that is the frame's `clock`, and its wall `timestamp` is that plus
an offset taken at open, so a slow read does not shift a frame's time. A camera that
gives no frame within `timeout` seconds raises a transient SourceError so the pipeline
can reopen it.
"""

from __future__ import annotations

import logging
import math
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
STREAM_FORMAT = "YUV420"
"""Both streams: the only format a Pi 4's lores stream offers, and the smallest main."""
Image = npt.NDArray[np.uint8]


def import_picamera2() -> Any:
    """The picamera2 module, or a SourceError saying how to install it."""
    try:
        import picamera2
    except ImportError:
        raise SourceError(INSTALL_HINT) from None
    return picamera2


def resize_nearest(image: Image, size: tuple[int, int]) -> Image:
    """Nearest-neighbour resize of an (H, W, C) image to (width, height), vectorized."""
    width, height = size
    rows = (np.arange(height) * image.shape[0] // height).astype(np.intp)
    cols = (np.arange(width) * image.shape[1] // width).astype(np.intp)
    return np.ascontiguousarray(image[rows[:, None], cols[None, :]])


def yuv420_to_rgb(buffer: Image, width: int, height: int) -> Image:
    """RGB (height, width, 3) of a BT.601 limited-range YUV420 buffer laid out as
    picamera2 gives it: (height * 3/2, stride), planes Y, U, V, rows padded to `stride`.

    Integer arithmetic (the usual 8-bit fixed-point coefficients); chroma is repeated
    over each 2x2 block.
    """
    stride = buffer.shape[1]
    flat = buffer.reshape(-1)
    half_h, half_w, half_stride = (height + 1) // 2, (width + 1) // 2, stride // 2
    u_start = height * stride
    v_start = u_start + half_h * half_stride
    y = flat[:u_start].reshape(height, stride)[:, :width].astype(np.int32)
    u = flat[u_start:v_start].reshape(half_h, half_stride)[:, :half_w].astype(np.int32)
    v = flat[v_start : v_start + half_h * half_stride].reshape(half_h, half_stride)[:, :half_w]
    d = np.repeat(np.repeat(u - 128, 2, axis=0), 2, axis=1)[:height, :width]
    e = np.repeat(np.repeat(v.astype(np.int32) - 128, 2, axis=0), 2, axis=1)[:height, :width]
    c = 298 * (y - 16) + 128
    rgb = np.empty((height, width, 3), np.uint8)
    rgb[:, :, 0] = np.clip((c + 409 * e) >> 8, 0, 255)
    rgb[:, :, 1] = np.clip((c - 100 * d - 208 * e) >> 8, 0, 255)
    rgb[:, :, 2] = np.clip((c + 516 * d) >> 8, 0, 255)
    return rgb


def full_view_mode(modes: list[dict[str, Any]], lores: tuple[int, int]) -> dict[str, Any]:
    """The sensor mode to use: of those that read the most of the pixel array (its whole
    field of view), the smallest that holds `lores` (binned: fast), else the largest."""
    if not modes:
        raise SourceError(
            "the Pi camera lists no sensor modes; check `rpicam-hello --list-cameras`"
        )

    def area(rect: tuple[int, int, int, int]) -> int:
        return int(rect[2]) * int(rect[3])

    widest = max(area(m["crop_limits"]) for m in modes)
    full = [m for m in modes if area(m["crop_limits"]) == widest]
    fits = [m for m in full if m["size"][0] >= lores[0] and m["size"][1] >= lores[1]]
    if fits:
        return min(fits, key=lambda m: m["size"][0] * m["size"][1])
    return max(full, key=lambda m: m["size"][0] * m["size"][1])


def main_size(view: tuple[int, int], lores: tuple[int, int]) -> tuple[int, int]:
    """The smallest even size of the field of view's aspect ratio that holds `lores`."""
    scale = max(lores[0] / view[0], lores[1] / view[1])

    def even(value: float) -> int:
        return 2 * math.ceil(value / 2 - 1e-9)

    return (max(even(view[0] * scale), lores[0]), max(even(view[1] * scale), lores[1]))


class PiCameraSource:
    """`FrameSource` over picamera2's `lores` stream at `size` (width, height)."""

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
        self._mapped: Any = None
        self._stream_size = self.size
        self._wall_offset = 0.0
        self._next = 0

    def open(self) -> None:
        """Open the camera, configure the full view (see the module) and start it."""
        picamera2 = import_picamera2()
        camera = self._camera_object(picamera2.Picamera2)
        try:
            camera.configure(self._configuration(camera))
            stream = camera.camera_configuration()["lores"]
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
        self._mapped = picamera2.MappedArray
        self._wall_offset = time.time() - time.monotonic()
        self._camera = camera

    def _camera_object(self, picamera2: Any) -> Any:
        cameras = picamera2.global_camera_info()
        if len(cameras) <= self.camera_num:
            raise SourceError(
                f"no Pi camera number {self.camera_num} is connected; check the ribbon cable "
                "and that `rpicam-hello --list-cameras` lists it",
                transient=self._next > 0,
            )
        try:
            return picamera2(self.camera_num)
        except (RuntimeError, IndexError):
            raise SourceError(
                "cannot open the Pi camera: it is in use by another process or failed to start",
                transient=self._next > 0,
            ) from None

    def _configuration(self, camera: Any) -> dict[str, Any]:
        mode = full_view_mode(camera.sensor_modes, self.size)
        view = (int(mode["crop_limits"][2]), int(mode["crop_limits"][3]))
        controls: dict[str, Any] = {}
        if self.fps:
            period = round(1_000_000 / self.fps)
            controls["FrameDurationLimits"] = (period, period)
        config: dict[str, Any] = camera.create_video_configuration(
            main={"size": main_size(view, self.size), "format": STREAM_FORMAT, "preserve_ar": True},
            lores={"size": self.size, "format": STREAM_FORMAT, "preserve_ar": False},
            raw=None,
            sensor={"output_size": tuple(mode["size"]), "bit_depth": mode["bit_depth"]},
            buffer_count=self.buffer_count,
            controls=controls,
            display=None,
            encode=None,
            queue=False,
        )
        return config

    def decode_size(self) -> tuple[int, int]:
        """The size frames reach this process at: the ISP's lores output, the capture size
        (or the aligned size the camera configured, once open)."""
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
            sensor_ns = request.get_metadata()["SensorTimestamp"]
            with self._mapped(request, "lores") as mapped:
                rgb = yuv420_to_rgb(mapped.array, *self._stream_size)
        finally:
            request.release()
        if self._stream_size != self.size:
            rgb = resize_nearest(rgb, self.size)
        clock = sensor_ns * 1e-9
        frame = Frame(rgb, self._next, clock + self._wall_offset, clock=clock)
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
