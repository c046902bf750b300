"""The Pi camera source against the fake Picamera2 in tests/fakes (no Pi camera here)."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from edge.frames import FrameSource, SourceError
from edge.sources.picamera import PiCameraSource, resize_nearest

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


def test_configures_only_a_small_main_stream_in_rgb888(fake: ModuleType) -> None:
    source = PiCameraSource((320, 240), fps=15)
    assert isinstance(source, FrameSource)
    source.open()
    (camera,) = fake.Picamera2.instances
    config = camera.camera_configuration()
    assert config["main"]["size"] == (320, 240)
    assert config["main"]["format"] == "RGB888"
    assert config["raw"] is None
    assert config["lores"] is None
    assert config["controls"]["FrameDurationLimits"] == (66667, 66667)
    streams = [s for s in (config["main"], config["lores"], config["raw"]) if s is not None]
    assert all(s["size"][0] <= 320 and s["size"][1] <= 240 for s in streams)
    assert camera.started
    source.close()
    assert not camera.started
    assert not camera.is_open


def test_frames_are_rgb_at_the_capture_size_with_growing_indices(fake: ModuleType) -> None:
    source = PiCameraSource((320, 240))
    source.open()
    frames = [source.read() for _ in range(10)]  # more than the 4 buffers: all released
    assert [f.index for f in frames] == list(range(10))
    assert all(f.size == (320, 240) for f in frames)
    assert frames[0].image[5, 7].tolist() == list(fake.SCENE_RGB)  # B, G, R turned into R, G, B
    assert frames[0].image.flags.c_contiguous
    assert all(b.timestamp >= a.timestamp for a, b in itertools.pairwise(frames))
    source.close()


def test_a_size_the_camera_adjusts_is_resized_back(fake: ModuleType) -> None:
    source = PiCameraSource((301, 225))
    assert source.decode_size() == (301, 225)  # what it asks the ISP for
    source.open()
    (camera,) = fake.Picamera2.instances
    assert camera.camera_configuration()["main"]["size"] == (300, 224)
    assert source.decode_size() == (300, 224)  # what the ISP delivers: the manifest's figure
    frame = source.read()
    assert frame.size == (301, 225)
    assert frame.image[224, 300].tolist() == list(fake.SCENE_RGB)
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


def test_the_fake_gives_a_full_resolution_raw_stream_by_default(fake: ModuleType) -> None:
    """Guards the fake itself: it must expose what the source is careful to avoid."""
    camera = fake.Picamera2()
    camera.configure(camera.create_video_configuration(main={"size": (320, 240)}))
    assert camera.camera_configuration()["raw"]["size"] == fake.SENSOR_SIZE
    with pytest.raises(RuntimeError, match="tuple"):
        camera.create_video_configuration(main={"size": [320, 240]})


def test_resize_nearest_picks_the_nearest_source_pixels() -> None:
    image = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    out = resize_nearest(image, (3, 2))
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out, image[[0, 2]][:, [0, 2, 4]])
