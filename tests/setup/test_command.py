"""`headcount setup` as a whole process: under strace it writes nothing but the config and
its backup and listens on one socket; no token, no answer; after its time (or SIGTERM) it is
gone; it refuses, in one sentence, while the sensor service runs."""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import pytest

from edge.config import load_config
from tests.privacy.audit import TRACED, read_trace
from tests.setup import scene

STRACE = shutil.which("strace") or "/usr/bin/strace"
HEADCOUNT = [sys.executable, "-m", "edge.cli"]
CONFIG = """\
# kept by setup; nothing is drawn yet (drawing the first line is what setup is for)
[sensor]
id = "street-1"

[detector]
threads = 2
"""


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    """The composed street footage as an MJPG file (4 frames a second, 40 frames)."""
    path = tmp_path_factory.mktemp("footage") / "street.avi"
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*"MJPG"), 1 / scene.FRAME_SECONDS, scene.SIZE
    )
    assert writer.isOpened()
    for image in scene.frames(40):
        writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def fake_systemctl(folder: Path, active: bool) -> dict[str, str]:
    """An environment whose PATH starts with a `systemctl` answering is-active."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "systemctl"
    script.write_text(f"#!/bin/sh\nexit {0 if active else 3}\n")
    script.chmod(0o755)
    env = dict(os.environ, PATH=f"{folder}{os.pathsep}{os.environ['PATH']}")
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # pip compiles at install; this tree may lack .pyc
    return env


def first_line(process: subprocess.Popen, seconds: float = 120.0) -> str:
    """The first line of stdout, waiting at most `seconds` (normally about 5 s)."""
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    if not selector.select(timeout=seconds):
        process.kill()
        pytest.fail(f"no URL on stdout within {seconds} s: {process.stderr.read()}")
    return process.stdout.readline().strip()


def traced_child(strace_pid: int) -> int:
    """The process strace started (its only child)."""
    children = Path(f"/proc/{strace_pid}/task/{strace_pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def get(url: str, headers: dict[str, str] | None = None, body: bytes | None = None):
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_a_whole_run_writes_only_the_config_and_its_backup(tmp_path, video):
    config = tmp_path / "etc" / "config.toml"
    config.parent.mkdir()
    config.write_text(CONFIG)
    env = fake_systemctl(tmp_path / "bin", active=False)
    trace = tmp_path / "strace.txt"
    process = subprocess.Popen(
        [STRACE, "-f", "-yy", "-qq", "-o", str(trace), "-e", f"trace={TRACED},bind", *HEADCOUNT,
         "setup", "--config", str(config), "--source", str(video), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        url = first_line(process)
        assert url.startswith("http://127.0.0.1:") and "/?token=" in url
        base, token = url.split("/?token=")
        port = int(base.rsplit(":", 1)[1])

        # no token (or a wrong one): an empty 404 for every path
        for path in ("/", "/api/state", "/api/background.png", "/api/drawing"):
            assert get(base + path) == (404, b"")
            assert get(f"{base}{path}?token=x{token}") == (404, b"")
        assert get(base + "/api/save", body=b"{}") == (404, b"")
        status, page = get(url)
        assert status == 200 and b"headcount setup" in page

        drawing = {
            "lines": [{"name": "door", "points": [[0.5, 0.6], [0.5, 1.0]], "inside": [0.6, 0.8]}],
            "zones": [
                {"name": "square", "polygon": [[0.1, 0.5], [0.9, 0.5], [0.9, 1.0], [0.1, 1.0]]}
            ],
        }
        headers = {"X-Setup-Token": token, "Content-Type": "application/json"}
        status, body = get(base + "/api/save", headers, json.dumps(drawing).encode())
        assert status == 200, body
        assert json.loads(body)["ok"] is True
        assert load_config(config).lines[0].name == "door"
        assert "# kept by setup" in config.read_text()

        # the background arrives (served to the token only)
        end = time.monotonic() + 60
        while json.loads(get(base + "/api/state", headers)[1])["background"] is None:
            assert time.monotonic() < end, "no background within 60 s"
            time.sleep(0.2)
        status, png = get(base + "/api/background.png", headers)
        assert status == 200 and png.startswith(b"\x89PNG")

        os.kill(traced_child(process.pid), signal.SIGTERM)  # the limit: test_it_stops_cleanly_...
        assert process.wait(timeout=120) == 0, process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
    # once stopped nothing listens
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 5):
        pass

    observed = read_trace(trace.read_text(), tmp_path)
    written = sorted(set(observed.written) - {"/dev/null"})
    assert written == sorted({str(config), str(config) + ".bak"}), written
    assert observed.own_listeners == {("127.0.0.1", port)}
    assert observed.ip_peers == [] and observed.other_families == []
    binds = [line for line in trace.read_text().splitlines() if " bind(" in line]
    assert len(binds) == 1, binds


def test_it_refuses_while_the_service_runs(tmp_path, video):
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    done = subprocess.run(
        [*HEADCOUNT, "setup", "--config", str(config), "--source", str(video),
         "--listen", "127.0.0.1:0"],
        capture_output=True, text=True, timeout=120, env=fake_systemctl(tmp_path, active=True),
        check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "headcount: the sensor service (headcount.service) is running and holds the camera; "
        "stop it first with `sudo systemctl stop headcount`, then start it again when setup "
        "is done"
    ]
    assert config.read_text() == CONFIG


@pytest.mark.parametrize(
    ("listen", "minutes", "says"),
    [
        ("localhost:8765", "1", "--listen 'localhost:8765': give an IP address and a port"),
        ("127.0.0.1:99999", "1", "--listen '127.0.0.1:99999': the port must be 0-65535"),
        ("127.0.0.1:0", "0", "--minutes must be more than 0 and at most 240"),
    ],
)
def test_bad_arguments_get_one_sentence(tmp_path, listen, minutes, says):
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    done = subprocess.run(
        [*HEADCOUNT, "setup", "--config", str(config), "--listen", listen, "--minutes", minutes],
        capture_output=True, text=True, timeout=120, env=fake_systemctl(tmp_path, active=False),
        check=False,
    )  # fmt: skip
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"headcount: {says}")
    assert "Traceback" not in done.stderr


def test_headcount_privacy_states_setup_mode():
    done = subprocess.run(
        [*HEADCOUNT, "privacy"], capture_output=True, text=True, timeout=120, check=True
    )
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("Setup page:")]
    for fact in (
        "by hand",
        "limited time",
        "token",
        "people removed",
        "without ids",
        "writes only the config and its backup",
    ):
        assert fact in line, fact


@pytest.mark.parametrize("stop", ["time limit", "SIGTERM"])
def test_it_stops_cleanly_and_nothing_listens(tmp_path, video, stop):
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    limit = ["--minutes", "0.1"] if stop == "time limit" else []
    process = subprocess.Popen(
        [*HEADCOUNT, "setup", "--config", str(config), "--source", str(video),
         "--listen", "127.0.0.1:0", *limit],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=fake_systemctl(tmp_path / "bin", active=False),
    )  # fmt: skip
    try:
        url = first_line(process)
        if stop == "SIGTERM":
            assert get(url)[0] == 200
            process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60 if stop == "SIGTERM" else 120) == 0  # limit: 6 s on
    finally:
        if process.poll() is None:
            process.kill()
    port = int(url.split("/?token=")[0].rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 5):
        pass
    said = process.stderr.read()
    assert "the page is no longer served" in said and "Start the sensor again" in said
    assert config.read_text() == CONFIG
