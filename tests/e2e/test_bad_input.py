"""Bad input that used to pass silently or be told wrongly (issue 12): through the real CLI,
each is one sentence on stderr naming what to fix, exit status 2, nothing on stdout, and no
native library's chatter (LiteRT's XNNPACK line, OpenCV/FFmpeg warnings) before it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ZONE = "[[zones]]\nname = 'z'\npolygon = [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]\n"
LINE = "[[lines]]\nname = 'door'\npoints = [[0.1, 0.6], [0.9, 0.6]]\ninside = [0.5, 0.9]\n"
SENSOR = "[sensor]\nid = 'd'\n"
SCENE = "synthetic:door_single"
DROP_READ_OVERRIDE = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
"""As root, reading a mode-000 file still works unless these capabilities are dropped."""


def zone(polygon: str) -> str:
    return f"{SENSOR}[[zones]]\nname = 'z'\npolygon = {polygon}\n"


def video(tmp: Path, kind: str) -> str:
    """A video path of a given kind of wrong."""
    if kind == "missing":
        return str(tmp / "absent.avi")
    if kind == "folder":
        (tmp / "clips").mkdir()
        return str(tmp / "clips")
    path = tmp / "clip.mp4"
    path.write_bytes(os.urandom(4096))
    if kind == "unreadable":
        path.chmod(0)
    return str(path)


CASES: list[tuple[str, Callable[[Path], tuple[str, str]], str]] = [
    (
        "self-intersecting polygon",
        lambda t: (zone("[[0, 0.5], [1, 1], [1, 0.5], [0, 1]]"), SCENE),
        "zones[0].polygon: edges 1 and 3 of the polygon cross; list the corners in order",
    ),
    (
        "zero-area polygon",
        lambda t: (zone("[[0, 0.5], [0.5, 0.75], [1, 1]]"), SCENE),
        "zones[0].polygon: the polygon encloses no area",
    ),
    (
        "single-point polygon",
        lambda t: (zone("[[0.5, 0.5]]"), SCENE),
        "zones[0].polygon: give at least 3 entries",
    ),
    (
        "one point repeated",
        lambda t: (zone("[[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]"), SCENE),
        "zones[0].polygon: corner 2 repeats corner 1",
    ),
    (
        "true as a coordinate",
        lambda t: (zone("[[0, 0.5], [true, 0.5], [1, 1]]"), SCENE),
        "zones[0].polygon[1][0]: use a number, not true or false",
    ),
    (
        "port as a string",
        lambda t: (f'{SENSOR}{LINE}[mqtt]\nport = "1883"\n', SCENE),
        "mqtt.port: use a whole number, without quotes (got '1883')",
    ),
    (
        "input_mean inf",
        lambda t: (f"{SENSOR}{LINE}[detector]\ninput_mean = inf\n", SCENE),
        "detector.input_mean: use a finite number (not inf or nan)",
    ),
    (
        "person_class beyond the model's classes",
        lambda t: (f"{SENSOR}{ZONE}[detector]\nperson_class = 999\n", video(t, "missing")),
        "detector.person_class is 999 but the model has 1 classes; set detector.person_class",
    ),
    (
        "missing video",
        lambda t: (f"{SENSOR}{ZONE}", video(t, "missing")),
        "absent.avi does not exist; check [source] uri or --source",
    ),
    (
        "folder as the video",
        lambda t: (f"{SENSOR}{ZONE}", video(t, "folder")),
        "clips is a folder, not a video file; give the path of a video file",
    ),
    (
        "unreadable video",
        lambda t: (f"{SENSOR}{ZONE}", video(t, "unreadable")),
        "clip.mp4 (permission denied); let the sensor's user read it",
    ),
    (
        "not a video",
        lambda t: (f"{SENSOR}{ZONE}", video(t, "garbage")),
        "clip.mp4: not a video OpenCV can decode; check [source] uri or --source",
    ),
]


def run_cli(config: Path, source: str) -> subprocess.CompletedProcess[str]:
    prefix = DROP_READ_OVERRIDE if os.geteuid() == 0 else []
    return subprocess.run(
        [*prefix, sys.executable, "-m", "edge.cli", "run", "--config", str(config)]
        + ["--source", source],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(("case", "make", "needle"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_sentence_and_exit_2(
    tmp_path: Path, case: str, make: Callable[[Path], tuple[str, str]], needle: str
) -> None:
    text, source = make(tmp_path)
    config = tmp_path / "sensor.toml"
    config.write_text(text)
    done = run_cli(config, source)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, f"{case}: more than one line on stderr:\n{done.stderr}"
    assert lines[0].startswith("headcount: ") and needle in lines[0], lines[0]


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    config = tmp_path / "sensor.toml"
    config.write_bytes(b"\xef\xbb\xbf" + f"{SENSOR}{LINE}".encode())
    done = run_cli(config, SCENE)
    assert done.returncode == 0, done.stderr
    assert '"door":{"in":13,"out":7}' in done.stdout.splitlines()[-1]
