"""`open_source` maps each kind of config uri to its source, without opening anything."""

from __future__ import annotations

import pytest

from edge.frames import SourceError
from edge.sources import open_source
from edge.sources.opencv import OpenCVSource
from edge.sources.picamera import PiCameraSource


def test_picamera2() -> None:
    source = open_source("picamera2", (320, 240), fps=10)
    assert isinstance(source, PiCameraSource)
    assert source.size == (320, 240)
    assert source.fps == 10


@pytest.mark.parametrize(("uri", "index"), [("0", 0), ("2", 2)])
def test_a_digit_string_is_a_webcam_index(uri: str, index: int) -> None:
    source = open_source(uri, (320, 240))
    assert isinstance(source, OpenCVSource)
    assert source.target == index
    assert source.live


@pytest.mark.parametrize(
    "uri", ["rtsp://cam.local:554/stream", "http://10.0.0.2/video.mjpg", "HTTPS://x/y"]
)
def test_stream_urls_are_live(uri: str) -> None:
    source = open_source(uri, (320, 240), realtime=True)
    assert isinstance(source, OpenCVSource)
    assert source.target == uri
    assert source.live
    assert not source.realtime  # a live stream paces itself


def test_anything_else_is_a_video_file() -> None:
    source = open_source("footage/door 1.avi", (300, 300), realtime=True, origin=5.0)
    assert isinstance(source, OpenCVSource)
    assert source.target == "footage/door 1.avi"
    assert not source.live
    assert source.realtime
    assert source.size == (300, 300)


@pytest.mark.parametrize(
    ("uri", "size", "message"),
    [
        ("  ", (320, 240), "source uri is empty"),
        ("picamera2", (0, 240), "capture size must be positive, got 0x240"),
    ],
)
def test_bad_input_is_one_sentence(uri: str, size: tuple[int, int], message: str) -> None:
    with pytest.raises(SourceError, match=message):
        open_source(uri, size)
