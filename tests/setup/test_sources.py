"""Setup's sources: the Pi camera (a fake of picamera2; no camera here) is asked for the
sensor's own aspect ratio, so the page shows the view the sensor counts on; a file plays
again at its end with frame times that keep growing."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from edge.config import parse_config
from edge.frames import Frame
from edge.setup.command import SetupError, open_input
from edge.setup.session import SetupSession
from tests.fakes.core import ScriptedDetector

FAKES = Path(__file__).resolve().parents[1] / "fakes"
CONFIG = parse_config(
    {
        "sensor": {"id": "cam"},
        "zones": [{"name": "all", "polygon": [[0, 0], [1, 0], [1, 1]]}],
        "detector": {"threads": 1},
    }
)


@pytest.fixture
def fake_camera(monkeypatch):
    monkeypatch.syspath_prepend(str(FAKES))
    monkeypatch.delitem(sys.modules, "picamera2", raising=False)
    import picamera2

    yield picamera2
    monkeypatch.delitem(sys.modules, "picamera2", raising=False)


def test_the_pi_camera_gives_the_sensors_view_at_page_size(fake_camera):
    detector, opened, settings = open_input(CONFIG, "picamera2")
    assert detector.input_size == (300, 300)
    assert settings.size == (480, 480)  # the detector's square, as large as fits 640x480
    source = opened()  # the first source was opened before the guard would be installed
    (camera,) = fake_camera.Picamera2.instances
    config = camera.camera_configuration()
    # The sensor's own configuration at page size: the page reads lores over the whole
    # field of view; main keeps the sensor's aspect and is never read.
    assert config["lores"]["size"] == (480, 480)
    main_width, main_height = config["main"]["size"]
    assert main_height == 480 and main_width > main_height
    assert config["raw"] is None
    frame = source.read()
    assert frame is not None and frame.size == (480, 480)
    source.close()


def test_a_missing_file_is_one_sentence():
    with pytest.raises(SetupError, match=r"cannot open video file /nowhere\.avi: no such file"):
        open_input(CONFIG, "/nowhere.avi")


class _Finite:
    """Three frames whose clock starts at 100 s each time, as a reopened file's does."""

    def __init__(self) -> None:
        self.left = 3

    def read(self) -> Frame | None:
        if self.left == 0:
            return None
        self.left -= 1
        index = 2 - self.left
        return Frame(np.zeros((48, 64, 3), np.uint8), index, 100.0 + index * 0.5)

    def close(self) -> None:
        pass


def test_a_file_plays_again_with_growing_frame_times():
    import threading

    made = []

    def opened():
        made.append(_Finite())
        return made[-1]

    session = SetupSession(opened, ScriptedDetector({}), CONFIG)
    seen: list[float] = []
    stop = threading.Event()
    original = session.step

    def step(frame):
        seen.append(frame.timestamp)
        if len(seen) == 8:
            stop.set()
        return original(frame)

    session.step = step
    session.run(stop)
    assert session.error is None
    assert len(made) == 3
    assert seen == [100.0, 100.5, 101.0, 101.5, 102.0, 102.5, 103.0, 103.5]


def test_blanking_follows_a_config_that_tracks_below_the_default(fake_camera):
    low = CONFIG.model_copy(
        update={"detector": CONFIG.detector.model_copy(update={"low_score_threshold": 0.1})}
    )
    _, opened, settings = open_input(low, "picamera2")
    assert settings.blank_score == 0.1
    opened().close()
    _, opened, settings = open_input(CONFIG, "picamera2")
    assert settings.blank_score == 0.2  # below counting's 0.5 and the tracker's 0.2
    opened().close()
