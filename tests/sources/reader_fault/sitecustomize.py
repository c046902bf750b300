"""Loaded by a `headcount run` child of tests/sources/test_reader_failure.py (it is put on
PYTHONPATH): `HEADCOUNT_TEST_READER_FAULT` = "raise:N" makes the OpenCV reader raise a
ValueError at frame N, "block:N" makes it hang there, as a broken codec or library might.
Everything else in that run is real: the video file, the decoder, the detector, the CLI.
"""

from __future__ import annotations

import os
import threading

FAULT = os.environ.get("HEADCOUNT_TEST_READER_FAULT")

if FAULT:
    from edge.frames import Frame
    from edge.sources import opencv

    kind, _, at = FAULT.partition(":")
    original = opencv.OpenCVSource.read

    def read(self: opencv.OpenCVSource) -> Frame | None:
        frame = original(self)
        if frame is not None and frame.index >= int(at):
            if kind == "raise":
                raise ValueError("injected fault in the frame reader")
            threading.Event().wait()  # hangs for good
        return frame

    opencv.OpenCVSource.read = read  # type: ignore[method-assign]
