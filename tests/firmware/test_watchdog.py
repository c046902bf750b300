"""sd_notify messages reach a real datagram socket the test owns, as systemd's would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.watchdog import SystemdNotifier, parse_notify_socket, parse_watchdog_usec


class FakeClock:
    """A monotonic clock the test moves by hand, so no test depends on wall time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A bound AF_UNIX datagram socket standing in for systemd's notify socket."""
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    yield sock, path
    sock.close()


def drain(sock: socket.socket) -> list[str]:
    """Every datagram waiting on the socket, without blocking."""
    out: list[str] = []
    sock.setblocking(False)
    try:
        while True:
            out.append(sock.recv(4096).decode())
    except BlockingIOError:
        pass
    finally:
        sock.settimeout(5)
    return out


def test_ready_message_reaches_the_socket(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    notifier = SystemdNotifier.from_env({"NOTIFY_SOCKET": path})
    assert notifier.enabled
    assert notifier.address == path
    notifier.ready(status="counting")
    assert sock.recv(4096).decode() == "READY=1\nSTATUS=counting"


def test_watchdog_pings_are_rate_limited_to_half_the_interval(
    listener: tuple[socket.socket, str],
) -> None:
    sock, path = listener
    clock = FakeClock()
    env = {
        "NOTIFY_SOCKET": path,
        "WATCHDOG_USEC": "10000000",
        "WATCHDOG_PID": str(os.getpid()),
    }
    notifier = SystemdNotifier.from_env(env, clock=clock)
    assert notifier.watchdog_seconds == 10.0
    assert notifier.ping_period == 5.0

    # A pipeline calls ping() every frame; only the first of a burst is sent.
    for _ in range(100):
        notifier.ping()
    assert drain(sock) == ["WATCHDOG=1"]

    clock.now += 4.9
    notifier.ping()
    assert drain(sock) == []
    clock.now += 0.1
    notifier.ping()
    notifier.ping()
    assert drain(sock) == ["WATCHDOG=1"]


def test_ready_counts_as_a_ping(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    clock = FakeClock()
    notifier = SystemdNotifier.from_env(
        {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"}, clock=clock
    )
    notifier.ready()
    notifier.ping()
    assert drain(sock) == ["READY=1\nWATCHDOG=1"]
    clock.now += 1.0
    notifier.ping()
    assert drain(sock) == ["WATCHDOG=1"]


def test_status_and_stopping(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    notifier = SystemdNotifier.from_env({"NOTIFY_SOCKET": path})
    notifier.status("camera lost\nreopening")
    notifier.stopping()
    assert drain(sock) == ["STATUS=camera lost reopening", "STOPPING=1"]


def test_abstract_socket_name() -> None:
    name = f"headcount-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(5)
    try:
        notifier = SystemdNotifier.from_env({"NOTIFY_SOCKET": "@" + name})
        assert notifier.address == b"\0" + name.encode()
        notifier.ready()
        assert sock.recv(4096) == b"READY=1"
    finally:
        sock.close()


def test_without_notify_socket_everything_is_a_no_op() -> None:
    notifier = SystemdNotifier.from_env({"WATCHDOG_USEC": "1000000"})
    assert not notifier.enabled
    assert notifier.address is None
    assert notifier.watchdog_seconds is None
    notifier.ready()
    notifier.ping()
    notifier.status("x")
    notifier.stopping()
    assert not notifier.notify("READY=1")


def test_watchdog_meant_for_another_pid_is_ignored(
    listener: tuple[socket.socket, str],
) -> None:
    sock, path = listener
    env = {
        "NOTIFY_SOCKET": path,
        "WATCHDOG_USEC": "1000000",
        "WATCHDOG_PID": str(os.getpid() + 1),
    }
    notifier = SystemdNotifier.from_env(env)
    assert notifier.watchdog_seconds is None
    notifier.ping()
    assert drain(sock) == []


def test_a_vanished_socket_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = SystemdNotifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    notifier.ready()
    assert not notifier.notify("WATCHDOG=1")
    assert "sd_notify" in caplog.text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("@", None),
        ("relative/path", None),
        ("vsock:2:1234", None),
        ("/run/systemd/notify", "/run/systemd/notify"),
        ("@abc", b"\0abc"),
    ],
)
def test_parse_notify_socket(value: str | None, expected: str | bytes | None) -> None:
    assert parse_notify_socket(value) == expected


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [
        (None, None, None),
        ("", None, None),
        ("0", None, None),
        ("-5", None, None),
        ("abc", None, None),
        ("3000000", None, 3.0),
        ("3000000", "42", 3.0),
        ("3000000", "43", None),
        ("3000000", "x", None),
    ],
)
def test_parse_watchdog_usec(usec: str | None, pid: str | None, expected: float | None) -> None:
    assert parse_watchdog_usec(usec, pid, own_pid=42) == expected


def test_rejects_a_non_positive_interval() -> None:
    with pytest.raises(ValueError, match="watchdog_seconds must be > 0"):
        SystemdNotifier("/run/x", watchdog_seconds=0)


def test_a_child_process_reads_its_environment_like_a_service_does(
    listener: tuple[socket.socket, str],
) -> None:
    """As under systemd: the variables are in the real environment of a new process."""
    sock, path = listener
    code = (
        "from edge.watchdog import SystemdNotifier\n"
        "n = SystemdNotifier.from_env()\n"
        "n.ready(status='up')\n"
        "n.ping()\n"
        "n.stopping()\n"
    )
    env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "30000000"}
    env.pop("WATCHDOG_PID", None)
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    assert drain(sock) == ["READY=1\nSTATUS=up\nWATCHDOG=1", "STOPPING=1"]
