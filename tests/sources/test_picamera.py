"""The Pi camera source against the fake Picamera2 in tests/fakes (no Pi camera here)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from edge.frames import FrameSource, SourceError
from edge.sources.picamera import PiCameraSource, resize_nearest, yuv420_to_rgb

FAKES = Path(__file__).resolve().parents[1] / "fakes"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """`import picamera2` finds tests/fakes/picamera2.py, fresh for each test."""
    monkeypatch.syspath_prepend(str(FAKES))
    monkeypatch.delitem(sys.modules, "picamera2", raising=False)
    import picamera2

    assert picamera2.__file__ is not None and Path(picamera2.__file__).parent == FAKES
    picamera2.Picamera2.reset()
    yield picamera2
    monkeypatch.delitem(sys.modules, "picamera2", raising=False)


def test_the_detector_reads_lores_and_main_is_small_with_the_sensors_aspect(
    fake: ModuleType,
) -> None:
    source = PiCameraSource((300, 300), fps=15)
    assert isinstance(source, FrameSource)
    source.open()
    (camera,) = fake.Picamera2.instances
    config = camera.camera_configuration()
    assert config["lores"]["size"] == (300, 300)
    assert config["main"]["size"] == (534, 300)  # 16:9 like the sensor, just holding lores
    assert config["main"]["preserve_ar"] is True and config["lores"]["preserve_ar"] is False
    assert config["raw"] is None
    assert config["controls"]["FrameDurationLimits"] == (66667, 66667)
    assert camera.started
    source.read()
    assert camera.reads == ["lores"]  # main is never read
    source.close()
    assert not camera.started
    assert not camera.is_open


def test_no_stream_is_anywhere_near_full_resolution(fake: ModuleType) -> None:
    """The privacy guarantee: only small streams exist, and no raw stream."""
    for size in ((300, 300), (320, 240), (640, 480)):
        source = PiCameraSource(size)
        source.open()
        config = fake.Picamera2.instances[-1].camera_configuration()
        assert config["raw"] is None
        for name in ("main", "lores"):
            width, height = config[name]["size"]
            assert width * height <= 2 * size[0] * size[1]
            assert width * height <= fake.SENSOR_SIZE[0] * fake.SENSOR_SIZE[1] // 10
        source.close()


@pytest.mark.parametrize("platform", ["VC4", "PISP"])
def test_frames_show_the_sensors_whole_field_of_view(fake: ModuleType, platform: str) -> None:
    """The fake's scene is red from the pixel array's left edge (0) to its right (255),
    green from top to bottom: a full view has both ramps end to end. A fast mode that
    reads only the middle of the array is offered too, and is not taken."""
    fake.Picamera2.platform = fake.Platform[platform]
    fake.Picamera2.modes = [*fake.Picamera2.modes, dict(fake.CROPPED_MODE)]
    source = PiCameraSource((300, 300))
    source.open()
    (camera,) = fake.Picamera2.instances
    assert camera.mode["crop_limits"] == (0, 0, *fake.SENSOR_SIZE)
    assert camera.mode["size"] == (1536, 864)  # the smallest full-view mode: binned, fast
    image = source.read().image
    assert image.shape == (300, 300, 3)
    red, green = image[:, :, 0].astype(int), image[:, :, 1].astype(int)
    assert red[:, 0].max() <= 4 and red[:, -1].min() >= 250
    assert green[0, :].max() <= 4 and green[-1, :].min() >= 250
    assert abs(int(image[150, 150, 2]) - fake.SCENE_BLUE) <= 4
    source.close()


def test_frames_are_converted_once_from_a_view_of_the_buffer(fake: ModuleType) -> None:
    source = PiCameraSource((300, 300))
    source.open()
    frames = [source.read() for _ in range(10)]  # more than the 4 buffers: all released
    camera = fake.Picamera2.instances[0]
    assert camera.copies == 0  # never make_array's copy: one conversion into the frame
    assert [f.index for f in frames] == list(range(10))
    assert all(f.size == (300, 300) for f in frames)
    assert all(f.image.flags.c_contiguous and f.image.dtype == np.uint8 for f in frames)
    source.close()


def test_frames_are_stamped_with_the_sensors_timestamp(fake: ModuleType) -> None:
    source = PiCameraSource((300, 300))
    source.open()
    first, second, third = (source.read() for _ in range(3))
    assert second.timestamp - first.timestamp == pytest.approx(fake.FRAME_NS * 1e-9, abs=1e-6)
    assert third.timestamp - second.timestamp == pytest.approx(fake.FRAME_NS * 1e-9, abs=1e-6)
    # On the wall clock: the sensor's monotonic time plus the offset taken at open.
    offset = time.time() - time.monotonic()
    sensor = (fake.FIRST_TIMESTAMP_NS + fake.FRAME_NS) * 1e-9
    assert first.clock == pytest.approx(sensor, abs=1e-9)  # the sensor's own clock
    assert first.timestamp == pytest.approx(sensor + offset, abs=1.0)
    source.close()


def test_yuv420_conversion_matches_the_bt601_limited_range_encoding(fake: ModuleType) -> None:
    rng = np.random.default_rng(0)
    block = rng.integers(20, 235, (12, 20, 3)).astype(np.uint8)
    rgb = np.repeat(np.repeat(block, 2, axis=0), 2, axis=1)  # flat 2x2 blocks: chroma exact
    buffer = fake.yuv420_limited(rgb)
    assert buffer.shape == (36, 64)  # rows padded to a stride of 64
    out = yuv420_to_rgb(buffer, 40, 24)
    assert np.abs(out.astype(int) - rgb.astype(int)).max() <= 3


def test_a_size_the_camera_adjusts_is_resized_back(fake: ModuleType) -> None:
    source = PiCameraSource((301, 225))
    assert source.decode_size() == (301, 225)  # what it asks the ISP for
    source.open()
    (camera,) = fake.Picamera2.instances
    assert camera.camera_configuration()["lores"]["size"] == (300, 224)
    assert source.decode_size() == (300, 224)  # what the ISP delivers: the manifest's figure
    frame = source.read()
    assert frame.size == (301, 225)
    source.close()


def test_a_camera_that_stops_delivering_is_a_transient_error_and_reopens(
    fake: ModuleType,
) -> None:
    source = PiCameraSource((320, 240), timeout=0.5)
    source.open()
    assert source.read().index == 0
    fake.Picamera2.instances[0].stop_delivering()
    with pytest.raises(SourceError, match=r"delivered no frame within 0\.5 s") as error:
        source.read()
    assert error.value.transient is True
    source.close()
    source.open()  # what the pipeline does after a transient error
    assert len(fake.Picamera2.instances) == 2
    assert source.read().index == 1  # no index is reused, so no frame is counted twice
    source.close()


def test_no_camera_connected_is_one_clear_sentence(fake: ModuleType) -> None:
    fake.Picamera2.cameras = []
    with pytest.raises(SourceError, match=r"^no Pi camera number 0 is connected; check") as error:
        PiCameraSource((320, 240)).open()
    assert error.value.transient is False


def test_reading_before_open_says_so(fake: ModuleType) -> None:
    with pytest.raises(SourceError, match="not open"):
        PiCameraSource((320, 240)).read()


def test_without_picamera2_the_error_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(
        SourceError,
        match=r"install python3-picamera2 \(apt\) and create the venv with --system-site-packages",
    ):
        PiCameraSource((320, 240)).open()


def test_the_fake_gives_a_raw_stream_and_a_cropped_view_by_default(fake: ModuleType) -> None:
    """Guards the fake itself: it must expose what the source is careful to avoid."""
    camera = fake.Picamera2()
    camera.configure(camera.create_video_configuration(main={"size": (320, 240)}))
    assert camera.camera_configuration()["raw"]["size"] == (1536, 864)
    with pytest.raises(RuntimeError, match="tuple"):
        camera.create_video_configuration(main={"size": [320, 240]})
    # A 4:3 main on a 16:9 sensor shows a centred 4:3 crop; a square lores shares it,
    # stretched, unless on a Pi 5 it asks to keep its own aspect ratio.
    assert camera.crops["main"] == (576, 0, 3456, 2592)
    fake.Picamera2.modes = [*fake.Picamera2.modes, dict(fake.CROPPED_MODE)]
    camera = fake.Picamera2()
    camera.configure(camera.create_video_configuration(main={"size": (534, 300)}))
    assert camera.crops["main"][2:] == (2304, 1294)  # libcamera's pick: the cropped mode
    with pytest.raises(RuntimeError, match="Pi 4"):
        camera.configure(
            camera.create_video_configuration(
                main={"size": (534, 300)}, lores={"size": (300, 300), "preserve_ar": True}
            )
        )
    fake.Picamera2.platform = fake.Platform.PISP
    camera.configure(
        camera.create_video_configuration(
            main={"size": (534, 300)}, lores={"size": (300, 300), "preserve_ar": True}
        )
    )
    assert camera.crops["lores"] == (1656, 648, 1296, 1296)


def test_resize_nearest_picks_the_nearest_source_pixels() -> None:
    image = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    out = resize_nearest(image, (3, 2))
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out, image[[0, 2]][:, [0, 2, 4]])
