"""A fake of the part of picamera2's `Picamera2` API the Pi camera source uses.

It behaves like the real library where the source depends on it (picamera2 0.3.x, its
manual and `picamera2/picamera2.py`):

- `global_camera_info()` lists the attached cameras; `Picamera2(n)` fails with
  IndexError without one; `camera_properties["PixelArraySize"]` is the sensor's size.
- `sensor_modes` lists the sensor's readout modes, each with its output `size` and
  `crop_limits` (the part of the pixel array it reads, in pixel-array coordinates): the
  imx708's three modes all see the whole array; a test may add CROPPED_MODE, a faster
  mode that reads only the middle (like the imx219's 640x480).
- `create_video_configuration` / `create_preview_configuration` return the real dict
  shape with the real defaults: main XBGR8888 with `preserve_ar` True, lores YUV420 with
  `preserve_ar` False, a raw stream unless `raw=None`, sizes aligned to even numbers
  (and tuples), a `sensor` dict, and the video configuration's colour space chosen by
  main's size (Smpte170m, BT.601 limited range, below 1280x720).
- `configure` refuses a lores larger than main (and, on a Pi 4, a lores that is not YUV
  or crops apart from main) and sensor keys other than `output_size` and `bit_depth`,
  records the configuration, picks the
  sensor mode (the one `sensor["output_size"]` names, else the smallest that holds
  main, as libcamera does, which may be a cropped one) and fills in the raw stream.
- ScalerCrop (the manual's Appendix B, and `configure_`'s handling of ScalerCrops): the
  crop of the sensor image each stream shows is the largest centred rectangle of the
  mode's crop limits with main's aspect ratio when main's `preserve_ar` is set, else
  the whole limits; lores shows main's crop unless its own `preserve_ar` is set (only
  possible on a Pi 5: `Picamera2.platform`), then the largest one with lores' aspect.
  A stream's pixels are that crop scaled to the stream's size, so a lores of another
  aspect than its crop is stretched, as on the real camera.
- The sensor sees a scene that tells where each pixel came from: red grows from the
  pixel array's left edge (0) to its right edge (255), green from top to bottom, blue
  is SCENE_BLUE. `capture_request(wait=seconds)` raises TimeoutError when no frame
  comes in time (as the real job's future does) and when every buffer is held;
  `make_array` copies (as the real one does) and counts its copies; `MappedArray` is a
  zero-copy view valid inside its `with` block. Arrays have the real byte order
  ("RGB888" is B, G, R in memory; "BGR888" R, G, B; "XBGR8888" R, G, B, X) and a
  YUV420 array is (H*3/2, stride) with the rows padded to a stride of 64 bytes.
- Each request's metadata holds `SensorTimestamp` (nanoseconds on CLOCK_MONOTONIC,
  which is what picamera2 compares it with), `ScalerCrop` and `ExposureTime`.

Tests put this file's folder first on sys.path so `import picamera2` finds it, and can
tell a camera to stop delivering with `stop_delivering()`.
"""

from __future__ import annotations

import enum
import math
from typing import Any, ClassVar

import numpy as np

SENSOR_SIZE = (4608, 2592)
SENSOR_FORMAT = "SRGGB10_CSI2P"
SCENE_BLUE = 30
FRAME_NS = 33_333_333
FIRST_TIMESTAMP_NS = 5_000_000_000
YUV_STRIDE_ALIGN = 64

IMX708_MODES = [
    {"size": (1536, 864), "crop_limits": (0, 0, 4608, 2592), "bit_depth": 10, "fps": 120.13},
    {"size": (2304, 1296), "crop_limits": (0, 0, 4608, 2592), "bit_depth": 10, "fps": 56.03},
    {"size": (4608, 2592), "crop_limits": (0, 0, 4608, 2592), "bit_depth": 10, "fps": 14.35},
]
"""The imx708's modes: binned, binned, full; each reads the whole pixel array."""
CROPPED_MODE = {
    "size": (768, 432),
    "crop_limits": (1152, 648, 2304, 1296),
    "bit_depth": 10,
    "fps": 200.0,
}
"""A fast mode reading only the middle quarter of the array (like the imx219's 640x480):
libcamera picks it for a small main stream unless told which mode to use."""


class Platform(enum.Enum):
    VC4 = "vc4"
    PISP = "pisp"


Rect = tuple[int, int, int, int]


