"""The real sensor process talks sd_notify from its own loop, through the privacy guard.

The test plays systemd's part: it binds the notify socket, starts `headcount run` with
NOTIFY_SOCKET and WATCHDOG_USEC as systemd sets them, and reads the datagrams.
"""

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

CONFIG = """
[sensor]
id = "notify"

[[lines]]
name = "door"
points = [[0.1, 0.55], [0.9, 0.55]]
inside = [0.5, 0.9]

[privacy]
guard = "enforce"
"""


def run_sensor(tmp_path: Path, notify: str, watchdog_usec: str) -> subprocess.CompletedProcess[str]:
    """`headcount run` on a seeded scene with systemd's notify environment."""
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    env = {**os.environ, "NOTIFY_SOCKET": notify, "WATCHDOG_USEC": watchdog_usec}
    env.pop("WATCHDOG_PID", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "edge.cli",
            "run",
            "--config",
            str(config),
            "--source",
            "synthetic:door_single",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_ready_watchdog_and_stopping_come_from_the_pipeline(tmp_path: Path) -> None:
    path = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(0.2)
    messages: list[str] = []
    done = threading.Event()

    def read() -> None:  # systemd reads its notify socket promptly
        while not done.is_set():
            try:
                messages.append(server.recv(4096).decode())
            except TimeoutError:
                continue

    reader = threading.Thread(target=read)
    reader.start()
    try:
        result = run_sensor(tmp_path, path, "200000")
    finally:
        done.set()
        reader.join()
        server.close()
    assert result.returncode == 0, result.stderr
    assert "privacy guard refused" not in result.stderr
    kinds = [line.split("=")[0] for m in messages for line in m.splitlines()]
    assert kinds[0] == "READY"
    assert kinds.count("WATCHDOG") >= 1
    assert kinds[-1] == "STOPPING"


def test_a_notify_socket_nobody_reads_never_stalls_the_sensor(tmp_path: Path) -> None:
    path = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)  # bound, never read: its queue fills up
    try:
        result = run_sensor(tmp_path, path, "2000")
    finally:
        server.close()
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("sd_notify") == 1  # told once, not at every frame
