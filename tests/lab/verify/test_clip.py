"""Clip mode on the demo footage (vtest.avi, first 20 s) with a truth file written by watching it:
plumbing only. The counts scored are the counts `headcount run` prints for the same clip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from edge.cli import main

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SAMPLES = Path(os.environ.get("HEADCOUNT_SAMPLES", Path.home() / ".cache/headcount/samples"))
CONFIG = HERE / "data" / "vtest_walkway.toml"
TRUTH = HERE / "data" / "vtest_first20s.crossings.csv"
LAUNCH = "import sys; from edge.cli import main; sys.exit(main())"


@pytest.fixture(scope="module")
def first_20s(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Frames 0-199 of vtest.avi, re-encoded as Motion JPEG at the clip's 10 frames/s."""
    import cv2

    source = SAMPLES / "vtest.avi"
    if not source.is_file():
        pytest.fail(f"{source} is missing: run `make samples` (make test does)")
    out = tmp_path_factory.mktemp("clip") / "vtest_20s.avi"
    capture = cv2.VideoCapture(str(source))
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (768, 576))
    for _ in range(200):
        ok, frame = capture.read()
        assert ok
        writer.write(frame)
    writer.release()
    capture.release()
    return out


def test_clip_mode_scores_what_headcount_run_counts(
    first_20s: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit, report = tmp_path / "clip.xml", tmp_path / "clip.md"
    status = main(
        [
            "verify",
            "--config",
            str(CONFIG),
            "--video",
            str(first_20s),
            "--truth",
            str(TRUTH),
            "--junit",
            str(junit),
            "--report",
            str(report),
        ]
    )
    out = capsys.readouterr().out
    cases = {
        c.get("name"): c.find("failure") is None for c in ET.parse(junit).getroot().iter("testcase")
    }
    assert list(cases) == ["walkway in", "walkway out", "buckets add up"]
    assert status == (0 if all(cases.values()) else 1)
    assert "| walkway in | 5 |" in report.read_text()  # the truth's five inward crossings
    assert "| walkway out | 3 |" in report.read_text()

    run = subprocess.run(
        [sys.executable, "-c", LAUNCH, "run", "--config", str(CONFIG), "--source", str(first_20s)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    last = json.loads(run.stdout.strip().splitlines()[-1])
    totals = last["lines"]["walkway"]
    assert f"walkway in: counted {totals['in']} of 5" in out
    assert f"walkway out: counted {totals['out']} of 3" in out


def test_play_streams_marker_then_clip_in_chromium(first_20s: Path, page: object) -> None:
    """`headcount verify play` in a real headless Chromium: Play, the stream shows, frame 0's time
    is served, and the command ends when the clip has played once."""
    import threading
    from typing import Any

    import cv2

    from tests.mqtt.conftest import free_port, wait_until

    short = first_20s.parent / "vtest_2s.avi"
    capture = cv2.VideoCapture(str(first_20s))
    writer = cv2.VideoWriter(str(short), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (768, 576))
    for _ in range(20):
        writer.write(capture.read()[1])
    writer.release()
    capture.release()
    port = free_port()
    status: list[int] = []
    runner = threading.Thread(
        target=lambda: status.append(
            main(["verify", "play", str(short), "--port", str(port), "--lead-in", "1"])
        ),
        daemon=True,
    )
    runner.start()
    tab: Any = page

    def up() -> bool:
        try:
            tab.goto(f"http://127.0.0.1:{port}/")
            return True
        except Exception:
            return False

    wait_until(up, 30, "the player page")
    tab.get_by_role("button", name="Play the clip full-screen").click()
    tab.wait_for_function("document.getElementById('screen').naturalWidth === 768")
    wait_until(
        lambda: tab.evaluate("fetch('/api/started').then(r => r.json())")["started"] is not None,
        30,
        "the clip's frame 0",
    )
    runner.join(timeout=60)
    assert status == [0]


def test_play_refuses_a_missing_clip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "play", str(tmp_path / "absent.avi")]) == 2
    err = capsys.readouterr().err
    assert "clip" in err and "does not exist; pass an existing video file" in err
    assert err.count("\n") == 1


def test_play_on_a_taken_port_says_so(first_20s: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status = main(["verify", "play", str(first_20s), "--port", str(port)])
    err = capsys.readouterr().err
    assert status == 2
    assert f"cannot serve the page on 127.0.0.1:{port}; pass a free --port" in err
    assert "Traceback" not in err
