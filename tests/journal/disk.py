"""A disk that can be made full: a small tmpfs when this process may mount one (root),
else the journal's one write seam raising ENOSPC (the same error a full disk gives)."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import edge.journal

SIZE = 1024 * 1024
FLAG = ".full"  # without a mount: a child process's writes fail while this file exists

# Runs `headcount` with the journal's write seam failing while <root>/.full exists:
#   python -c INJECTING_LAUNCHER <root> run --config ...
INJECTING_LAUNCHER = """
import errno, os, sys
import edge.journal
from edge.cli import main
flag = os.path.join(sys.argv.pop(1), ".full")
real = edge.journal._write_all
def write_all(fd, data):
    if os.path.exists(flag):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    real(fd, data)
edge.journal._write_all = write_all
sys.exit(main(sys.argv[1:]))
"""


class FullDisk:
    """`path` is a folder on the disk; `fill()` leaves no free byte, `free()` undoes it."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.path = root / "journal"
        self.mounted = _mount(root)
        self._filler = root / "filler"
        self._full = False
        if not self.mounted:
            real = edge.journal._write_all

            def write_all(fd: int, data: bytes) -> None:
                if self._full:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                real(fd, data)

            monkeypatch.setattr(edge.journal, "_write_all", write_all)

    @property
    def launcher(self) -> list[str]:
        """How a child `headcount` process must start to see this disk fill."""
        if self.mounted:
            return ["-m", "edge.cli"]
        return ["-c", INJECTING_LAUNCHER, str(self.root)]

    def fill(self) -> None:
        self._full = True
        if not self.mounted:
            (self.root / FLAG).touch()
        if self.mounted:
            fd = os.open(self._filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                for size in (65536, 4096, 1):
                    with contextlib.suppress(OSError):
                        while True:
                            os.write(fd, b"\0" * size)
            finally:
                os.close(fd)

    def free(self) -> None:
        self._full = False
        (self.root / FLAG).unlink(missing_ok=True)
        if self.mounted:
            self._filler.unlink(missing_ok=True)

    def unmount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.root)], check=False, capture_output=True)


def _mount(root: Path) -> bool:
    root.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE},mode=0755", "tmpfs", str(root)],
        check=False,
        capture_output=True,
    )
    return done.returncode == 0


@contextlib.contextmanager
def full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FullDisk]:
    disk = FullDisk(tmp_path / "disk", monkeypatch)
    try:
        yield disk
    finally:
        disk.unmount()