def _centred_crop(limits: Rect, size: tuple[int, int]) -> Rect:
    """The largest rectangle of `size`'s aspect ratio centred in `limits`."""
    x, y, w, h = limits
    aspect = size[0] / size[1]
    if w / h > aspect:
        cw, ch = round(h * aspect), h
    else:
        cw, ch = w, round(w / aspect)
    return (x + (w - cw) // 2, y + (h - ch) // 2, cw, ch)


def scene_rgb(crop: Rect, size: tuple[int, int]) -> np.ndarray:
    """(h, w, 3) what a stream of `size` showing `crop` of the pixel array sees."""
    x, y, cw, ch = crop
    width, height = size
    sx = x + (np.arange(width) + 0.5) * cw / width
    sy = y + (np.arange(height) + 0.5) * ch / height
    image = np.empty((height, width, 3), np.uint8)
    image[:, :, 0] = np.round(255 * sx / SENSOR_SIZE[0])[None, :]
    image[:, :, 1] = np.round(255 * sy / SENSOR_SIZE[1])[:, None]
    image[:, :, 2] = SCENE_BLUE
    return image


def yuv420_limited(rgb: np.ndarray) -> np.ndarray:
    """BT.601 limited-range YUV420 of an RGB image (even sizes), as (H*3/2, stride)."""
    height, width = rgb.shape[:2]
    r, g, b = (rgb[:, :, k].astype(np.float64) for k in range(3))
    y = 16 + 0.257 * r + 0.504 * g + 0.098 * b
    u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128 + 0.439 * r - 0.368 * g - 0.071 * b

    def half(plane: np.ndarray) -> np.ndarray:
        return plane.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))

    stride = math.ceil(width / YUV_STRIDE_ALIGN) * YUV_STRIDE_ALIGN
    flat = np.full(height * 3 // 2 * stride, 7, np.uint8)  # padding holds junk
    planes = [
        (np.clip(np.round(y), 0, 255), stride),
        (np.clip(np.round(half(u)), 0, 255), stride // 2),
        (np.clip(np.round(half(v)), 0, 255), stride // 2),
    ]
    start = 0
    for plane, plane_stride in planes:
        rows = plane.shape[0]
        block = flat[start : start + rows * plane_stride].reshape(rows, plane_stride)
        block[:, : plane.shape[1]] = plane.astype(np.uint8)
        start += rows * plane_stride
    return flat.reshape(height * 3 // 2, stride)


class CompletedRequest:
    """One captured frame; its buffers go back to the camera on `release()`."""

    def __init__(self, camera: Picamera2, sequence: int) -> None:
        self._camera = camera
        self.sequence = sequence
        self.released = False

    def _buffer(self, name: str) -> np.ndarray:
        if self.released:
            raise RuntimeError("request used after release")
        config = self._camera.camera_config.get(name)
        if config is None:
            raise RuntimeError(f"Stream {name!r} is not defined")
        self._camera.reads.append(name)
        size = config["size"]
        rgb = scene_rgb(self._camera.crops[name], size)
        fmt = config["format"]
        if fmt == "YUV420":
            return yuv420_limited(rgb)
        order = {"RGB888": [2, 1, 0], "BGR888": [0, 1, 2], "XBGR8888": [0, 1, 2, 3]}
        order["XRGB8888"] = [2, 1, 0, 3]
        if fmt not in order:
            raise RuntimeError(f"the fake cannot make arrays of format {fmt}")
        with_alpha = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], 2)
        return np.ascontiguousarray(with_alpha[:, :, order[fmt]])

    def make_array(self, name: str) -> np.ndarray:
        """A copy of the stream's buffer (the real one copies, so the buffer can go back)."""
        self._camera.copies += 1
        return self._buffer(name).copy()

    def get_metadata(self) -> dict[str, Any]:
        return {
            "SensorTimestamp": FIRST_TIMESTAMP_NS + self.sequence * FRAME_NS,
            "ScalerCrop": self._camera.crops["main"],
            "ExposureTime": 10_000,
        }

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._camera._held -= 1


class MappedArray:
    """A view of a request's stream buffer, valid only inside the `with` block."""

    def __init__(self, request: CompletedRequest, stream: str, reshape: bool = True) -> None:
        self._request = request
        self._stream = stream
        self._array: np.ndarray | None = None

    def __enter__(self) -> MappedArray:
        array = self._request._buffer(self._stream)
        array.flags.writeable = False
        self._array = array
        return self

    def __exit__(self, *exc: object) -> None:
        if self._array is not None:
            self._array = None

    @property
    def array(self) -> np.ndarray | None:
        return self._array


class Picamera2:
    """Fake `picamera2.Picamera2`; class attributes are the test's control panel."""

    cameras: ClassVar[list[dict[str, Any]]] = []
    instances: ClassVar[list[Picamera2]] = []
    modes: ClassVar[list[dict[str, Any]]] = []
    platform: ClassVar[Platform] = Platform.VC4

    @staticmethod
    def global_camera_info() -> list[dict[str, Any]]:
        return [dict(c) for c in Picamera2.cameras]

    @classmethod
    def reset(cls) -> None:
        """Back to one attached imx708 on a Pi 4 and no instances (call between tests)."""
        cls.cameras = [
            {"Model": "imx708", "Location": 2, "Rotation": 180, "Id": "/base/soc/i2c0mux", "Num": 0}
        ]
        cls.modes = [dict(m) for m in IMX708_MODES]
        cls.platform = Platform.VC4
        cls.instances = []

    def __init__(
        self, camera_num: int = 0, verbose_console: Any = None, tuning: Any = None
    ) -> None:
        self.camera_idx = self.global_camera_info()[camera_num]["Num"]  # IndexError like the real
        self.camera_config: dict[str, Any] = {}
        self.crops: dict[str, Rect] = {}
        self.mode: dict[str, Any] | None = None
        self.configured = False
        self.started = False
        self.is_open = True
        self.delivering = True
        self.stop_count = 0
        self.frames = 0
        self.copies = 0
        self.reads: list[str] = []
        self._held = 0
        Picamera2.instances.append(self)

    @property
    def camera_properties(self) -> dict[str, Any]:
        return {"Model": "imx708", "PixelArraySize": SENSOR_SIZE, "Rotation": 180}

    @property
    def sensor_modes(self) -> list[dict[str, Any]]:
        if self.started:
            raise RuntimeError("the real sensor_modes reconfigures the camera: stop it first")
        return [
            dict(m, format=SENSOR_FORMAT, unpacked="SRGGB10", exposure_limits=(75, 11_766_829))
            for m in Picamera2.modes
        ]

    @staticmethod
    def _stream(defaults: dict[str, Any], updates: dict[str, Any] | None) -> dict[str, Any] | None:
        if updates is None:
            return None
        valid = ("format", "size", "stride", "preserve_ar")
        for key, value in updates.items():
            if key not in valid:
                raise ValueError(f"Bad key {key!r}: valid stream configuration keys are {valid}")
            defaults[key] = value
        size = defaults["size"]
        if type(size) is not tuple or len(size) != 2:
            raise RuntimeError("size in stream should be a tuple of two ints")
        defaults["size"] = (size[0] - size[0] % 2, size[1] - size[1] % 2)  # align_stream
        return defaults

    def _configuration(
        self,
        streams: tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None],
        default_size: tuple[int, int],
        options: dict[str, Any],
        use_case: str,
    ) -> dict[str, Any]:
        if not self.is_open:
            raise RuntimeError("Camera not opened")
        main, lores, raw = streams
        main_stream = self._stream(
            {"format": "XBGR8888", "size": default_size, "preserve_ar": True}, main
        )
        assert main_stream is not None
        config = {
            "use_case": use_case,
            "colour_space": options["colour_space"],
            "buffer_count": options["buffer_count"],
            "queue": options["queue"],
            "main": main_stream,
            "lores": self._stream(
                {"format": "YUV420", "size": main_stream["size"], "preserve_ar": False}, lores
            ),
            "raw": self._stream({"format": SENSOR_FORMAT, "size": main_stream["size"]}, raw),
            "controls": dict(options["controls"] or {}),
            "sensor": dict(options["sensor"] or {}),
        }
        if config["colour_space"] is None:  # what create_video_configuration chooses
            small = main_stream["size"][0] < 1280 or main_stream["size"][1] < 720
            config["colour_space"] = "Smpte170m" if small else "Rec709"
        for role in (options["display"], options["encode"]):
            if role is not None and config.get(role) is None:
                raise RuntimeError(f"Display stream {role} was not defined")
        config["display"] = options["display"]
        config["encode"] = options["encode"]
        return config

    def create_video_configuration(
        self,
        main: dict[str, Any] | None = None,
        lores: dict[str, Any] | None = None,
        raw: dict[str, Any] | None = {},  # noqa: B006 - the real default asks for raw
        colour_space: Any = None,
        buffer_count: int = 6,
        controls: dict[str, Any] | None = None,
        display: str | None = "main",
        encode: str | None = "main",
        queue: bool = True,
        sensor: dict[str, Any] | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        options = {
            "colour_space": colour_space,
            "buffer_count": buffer_count,
            "controls": controls,
            "display": display,
            "encode": encode,
            "queue": queue,
            "sensor": sensor,
        }
        streams = (
            dict(main or {}),
            None if lores is None else dict(lores),
            None if raw is None else dict(raw),
        )
        return self._configuration(streams, (1280, 720), options, "video")

    def create_preview_configuration(
        self,
        main: dict[str, Any] | None = None,
        lores: dict[str, Any] | None = None,
        raw: dict[str, Any] | None = {},  # noqa: B006 - the real default asks for raw
        colour_space: Any = "Sycc",
        buffer_count: int = 4,
        controls: dict[str, Any] | None = None,
        display: str | None = "main",
        encode: str | None = "main",
        queue: bool = True,
        sensor: dict[str, Any] | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        options = {
            "colour_space": colour_space,
            "buffer_count": buffer_count,
            "controls": controls,
            "display": display,
            "encode": encode,
            "queue": queue,
            "sensor": sensor,
        }
        streams = (
            dict(main or {}),
            None if lores is None else dict(lores),
            None if raw is None else dict(raw),
        )
        return self._configuration(streams, (640, 480), options, "preview")

    def _pick_mode(self, config: dict[str, Any]) -> dict[str, Any]:
        wanted = config.get("sensor", {}).get("output_size")
        if wanted is not None:
            for mode in Picamera2.modes:
                if mode["size"] == tuple(wanted):
                    return mode
            raise RuntimeError(f"no sensor mode of size {wanted}")
        main = config["main"]["size"]
        fits = [m for m in Picamera2.modes if m["size"][0] >= main[0] and m["size"][1] >= main[1]]
        pool = fits or Picamera2.modes
        return min(pool, key=lambda m: m["size"][0] * m["size"][1])

    def configure(self, camera_config: dict[str, Any]) -> None:
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        main = camera_config.get("main")
        if main is None:
            raise RuntimeError("main stream should be a dictionary")
        bad_keys = set(camera_config.get("sensor") or {}) - {"bit_depth", "output_size"}
        if bad_keys:
            raise RuntimeError(f"Unexpected keys {bad_keys} in sensor configuration")
        lores = camera_config.get("lores")
        if lores is not None and (
            lores["size"][0] > main["size"][0] or lores["size"][1] > main["size"][1]
        ):
            raise RuntimeError("lores stream dimensions may not exceed main stream")
        if lores is not None and lores["format"] != "YUV420" and self.platform is Platform.VC4:
            raise RuntimeError("lores stream must be YUV on a Pi 4")
        if lores is not None and lores.get("preserve_ar") and self.platform is Platform.VC4:
            raise RuntimeError("a Pi 4 cannot crop lores apart from main")
        config = {k: (dict(v) if isinstance(v, dict) else v) for k, v in camera_config.items()}
        self.mode = self._pick_mode(config)
        limits = self.mode["crop_limits"]
        if config.get("raw") is not None:
            config["raw"]["size"] = self.mode["size"]
        main_crop = _centred_crop(limits, main["size"]) if main.get("preserve_ar") else limits
        self.crops = {"main": main_crop}
        if lores is not None:
            own = lores.get("preserve_ar")
            self.crops["lores"] = _centred_crop(limits, lores["size"]) if own else main_crop
        self.camera_config = config
        self.configured = True

    def camera_configuration(self) -> dict[str, Any]:
        return self.camera_config

    def start(self, config: dict[str, Any] | None = None, show_preview: bool = False) -> None:
        if config is not None:
            self.configure(config)
        if not self.configured:
            self.configure(self.create_preview_configuration())  # what the real one does
        self.started = True

    def stop(self) -> None:
        if self.started:
            self.started = False
            self.stop_count += 1

    def close(self) -> None:
        self.stop()
        self.is_open = False

    def stop_delivering(self) -> None:
        """Test hook: the sensor stops producing frames (a loose cable, a crashed ISP)."""
        self.delivering = False

    def capture_request(
        self, wait: float | bool | None = None, signal_function: Any = None, flush: Any = None
    ) -> CompletedRequest:
        if not self.started:
            raise RuntimeError("the fake camera is not started; a real one would block here")
        stalled = not self.delivering or self._held >= self.camera_config["buffer_count"]
        if stalled:
            if wait is None or wait is True:
                raise AssertionError("capture_request would block forever: pass wait=<seconds>")
            raise TimeoutError()
        self._held += 1
        self.frames += 1
        return CompletedRequest(self, self.frames)

    def capture_array(self, name: str = "main", wait: float | bool | None = None) -> np.ndarray:
        request = self.capture_request(wait=wait)
        try:
            return request.make_array(name)
        finally:
            request.release()


Picamera2.reset()
