"""A frame reader thread that fails in an unexpected way ends or stops a real `headcount
run` on a real video file: an exception gives one sentence and exit 1 (so systemd restarts
it), and a reader that hangs does not keep SIGTERM from closing the run cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FAULT_PATH = Path(__file__).with_name("reader_fault")
CONFIG = (
    "[sensor]\nid = 'd'\nsite = 's'\n[[zones]]\nname = 'z'\npolygon = [[0, 0], [1, 0], [1, 1]]\n"
)
FAULT_AT = 5


def sample_video() -> Path:
    folder = Path(os.environ.get("HEADCOUNT_SAMPLES", Path.home() / ".cache/headcount/samples"))
    video = folder / "vtest.avi"
    if not video.is_file():
        pytest.fail(f"{video} is missing: run `make samples`")
    return video


@contextmanager
def start(tmp_path: Path, fault: str) -> Iterator[subprocess.Popen[str]]:
    """The run, killed at the end of the block if it is still there (a hung run must
    fail the test, not hang it)."""
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), str(FAULT_PATH)]),
        "HEADCOUNT_TEST_READER_FAULT": fault,
    }
    command = [sys.executable, "-m", "edge.cli", "--log-level", "warning", "run"]
    options = ["--config", str(config), "--source", str(sample_video()), "--publish-every", "0"]
    child = subprocess.Popen(
        [*command, *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        yield child
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate()


def wait_until_main_thread_waits(pid: int, bound: float = 30.0) -> None:
    """Until the run's main thread sleeps on a futex (waiting for the next frame), as
    /proc shows it; the reader thread is hung, so nothing else can wake it."""
    task = Path(f"/proc/{pid}/task/{pid}")
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        state = (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "S" and "futex" in (task / "wchan").read_text():
            return
        time.sleep(0.01)
    pytest.fail("the run's main thread never waited for a frame")


def test_a_reader_that_raises_ends_the_run_with_one_sentence_and_exit_1(tmp_path: Path) -> None:
    with start(tmp_path, f"raise:{FAULT_AT}") as child:
        stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == 1, stderr
    assert "Traceback" not in stderr
    said = [line for line in stderr.splitlines() if line.startswith("headcount:")]
    assert len(said) == 1, stderr
    assert "frame reader" in said[0] and "ValueError" in said[0]
    # The frames read before the failure were counted and their snapshots published.
    frames = [json.loads(line)["frame"] for line in stdout.splitlines()]
    assert frames[:FAULT_AT] == list(range(FAULT_AT))


def test_sigterm_while_waiting_on_a_hung_reader_closes_the_run(tmp_path: Path) -> None:
    with start(tmp_path, f"block:{FAULT_AT}") as child:
        assert child.stdout is not None
        frames = []
        for line in child.stdout:  # the last frame before the hang, then the wait
            frames.append(json.loads(line)["frame"])
            if frames[-1] == FAULT_AT - 1:
                break
        wait_until_main_thread_waits(child.pid)
        child.send_signal(signal.SIGTERM)
        stdout, stderr = child.communicate(timeout=60)
    assert child.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert frames == list(range(FAULT_AT))
    # The closing snapshot went out after the signal.
    assert [json.loads(line)["frame"] for line in stdout.splitlines()] == [FAULT_AT - 1]
