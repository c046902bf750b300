"""A fake of the part of picamera2's `Picamera2` API the Pi camera source uses.

It behaves like the real library where the source depends on it: `global_camera_info()`
lists the attached cameras and `Picamera2(n)` fails with IndexError without one;
`create_video_configuration` / `create_preview_configuration` return the same dict
shape with the same defaults (XBGR8888 main, a raw stream unless `raw=None`, sizes
aligned to even numbers, sizes must be tuples); `configure` records the configuration
and fills in the raw stream at the sensor mode's size; `capture_request(wait=seconds)`
raises TimeoutError when no frame comes in time (as the real job's future does), and
when every buffer is held unreleased; `make_array` gives arrays of the configured size
in the real byte order ("RGB888" is B, G, R in memory; "BGR888" is R, G, B; "XBGR8888"
is R, G, B, X; "YUV420" is an (H*3/2, W) plane array).

Tests put this file's folder first on sys.path so `import picamera2` finds it, and can
tell a camera to stop delivering with `stop_delivering()`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

SENSOR_SIZE = (4608, 2592)
SENSOR_FORMAT = "SRGGB10_CSI2P"
SCENE_RGB = (200, 100, 30)
"""The colour the fake sensor sees everywhere, as R, G, B."""


class CompletedRequest:
    """One captured frame; its buffers go back to the camera on `release()`."""

    def __init__(self, camera: Picamera2, sequence: int) -> None:
        self._camera = camera
        self.sequence = sequence
        self.released = False

    def make_array(self, name: str) -> np.ndarray:
        if self.released:
            raise RuntimeError("request used after release")
        config = self._camera.camera_config.get(name)
        if config is None:
            raise RuntimeError(f"Stream {name!r} is not defined")
        width, height = config["size"]
        r, g, b = SCENE_RGB
        fmt = config["format"]
        if fmt == "RGB888":
            pixel = [b, g, r]
        elif fmt == "BGR888":
            pixel = [r, g, b]
        elif fmt == "XBGR8888":
            pixel = [r, g, b, 255]
        elif fmt == "XRGB8888":
            pixel = [b, g, r, 255]
        elif fmt == "YUV420":
            return np.full((height * 3 // 2, width), 128, np.uint8)
        else:
            raise RuntimeError(f"the fake cannot make arrays of format {fmt}")
        return np.tile(np.array(pixel, np.uint8), (height, width, 1))

    def get_metadata(self) -> dict[str, Any]:
        return {"SensorTimestamp": 1_000_000_000 + self.sequence * 33_333_333}

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._camera._held -= 1


class Picamera2:
    """Fake `picamera2.Picamera2`; class attributes are the test's control panel."""

    cameras: ClassVar[list[dict[str, Any]]] = [
        {"Model": "imx708", "Location": 2, "Rotation": 180, "Id": "/base/soc/i2c0mux", "Num": 0}
    ]
    instances: ClassVar[list[Picamera2]] = []

    @staticmethod
    def global_camera_info() -> list[dict[str, Any]]:
        return [dict(c) for c in Picamera2.cameras]

    @classmethod
    def reset(cls) -> None:
        """Back to one attached camera and no instances (call between tests)."""
        cls.cameras = [
            {"Model": "imx708", "Location": 2, "Rotation": 180, "Id": "/base/soc/i2c0mux", "Num": 0}
        ]
        cls.instances = []

    def __init__(
        self, camera_num: int = 0, verbose_console: Any = None, tuning: Any = None
    ) -> None:
        self.camera_idx = self.global_camera_info()[camera_num]["Num"]  # IndexError like the real
        self.camera_config: dict[str, Any] = {}
        self.configured = False
        self.started = False
        self.is_open = True
        self.delivering = True
        self.stop_count = 0
        self.frames = 0
        self._held = 0
        Picamera2.instances.append(self)

    @property
    def camera_properties(self) -> dict[str, Any]:
        return {"Model": "imx708", "PixelArraySize": SENSOR_SIZE, "Rotation": 180}

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
        main: dict[str, Any],
        lores: dict[str, Any] | None,
        raw: dict[str, Any] | None,
        default_size: tuple[int, int],
        buffer_count: int,
        controls: dict[str, Any],
        display: str | None,
        encode: str | None,
        queue: bool,
        use_case: str,
    ) -> dict[str, Any]:
        if not self.is_open:
            raise RuntimeError("Camera not opened")
        main_stream = self._stream({"format": "XBGR8888", "size": default_size}, main)
        assert main_stream is not None
        config = {
            "use_case": use_case,
            "buffer_count": buffer_count,
            "queue": queue,
            "main": main_stream,
            "lores": self._stream({"format": "YUV420", "size": main_stream["size"]}, lores),
            "raw": self._stream({"format": SENSOR_FORMAT, "size": main_stream["size"]}, raw),
            "controls": dict(controls),
            "sensor": {},
        }
        for role in (display, encode):
            if role is not None and config.get(role) is None:
                raise RuntimeError(f"Display stream {role} was not defined")
        config["display"] = display
        config["encode"] = encode
        return config

    def create_video_configuration(
        self,
        main: dict[str, Any] | None = None,
        lores: dict[str, Any] | None = None,
        raw: dict[str, Any] | None = {},  # noqa: B006 - the real default asks for raw
        buffer_count: int = 6,
        controls: dict[str, Any] | None = None,
        display: str | None = "main",
        encode: str | None = "main",
        queue: bool = True,
        **_: Any,
    ) -> dict[str, Any]:
        return self._configuration(
            dict(main or {}),
            None if lores is None else dict(lores),
            None if raw is None else dict(raw),
            (1280, 720),
            buffer_count,
            controls or {},
            display,
            encode,
            queue,
            "video",
        )

    def create_preview_configuration(
        self,
        main: dict[str, Any] | None = None,
        lores: dict[str, Any] | None = None,
        raw: dict[str, Any] | None = {},  # noqa: B006 - the real default asks for raw
        buffer_count: int = 4,
        controls: dict[str, Any] | None = None,
        display: str | None = "main",
        encode: str | None = "main",
        queue: bool = True,
        **_: Any,
    ) -> dict[str, Any]:
        return self._configuration(
            dict(main or {}),
            None if lores is None else dict(lores),
            None if raw is None else dict(raw),
            (640, 480),
            buffer_count,
            controls or {},
            display,
            encode,
            queue,
            "preview",
        )

    def configure(self, camera_config: dict[str, Any]) -> None:
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        main = camera_config.get("main")
        if main is None:
            raise RuntimeError("main stream should be a dictionary")
        lores = camera_config.get("lores")
        if lores is not None and (
            lores["size"][0] > main["size"][0] or lores["size"][1] > main["size"][1]
        ):
            raise RuntimeError("lores stream dimensions may not exceed main stream")
        config = {k: (dict(v) if isinstance(v, dict) else v) for k, v in camera_config.items()}
        if config.get("raw") is not None:
            config["raw"]["size"] = SENSOR_SIZE  # libcamera picks the full sensor mode
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
