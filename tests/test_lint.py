"""The code stays ruff- and mypy-clean: the checks run with the suite, so CI enforces them."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = [name for name in ("edge", "lab", "venue") if (ROOT / name).is_dir()]


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", *PACKAGES, "tests"],
        ["ruff", "format", "--check", *PACKAGES, "tests"],
        ["mypy"],
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_clean(command):
    result = subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
