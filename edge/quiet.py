"""Native libraries' chatter kept off stderr, so a user's mistake reads as one sentence.

LiteRT prints `INFO: Created TensorFlow Lite XNNPACK delegate for CPU.` and OpenCV or
FFmpeg print `[ WARN:0@...]` / `moov atom not found` straight to file descriptor 2,
around Python's logging. `quiet_native_logs` asks OpenCV and FFmpeg for errors only
(unless the environment already says otherwise); `held_stderr` holds descriptor 2
while libraries load: what they wrote is passed on if loading succeeds and dropped if
it fails, since the caller then tells the user what to do in one sentence.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

QUIET_ENV = {
    "OPENCV_LOG_LEVEL": "ERROR",
    "OPENCV_FFMPEG_LOGLEVEL": "-8",  # AV_LOG_QUIET
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "LIBCAMERA_LOG_LEVELS": "*:ERROR",
}

DRAIN_SECONDS = 5.0
"""Longest wait for the held output once descriptor 2 is given back."""


def quiet_native_logs() -> None:
    """Set the libraries' log levels; call before they are imported (they read it once)."""
    for name, value in QUIET_ENV.items():
        os.environ.setdefault(name, value)


class _Drain(threading.Thread):
    """Reads a pipe to its end, so a chatty library never blocks on a full pipe."""

    def __init__(self, fd: int) -> None:
        super().__init__(name="stderr-hold", daemon=True)
        self.fd = fd
        self.chunks: list[bytes] = []

    def run(self) -> None:
        while chunk := os.read(self.fd, 65536):
            self.chunks.append(chunk)


@contextlib.contextmanager
def held_stderr() -> Iterator[None]:
    """Hold what is written to descriptor 2 inside the block; pass it on unless it raises."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no descriptor 2 to hold
        yield
        return
    read_end, write_end = os.pipe()
    drain = _Drain(read_end)
    drain.start()
    os.dup2(write_end, 2)
    os.close(write_end)
    failed = True
    try:
        yield
        failed = False
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        drain.join(DRAIN_SECONDS)
        if not drain.is_alive():  # else a library kept a copy of descriptor 2: leave it be
            os.close(read_end)
        if not failed:
            for chunk in drain.chunks:
                os.write(2, chunk)
