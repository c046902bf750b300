"""OpenCV source on small MJPG videos the tests write, and on a real local HTTP stream."""

from __future__ import annotations

import functools
import http.server
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.frames import Frame, FrameSource, SourceError
from edge.sources.opencv import OpenCVSource

FPS = 5.0
W, H = 64, 48


def write_video(path: Path, frames: int = 10) -> Path:
    """Frame k is flat: blue = green = 20k, red = 200 (in OpenCV's BGR order)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (W, H))
    assert writer.isOpened()
    for k in range(frames):
        image = np.full((H, W, 3), 20 * k, np.uint8)
        image[:, :, 2] = 200
        writer.write(image)
    writer.release()
    return path


def corrupt_frame(path: Path, k: int) -> None:
    """Blank the JPEG data of frame k (between its start-of-image marker and the next)."""
    data = bytearray(path.read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    data[starts[k] + 2 : starts[k + 1] - 16] = bytes(starts[k + 1] - 16 - starts[k] - 2)
    path.write_bytes(bytes(data))


def read_all(source: FrameSource) -> list[Frame]:
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
    return frames


class FakeClock:
    """Monotonic time that only the fake sleep moves: pacing is checked without waiting."""

    def __init__(self) -> None:
        self.now = 50.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_file_frames_have_decode_indices_video_time_rgb_and_the_capture_size(
    tmp_path: Path,
) -> None:
    video = write_video(tmp_path / "walk.avi")
    source = OpenCVSource(str(video), (32, 24), origin=1000.0)
    assert isinstance(source, FrameSource)
    source.open()
    frames = read_all(source)
    source.close()
    assert [f.index for f in frames] == list(range(10))
    assert [f.timestamp for f in frames] == pytest.approx([1000.0 + k / FPS for k in range(10)])
    assert all(f.size == (32, 24) for f in frames)
    red, green, blue = frames[3].image[12, 16].astype(int)
    assert abs(red - 200) <= 4  # BGR was turned into RGB
    assert abs(green - 60) <= 4
    assert abs(blue - 60) <= 4


def test_file_is_read_without_sleeping_unless_realtime(tmp_path: Path) -> None:
    video = write_video(tmp_path / "walk.avi")
    clock = FakeClock()
    fast = OpenCVSource(str(video), (W, H), clock=clock, sleep=clock.sleep)
    fast.open()
    assert len(read_all(fast)) == 10
    assert clock.sleeps == []

    paced = OpenCVSource(str(video), (W, H), realtime=True, clock=clock, sleep=clock.sleep)
    paced.open()
    assert len(read_all(paced)) == 10
    assert clock.sleeps == pytest.approx([1 / FPS] * 9)


def test_a_corrupt_frame_is_skipped_with_a_warning_and_keeps_its_index(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    video = write_video(tmp_path / "walk.avi")
    corrupt_frame(video, 4)
    source = OpenCVSource(str(video), (W, H), origin=0.0)
    source.open()
    with caplog.at_level(logging.WARNING, logger="edge.sources.opencv"):
        frames = read_all(source)
    assert [f.index for f in frames] == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    # The frame after the gap really is frame 5 (green = 100), stamped at 5 / fps.
    assert abs(int(frames[4].image[0, 0, 1]) - 100) <= 4
    assert frames[4].timestamp == pytest.approx(1.0)
    assert [r.getMessage() for r in caplog.records] == [
        "skipped unreadable frame 4 of video file " + str(video)
    ]


def test_reopening_a_file_continues_at_the_next_frame(tmp_path: Path) -> None:
    video = write_video(tmp_path / "walk.avi")
    source = OpenCVSource(str(video), (W, H), origin=0.0)
    source.open()
    assert [source.read().index for _ in range(3)] == [0, 1, 2]  # type: ignore[union-attr]
    source.close()
    with pytest.raises(SourceError, match="is not open"):
        source.read()
    source.open()
    rest = read_all(source)
    assert [f.index for f in rest] == list(range(3, 10))
    assert abs(int(rest[0].image[0, 0, 1]) - 60) <= 4


def test_missing_file_is_one_clear_sentence(tmp_path: Path) -> None:
    missing = tmp_path / "nope.avi"
    with pytest.raises(
        SourceError, match=r"^cannot open video file .*nope.avi: no such file$"
    ) as error:
        OpenCVSource(str(missing), (W, H)).open()
    assert error.value.transient is False


def test_a_file_that_is_not_a_video_is_refused(tmp_path: Path) -> None:
    text = tmp_path / "notes.avi"
    text.write_text("not a video at all\n" * 10)
    with pytest.raises(
        SourceError, match=r"cannot open video file .*: not a video OpenCV can decode"
    ):
        OpenCVSource(str(text), (W, H)).open()


def test_a_missing_webcam_cannot_be_opened() -> None:
    with pytest.raises(SourceError, match=r"^cannot open webcam 63: no such device or it is busy$"):
        OpenCVSource(63, (W, H)).open()


def test_without_cv2_the_error_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = write_video(tmp_path / "walk.avi")
    monkeypatch.setitem(sys.modules, "cv2", None)  # what Python does for a missing module
    with pytest.raises(
        SourceError, match=r"install the opencv extra: pip install 'headcount\[opencv\]'"
    ):
        OpenCVSource(str(video), (W, H)).open()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    """A real local HTTP server: OpenCV's FFmpeg backend reads the video as a stream."""
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_stream_that_stops_delivering_raises_a_transient_error(
    tmp_path: Path, http_server: str
) -> None:
    write_video(tmp_path / "live.avi")
    source = OpenCVSource(f"{http_server}/live.avi", (32, 24), live=True)
    source.open()
    frames = [source.read() for _ in range(10)]
    assert [f.index for f in frames if f] == list(range(10))
    assert all(f is not None and f.size == (32, 24) for f in frames)
    with pytest.raises(SourceError, match="stopped delivering frames") as error:
        source.read()
    assert error.value.transient is True
    source.close()
    source.open()  # the pipeline's reopen: indices keep growing
    again = source.read()
    assert again is not None
    assert again.index == 10


def test_reopening_a_stream_that_is_gone_is_transient(tmp_path: Path, http_server: str) -> None:
    video = write_video(tmp_path / "live.avi")
    source = OpenCVSource(f"{http_server}/live.avi", (32, 24), live=True)
    source.open()
    assert source.read() is not None
    source.close()
    video.unlink()
    with pytest.raises(
        SourceError, match=r"cannot open stream .*: the stream does not answer"
    ) as error:
        source.open()
    assert error.value.transient is True
