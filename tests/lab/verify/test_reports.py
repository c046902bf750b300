"""Reports: JUnit XML valid against the JUnit schema, Markdown naming failures, a PNG timeline."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from lab.verify.junit import write_junit
from lab.verify.report import render_markdown
from lab.verify.score import Check, Counted, Observed, Score, score
from lab.verify.timeline import write_timeline
from lab.verify.truth import Crossing

ROOT = Path(__file__).resolve().parents[3]
XSD = ROOT / "tests" / "data" / "junit" / "JUnit.xsd"


def planted() -> Score:
    """Line 'north' in: 2 of 4 counted (misses at 3.0 and 7.0); 'south' out: one double."""
    truth = [Crossing(t, "north", "in") for t in (1.0, 3.0, 5.0, 7.0)] + [
        Crossing(t, "south", "out") for t in (2.0, 6.0)
    ]
    counted = [Counted(t, "north", "in") for t in (1.1, 5.2)] + [
        Counted(t, "south", "out") for t in (2.0, 2.3, 6.1)
    ]
    observed = Observed(("north", "south"), (), tuple(counted))
    checks = [Check("nothing lost", True, "ok"), Check("availability", False, "not back")]
    return score(truth, observed, checks=checks)


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD))


def test_junit_validates_and_names_the_failing_cases(
    tmp_path: Path, schema: xmlschema.XMLSchema
) -> None:
    path = tmp_path / "verify.xml"
    write_junit(path, planted(), "rig door-1", elapsed_s=12.5)
    schema.validate(str(path))
    suite = ET.parse(path).getroot()
    cases = {case.get("name"): case.find("failure") for case in suite.iter("testcase")}
    assert list(cases) == [
        "north in",
        "north out",
        "south in",
        "south out",
        "nothing lost",
        "availability",
    ]
    failed = sorted(name for name, failure in cases.items() if failure is not None)
    assert failed == ["availability", "north in", "south out"]
    assert suite.get("tests") == "6" and suite.get("failures") == "3"
    assert "counted 2, true 4" in (cases["north in"].get("message") or "")  # type: ignore[union-attr]


def test_junit_of_a_pass_validates(tmp_path: Path, schema: xmlschema.XMLSchema) -> None:
    truth = [Crossing(1.0, "door", "in")]
    result = score(truth, Observed(("door",), (), (Counted(1.0, "door", "in"),)))
    path = tmp_path / "pass.xml"
    write_junit(path, result, "pass")
    schema.validate(str(path))
    assert ET.parse(path).getroot().get("failures") == "0"


def test_markdown_lists_failures_and_event_times() -> None:
    text = render_markdown(planted(), "rig door-1")
    assert "**FAIL: north in, south out, availability**" in text
    assert "- **north in**: missed at 3.00, 7.00 s; doubles at - s; spurious at - s" in text
    assert "- **south out**: missed at - s; doubles at 2.30 s; spurious at - s" in text
    assert "| north in | 4 | 2 | 50.0 % | 2 | 2 | 0 | 0 | FAIL |" in text


def test_timeline_png(tmp_path: Path) -> None:
    path = tmp_path / "timeline.png"
    write_timeline(path, planted(), "rig door-1")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    assert (width, height) == (1000, 340)  # 10 x (1 + 0.6 x 4 rows) inches at 100 dpi
