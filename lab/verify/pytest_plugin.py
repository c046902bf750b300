"""A pytest plug-in for a rig's own suite: the `headcount_verify` fixture.

Installed with the package as a `pytest11` entry point (or add
`pytest_plugins = ["lab.verify.pytest_plugin"]` to a conftest.py). The fixture runs
`headcount verify` with the given arguments in-process and returns its exit status and
the JUnit/Markdown files it wrote, so a rig's test reads like::

    def test_door_passes(headcount_verify):
        result = headcount_verify("--config", "door.toml", "--video", "walk.mp4",
                                  "--truth", "walk.csv")
        assert result.status == 0, result.report
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class VerifyResult:
    """Exit status (0 pass, 1 fail, 2 usage), the Markdown report's text and the JUnit path."""

    status: int
    report: str
    junit: Path


@pytest.fixture
def headcount_verify(tmp_path: Path) -> Callable[..., VerifyResult]:
    """Run `headcount verify ARGS` in-process; the report and JUnit XML go to tmp_path."""

    def run(*args: str) -> VerifyResult:
        from edge.cli import main

        report, junit = tmp_path / "verify.md", tmp_path / "verify.xml"
        status = main(["verify", *args, "--report", str(report), "--junit", str(junit)])
        text = report.read_text(encoding="utf-8") if report.exists() else ""
        return VerifyResult(status, text, junit)

    return run
