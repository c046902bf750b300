"""The audit-hook guard, exercised in child processes (a hook can never be removed)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

CHILD = Path(__file__).with_name("guard_child.py")
REPO = Path(__file__).resolve().parents[2]

REFUSED_IN_ENFORCE = [
    "write_outside",
    "write_dotdot",
    "append_outside",
    "os_open_outside",
    "symlink_escape",
    "rename_out",
    "mkdir_outside",
    "tcp_other",
    "udp_other",
    "bind_fixed",
    "dns_other",
    "unix_other",
    "subprocess",
    "os_system",
    "ctypes_load",
]
ALLOWED = [
    "write_inside",
    "read_outside",
    "journal_cycle",
    "tcp_broker",
    "tcp_broker_by_name",
    "loopback_pair",
    "paho_pair",
]


@pytest.fixture
def listeners() -> Iterator[tuple[int, int]]:
    """Two TCP listeners on loopback: one plays the broker, the other any other peer."""
    socks = []
    for _ in range(2):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        socks.append(s)
    yield socks[0].getsockname()[1], socks[1].getsockname()[1]
    for s in socks:
        s.close()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(5)
    yield s, path
    s.close()


def run_child(
    tmp_path: Path, mode: str, ports: tuple[int, int], attempts: list[str], notify: str | None
) -> tuple[dict[str, object], str]:
    journal = tmp_path / "journal"
    outside = tmp_path / "outside"
    journal.mkdir(exist_ok=True)
    outside.mkdir(exist_ok=True)
    (outside / "existing.txt").write_text("readable")
    spec = {
        "mode": mode,
        "journal": str(journal),
        "outside": str(outside),
        "broker_port": ports[0],
        "other_port": ports[1],
        "notify": notify,
        "attempts": attempts,
    }
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, str(CHILD), json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_enforce_refuses_writes_peers_and_processes(
    tmp_path: Path, listeners: tuple[int, int], notify_socket: tuple[socket.socket, str]
) -> None:
    listener, notify = notify_socket
    out, stderr = run_child(
        tmp_path, "enforce", listeners, [*REFUSED_IN_ENFORCE, *ALLOWED, "unix_notify"], notify
    )
    results = out["results"]
    assert isinstance(results, dict)
    for name in REFUSED_IN_ENFORCE:
        assert results[name] == "refused", name
    for name in [*ALLOWED, "unix_notify"]:
        assert results[name] == "allowed", (name, stderr)
    assert out["tripped"] is True
    assert out["check"] == "raised"
    # Nothing refused reached the disk; what was allowed did.
    outside = tmp_path / "outside"
    assert sorted(p.name for p in outside.iterdir()) == ["existing.txt"]
    assert not (tmp_path / "dotdot.txt").exists()
    assert (tmp_path / "journal" / "ok.txt").read_text() == "SECRET-PAYLOAD"
    assert listener.recv(64) == b"WATCHDOG=1"
    # One log line per refusal, naming the event, never the data.
    refusals = [line for line in stderr.splitlines() if "privacy guard refused" in line]
    assert len(refusals) == len(REFUSED_IN_ENFORCE)
    assert all(line.startswith("ERROR ") for line in refusals)
    assert "SECRET" not in stderr
    assert any("refused subprocess.Popen" in line for line in refusals)
    assert any("refused socket.connect" in line for line in refusals)
    assert any("refused open" in line and "outside the journal" in line for line in refusals)


def test_enforce_trips_even_when_the_caller_swallows_the_error(
    tmp_path: Path, listeners: tuple[int, int]
) -> None:
    out, _ = run_child(tmp_path, "enforce", listeners, ["write_inside", "tcp_broker"], None)
    assert out["tripped"] is False
    assert out["check"] == "ok"
    # The child catches every PrivacyViolation, as a careless library would; still tripped.
    out, _ = run_child(tmp_path, "enforce", listeners, ["write_inside", "tcp_other"], None)
    assert out["results"] == {"write_inside": "allowed", "tcp_other": "refused"}
    assert out["tripped"] is True
    assert out["check"] == "raised"


def test_warn_allows_and_logs_one_warning_each(tmp_path: Path, listeners: tuple[int, int]) -> None:
    attempts = ["write_outside", "tcp_other", "subprocess"]
    out, stderr = run_child(tmp_path, "warn", listeners, attempts, None)
    assert out["results"] == dict.fromkeys(attempts, "allowed")
    assert out["tripped"] is False
    assert (tmp_path / "outside" / "leak.txt").exists()
    warnings = [line for line in stderr.splitlines() if "privacy guard refused" in line]
    assert len(warnings) == 3
    assert all(line.startswith("WARNING ") and "warn mode" in line for line in warnings)


def test_off_installs_nothing(tmp_path: Path, listeners: tuple[int, int]) -> None:
    attempts = ["write_outside", "tcp_other", "subprocess"]
    out, stderr = run_child(tmp_path, "off", listeners, attempts, None)
    assert out["results"] == dict.fromkeys(attempts, "allowed")
    assert "privacy guard refused" not in stderr
    assert "privacy guard is off" in stderr
