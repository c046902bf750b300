"""JUnit XML (the Apache Ant format CI systems read): a test case per line-direction and check.

A line-direction's case is named `<line> <direction>` and fails when its accuracy is under the
minimum; each check (occupancy, faults, buckets) is a case of its own. Valid against the
windyroad JUnit.xsd shipped in tests/data/junit.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from lab.verify.score import Score

CLASSNAME = "headcount.verify"


def _case(suite: ET.Element, name: str, failure: str | None, kind: str) -> None:
    case = ET.SubElement(suite, "testcase", name=name, classname=CLASSNAME, time="0")
    if failure is not None:
        ET.SubElement(case, "failure", message=failure, type=kind).text = failure


def render_junit(score: Score, suite_name: str, elapsed_s: float = 0.0) -> bytes:
    """The JUnit document as UTF-8 bytes."""
    failures = len(score.failures)
    tests = len(score.lines) + len(score.checks)
    suite = ET.Element(
        "testsuite",
        name=suite_name,
        timestamp=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        hostname=socket.gethostname() or "localhost",
        tests=str(tests),
        failures=str(failures),
        errors="0",
        skipped="0",
        time=f"{max(elapsed_s, 0.0):.3f}",
    )
    properties = ET.SubElement(suite, "properties")
    for key, value in (
        ("min_accuracy", f"{score.min_accuracy:g}"),
        ("tolerance_s", f"{score.tolerance_s:g}"),
        ("mean_accuracy", f"{score.mean_accuracy:.4f}"),
    ):
        ET.SubElement(properties, "property", name=key, value=value)
    for s in score.lines:
        message = (
            f"accuracy {s.accuracy:.3f} < {s.min_accuracy:g}: counted {s.counted}, true {s.true}"
            f"; {len(s.misses)} missed, {len(s.doubles)} doubles, {len(s.spurious)} spurious"
        )
        _case(suite, s.name, None if s.passed else message, "AccuracyFailure")
    for check in score.checks:
        _case(suite, check.name, None if check.passed else check.message, "CheckFailure")
    ET.SubElement(
        suite, "system-out"
    ).text = f"mean accuracy {score.mean_accuracy:.4f} over {len(score.lines)} line-directions"
    ET.SubElement(suite, "system-err").text = ""
    document: bytes = ET.tostring(suite, encoding="utf-8", xml_declaration=True)
    return document


def write_junit(path: Path, score: Score, suite_name: str, elapsed_s: float = 0.0) -> None:
    path.write_bytes(render_junit(score, suite_name, elapsed_s))
