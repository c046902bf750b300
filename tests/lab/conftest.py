"""The project as a user installs it: a real wheel (not editable), unpacked where nothing else is."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = "import sys; from edge.cli import main; sys.exit(main())"


@pytest.fixture(scope="session")
def wheel_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding exactly the files of the wheel built from this tree.

    Built once per test run: the processes of `pytest -n` share it, since pip builds in the
    tree (its `build/` folder) and two builds at once would trip over each other.
    """
    run_folder = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        run_folder = run_folder.parent  # shared by this run's workers, not by other runs
    out = run_folder / "wheel"
    with (run_folder / "wheel.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (out / "site").is_dir():
            _build_wheel(out)
    return out / "site"


def _build_wheel(out: Path) -> None:
    """`pip wheel` this tree into `out` and unpack it into `out/site`."""
    out.mkdir(exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("headcount-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(out / "site.partial")
    (out / "site.partial").rename(out / "site")


def run_installed(
    site: Path, args: list[str], cwd: Path, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """`headcount ARGS` from the unpacked wheel, run outside the source tree."""
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [sys.executable, "-c", LAUNCH, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
