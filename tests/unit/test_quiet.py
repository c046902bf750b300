"""Held stderr: what native code writes to descriptor 2 while the sensor is built is passed
on when building succeeds and dropped when it fails (the user then reads one sentence)."""

from __future__ import annotations

import os

import pytest

from edge.quiet import QUIET_ENV, held_stderr, quiet_native_logs


def test_chatter_is_passed_on_after_success(capfd: pytest.CaptureFixture[str]) -> None:
    with held_stderr():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        assert capfd.readouterr().err == ""  # held, not yet written
    assert capfd.readouterr().err == "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"


def test_chatter_is_dropped_when_the_block_fails(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RuntimeError), held_stderr():
        os.write(2, b"[ WARN:0@0.036] global cap_v4l.cpp:914 can't open camera by index\n")
        raise RuntimeError("no such camera")
    os.write(2, b"headcount: cannot open webcam 7\n")
    assert capfd.readouterr().err == "headcount: cannot open webcam 7\n"


def test_a_lot_of_chatter_does_not_block(capfd: pytest.CaptureFixture[str]) -> None:
    with held_stderr():
        for _ in range(64):
            os.write(2, b"x" * 4096)  # 256 KiB, beyond a pipe's buffer
    assert len(capfd.readouterr().err) == 64 * 4096


def test_library_log_levels_default_to_errors_only(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in QUIET_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENCV_LOG_LEVEL", "DEBUG")  # a user's own choice is kept
    quiet_native_logs()
    assert os.environ["OPENCV_LOG_LEVEL"] == "DEBUG"
    assert os.environ["OPENCV_FFMPEG_LOGLEVEL"] == "-8"
