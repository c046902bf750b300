"""The audit-hook guard, exercised in child processes (a hook can never be removed)."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge.privacy.guard import install_setup_guard

CHILD = Path(__file__).with_name("guard_child.py")
REPO = Path(__file__).resolve().parents[2]
PAYLOAD = b"track 7 box 0.31 0.62 0.40 0.95"

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
NEW_INTERPRETERS = [
    "mp_spawn",
    "mp_forkserver",
    "mp_fork",
    "posix_spawn",
    "os_execv",
    "fork_exec_direct",
    "reimport_posixsubprocess",
    "subprocess",
]
THROUGH_DESCRIPTORS = [
    "dir_fd_after_chdir",
    "fchmod_outside",
    "futime_outside",
    "fsetxattr_outside",
    "ftruncate_preopened",
    "fdopen_preopened",
]

Pause = Callable[[dict[str, object]], None]


@pytest.fixture
def listener_sockets() -> Iterator[tuple[socket.socket, socket.socket]]:
    """Two TCP listeners on loopback: one plays the broker, the other any other peer."""
    socks = (listen_on("127.0.0.1"), listen_on("127.0.0.1"))
    yield socks
    for s in socks:
        s.close()


@pytest.fixture
def listeners(listener_sockets: tuple[socket.socket, socket.socket]) -> tuple[int, int]:
    """The ports of the broker's and the other peer's listeners."""
    return listener_sockets[0].getsockname()[1], listener_sockets[1].getsockname()[1]


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(5)
    yield s, path
    s.close()


def listen_on(host: str, port: int = 0) -> socket.socket:
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    s.bind((host, port))
    s.listen(8)
    return s


def accepted_any(listener: socket.socket) -> bool:
    """True if a connection waits in the listener's queue (the child has exited, so
    any connect it made has completed its handshake)."""
    readable, _, _ = select.select([listener], [], [], 0)
    return bool(readable)


def run_child(
    tmp_path: Path,
    mode: str,
    ports: tuple[int, int],
    attempts: list[str],
    notify: str | None,
    *,
    setup: dict[str, object] | None = None,
    on_pause: Pause | None = None,
) -> tuple[dict[str, object], str]:
    journal = tmp_path / "journal"
    outside = tmp_path / "outside"
    journal.mkdir(exist_ok=True)
    outside.mkdir(exist_ok=True)
    (outside / "existing.txt").write_text("readable")
    (outside / "preopened.txt").write_text("kept")
    spec = {
        "mode": mode,
        "journal": str(journal),
        "outside": str(outside),
        "broker_port": ports[0],
        "other_port": ports[1],
        "notify": notify,
        "attempts": attempts,
        "setup": setup,
    }
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with subprocess.Popen(
        [sys.executable, str(CHILD), json.dumps(spec)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as child:
        assert child.stdout is not None and child.stdin is not None
        last = ""
        for line in child.stdout:
            message = json.loads(line)
            if "pause" in message:
                assert on_pause is not None, "the child paused but the test has no step"
                on_pause(message["pause"])
                child.stdin.write("\n")
                child.stdin.flush()
            else:
                last = line
        _, stderr = child.communicate(timeout=60)
    assert child.returncode == 0, stderr
    return json.loads(last), stderr


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
    assert sorted(p.name for p in outside.iterdir()) == ["existing.txt", "preopened.txt"]
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


def test_no_new_interpreter_starts_without_the_guard(
    tmp_path: Path,
    listeners: tuple[int, int],
    listener_sockets: tuple[socket.socket, socket.socket],
) -> None:
    """multiprocessing's spawn and forkserver call fork_exec with no audit event; a
    child interpreter would start with no hook and write or send what it likes."""
    out, stderr = run_child(tmp_path, "enforce", listeners, NEW_INTERPRETERS, None)
    assert out["results"] == dict.fromkeys(NEW_INTERPRETERS, "refused"), stderr
    assert "replaced" not in stderr
    outside = tmp_path / "outside"
    assert sorted(p.name for p in outside.iterdir()) == ["existing.txt", "preopened.txt"]
    assert not accepted_any(listener_sockets[1]), "the other peer received a connection"


def test_loopback_exemption_is_the_exact_address_and_port(
    tmp_path: Path, listeners: tuple[int, int]
) -> None:
    """Collectors on [::1] and 127.0.0.2 at the port of the process's own listener on
    127.0.0.1 receive nothing; the listener itself is still reachable."""
    collectors: list[socket.socket] = []

    def open_collectors(info: dict[str, object]) -> None:
        port = info["port"]
        assert isinstance(port, int)
        collectors.extend([listen_on("127.0.0.2", port), listen_on("::1", port)])

    attempts = ["own_listener", "pause", "twin_v4", "twin_v6", "own_exact"]
    out, stderr = run_child(
        tmp_path, "enforce", listeners, attempts, None, on_pause=open_collectors
    )
    assert out["results"] == {
        "own_listener": "allowed",
        "pause": "allowed",
        "twin_v4": "refused",
        "twin_v6": "refused",
        "own_exact": "allowed",
    }, stderr
    assert len(collectors) == 2
    for collector in collectors:
        assert not accepted_any(collector), collector.getsockname()
        collector.close()
    assert "0.31" not in stderr


def test_calls_through_descriptors_and_dir_fd_are_checked(
    tmp_path: Path, listeners: tuple[int, int]
) -> None:
    outside = tmp_path / "outside"
    out, stderr = run_child(
        tmp_path, "enforce", listeners, [*THROUGH_DESCRIPTORS, "journal_cycle"], None
    )
    assert out["results"] == {
        **dict.fromkeys(THROUGH_DESCRIPTORS, "refused"),
        "journal_cycle": "allowed",
    }, stderr
    assert sorted(p.name for p in outside.iterdir()) == ["existing.txt", "preopened.txt"]
    existing = (outside / "existing.txt").stat()
    assert existing.st_mtime > 0
    assert existing.st_mode & 0o777 == 0o644 & ~current_umask()
    assert os.listxattr(outside / "existing.txt") == []
    assert (outside / "preopened.txt").read_text() == "kept"


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.parametrize(
    ("serve", "fixed_port"),
    [("serve", False), ("serve", True), ("serve_asgi", False)],
    ids=["http.server-ephemeral", "http.server-fixed", "uvicorn-ephemeral"],
)
def test_setup_mode_serves_one_listener_and_writes_only_the_config(
    tmp_path: Path, listeners: tuple[int, int], serve: str, fixed_port: bool
) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    config = etc / "config.toml"
    config.write_text('[sensor]\nid = "old"\n')
    setup = {
        "port": free_port() if fixed_port else 0,
        "config": str(config),
        "backup": str(etc / "config.toml.bak"),
    }
    pages: list[bytes] = []

    def browse(info: dict[str, object]) -> None:
        for _ in range(2):  # two connections accepted on the one listener
            with urllib.request.urlopen(f"http://127.0.0.1:{info['port']}/", timeout=30) as r:
                pages.append(r.read())

    refused = [
        "second_listener_same",
        "listener_other_port",
        "write_beside_config",
        "write_outside",
        "write_inside",
        "tcp_broker",
        "tcp_other",
        "dns_other",
        "subprocess",
        "mp_spawn",
    ]
    attempts = [serve, "pause", *refused, "config_save", "stop_server"]
    out, stderr = run_child(
        tmp_path, "enforce", listeners, attempts, None, setup=setup, on_pause=browse
    )
    assert out["results"] == {
        serve: "allowed",
        "pause": "allowed",
        **dict.fromkeys(refused, "refused"),
        "config_save": "allowed",
        "stop_server": "allowed",
    }, stderr
    assert pages == [b"setup page", b"setup page"]
    # Serving itself (bind, listen, accept, name lookup of the address) refused nothing.
    refusals = [line for line in stderr.splitlines() if "privacy guard refused" in line]
    assert len(refusals) == len(refused), refusals
    assert sorted(p.name for p in etc.iterdir()) == ["config.toml", "config.toml.bak"]
    assert config.read_text() == '[sensor]\nid = "door-1"\n'
    assert (etc / "config.toml.bak").read_text() == '[sensor]\nid = "old"\n'
    assert list((tmp_path / "journal").iterdir()) == []
    outside = tmp_path / "outside"
    assert sorted(p.name for p in outside.iterdir()) == ["existing.txt", "preopened.txt"]


def test_setup_guard_needs_an_address_and_a_port(tmp_path: Path) -> None:
    """Checked before anything is installed, so it is safe in the test process."""
    with pytest.raises(ValueError, match="literal IP address"):
        install_setup_guard(
            listen=("localhost", 8080), config_file=tmp_path / "c", backup_file=tmp_path / "b"
        )
    with pytest.raises(ValueError, match="0-65535"):
        install_setup_guard(
            listen=("127.0.0.1", 70000), config_file=tmp_path / "c", backup_file=tmp_path / "b"
        )


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
    attempts = ["write_outside", "tcp_other", "subprocess", "write_outside"]
    out, stderr = run_child(tmp_path, "warn", listeners, attempts, None)
    assert out["results"] == dict.fromkeys(attempts, "allowed")
    assert out["tripped"] is False
    assert (tmp_path / "outside" / "leak.txt").exists()
    warnings = [line for line in stderr.splitlines() if "privacy guard refused" in line]
    assert len(warnings) == 3, warnings
    assert all(line.startswith("WARNING ") and "warn mode" in line for line in warnings)


def test_off_installs_nothing(tmp_path: Path, listeners: tuple[int, int]) -> None:
    attempts = ["write_outside", "tcp_other", "subprocess"]
    out, stderr = run_child(tmp_path, "off", listeners, attempts, None)
    assert out["results"] == dict.fromkeys(attempts, "allowed")
    assert "privacy guard refused" not in stderr
    assert "privacy guard is off" in stderr
