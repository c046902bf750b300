"""Run in a child process: install the guard, try each named operation, print the outcomes.

Usage: python guard_child.py '<json>' with keys mode, journal, broker_port, notify,
outside, other_port, attempts (a list of names below). Prints one JSON object:
{"results": {name: "allowed" | "refused" | "error:<class>"}, "tripped": bool, ...}.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from edge.privacy.guard import PrivacyViolation, install_guard


def main() -> None:
    spec = json.loads(sys.argv[1])
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(message)s"
    )
    journal = Path(spec["journal"])
    outside = Path(spec["outside"])
    broker_port = int(spec["broker_port"])
    other_port = int(spec["other_port"])
    notify = spec.get("notify")

    def write(path: Path) -> Callable[[], None]:
        def attempt() -> None:
            with open(path, "w") as f:
                f.write("SECRET-PAYLOAD")

        return attempt

    def tcp(host: str, port: int) -> Callable[[], None]:
        def attempt() -> None:
            with socket.create_connection((host, port), timeout=5):
                pass

        return attempt

    def udp(port: int) -> Callable[[], None]:
        def attempt() -> None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.sendto(b"SECRET-PAYLOAD", ("127.0.0.1", port))

        return attempt

    def unix(address: str) -> Callable[[], None]:
        def attempt() -> None:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                s.sendto(b"WATCHDOG=1", address)

        return attempt

    def loopback_pair() -> None:
        """A socketpair stand-in: connect to a listener this process bound itself."""
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            with socket.create_connection(listener.getsockname(), timeout=5):
                pass

    def paho_pair() -> None:
        from paho.mqtt.client import _socketpair_compat

        for s in _socketpair_compat():
            s.close()

    def bind_fixed() -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", other_port + 1 if other_port < 65535 else 1024))

    def os_open_outside() -> None:
        fd = os.open(outside / "os_open.bin", os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)

    def journal_cycle() -> None:
        tmp = journal / "seg.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, b"{}\n")
        os.fsync(fd)
        os.close(fd)
        os.replace(tmp, journal / "seg.jsonl")
        (journal / "sub").mkdir(exist_ok=True)
        os.remove(journal / "seg.jsonl")

    def symlink_escape() -> None:
        link = journal / "escape"
        if not link.exists():
            os.symlink(outside, link)
        with open(link / "via_link.txt", "w") as f:
            f.write("x")

    def rename_out() -> None:
        (journal / "moving").write_text("x")
        os.rename(journal / "moving", outside / "moved")

    attempts: dict[str, Callable[[], None]] = {
        "write_outside": write(outside / "leak.txt"),
        "write_dotdot": write(journal / ".." / "dotdot.txt"),
        "write_inside": write(journal / "ok.txt"),
        "append_outside": lambda: open(outside / "append.txt", "a").close(),
        "read_outside": (outside / "existing.txt").read_text,
        "os_open_outside": os_open_outside,
        "journal_cycle": journal_cycle,
        "symlink_escape": symlink_escape,
        "rename_out": rename_out,
        "mkdir_outside": (outside / "newdir").mkdir,
        "tcp_broker": tcp("127.0.0.1", broker_port),
        "tcp_broker_by_name": tcp("localhost", broker_port),
        "tcp_other": tcp("127.0.0.1", other_port),
        "udp_other": udp(other_port),
        "loopback_pair": loopback_pair,
        "paho_pair": paho_pair,
        "bind_fixed": bind_fixed,
        "dns_other": lambda: socket.getaddrinfo("example.invalid", 80),
        "unix_notify": unix(notify or "/nonexistent"),
        "unix_other": unix(str(outside / "other.sock")),
        "subprocess": lambda: subprocess.run(["true"], check=False),
        "os_system": lambda: os.system("true"),
        "ctypes_load": lambda: ctypes.CDLL("libc.so.6"),
    }

    guard = install_guard(
        spec["mode"],
        journal_dir=journal,
        broker=("localhost", broker_port),
        notify_socket=notify,
    )
    results: dict[str, str] = {}
    for name in spec["attempts"]:
        try:
            attempts[name]()
        except PrivacyViolation:
            results[name] = "refused"
        except OSError as error:
            results[name] = f"error:{error.__class__.__name__}"
        else:
            results[name] = "allowed"
    tripped = guard.tripped
    try:
        guard.check()
        checked = "ok"
    except PrivacyViolation:
        checked = "raised"
    print(json.dumps({"results": results, "tripped": tripped, "check": checked}))


if __name__ == "__main__":
    main()
