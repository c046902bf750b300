"""`headcount verify` as a user runs it: scene mode, export-truth, the fault run, usage errors,
and the pytest fixture a rig's suite uses."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from edge.cli import main
from lab.verify.pytest_plugin import VerifyResult
from lab.verify.scenes import scene_truth
from lab.verify.truth import read_crossings, read_occupancy

HERE = Path(__file__).resolve().parent
TINY = HERE / "data" / "tiny_door.toml"


def test_scene_mode_passes_and_writes_every_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report, junit, png = tmp_path / "r.md", tmp_path / "r.xml", tmp_path / "r.png"
    status = main(
        [
            "verify",
            "--scene",
            str(TINY),
            "--report",
            str(report),
            "--junit",
            str(junit),
            "--timeline",
            str(png),
        ]
    )
    out = capsys.readouterr().out
    assert status == 0, out
    assert "door in: counted 1 of 1 (100.0 %) pass" in out
    assert "door out: counted 2 of 2 (100.0 %) pass" in out
    assert "**PASS**" in report.read_text()
    assert junit.read_bytes().startswith(b"<?xml") and png.read_bytes()[:4] == b"\x89PNG"


def test_export_truth_writes_the_scene_truth(tmp_path: Path) -> None:
    assert main(["verify", "export-truth", "--scene", "door_single", "--out", str(tmp_path)]) == 0
    crossings = read_crossings(tmp_path / "door_single.crossings.csv", ["door"])
    assert sum(c.direction == "in" for c in crossings) == 13  # the scene's pinned truth
    assert sum(c.direction == "out" for c in crossings) == 7
    assert crossings == list(scene_truth("door_single").crossings)
    occupancy = read_occupancy(tmp_path / "door_single.occupancy.csv", ["room"])
    assert len(occupancy) == 150 and {s.zone for s in occupancy} == {"room"}


@pytest.mark.broker
def test_fault_run_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "faults.md"
    status = main(["verify", "--scene", str(TINY), "--faults", "--report", str(report)])
    out = capsys.readouterr().out
    assert status == 0, out + report.read_text()
    text = report.read_text()
    for kind in ("broker restart", "network cut", "source stall"):
        assert f"Fault: {kind} at" in text
    assert "| availability | pass |" in text and "| nothing lost | pass |" in text
    assert "Latency from a true crossing to its published count: p50" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "say what to verify: --config C --video CLIP --truth CSV"),
        (["--scene", "nowhere"], "unknown scene 'nowhere'; use one of:"),
        (
            ["--scene", "quiet", "--min-accuracy", "95"],
            "--min-accuracy 95 must lie between 0 and 1",
        ),
        (["--video", "clip.mp4"], "pass the sensor's config with --config"),
        (
            ["--config", "CONFIG", "--video", "absent.mp4", "--truth", "t.csv"],
            "video absent.mp4 does not exist; pass an existing clip with --video",
        ),
        (
            ["--config", "CONFIG", "--video", "VIDEO", "--truth", "BADTRUTH"],
            "row 2: unknown line 'window'; the config has door",
        ),
        (["--config", "CONFIG", "--video", "VIDEO"], "pass the ground truth with --truth"),
        (
            ["--listen", "--config", "CONFIG", "--truth", "TRUTH"],
            "--align frame needs the clip's frame rate: pass --fps or --video",
        ),
        (
            ["--listen", "--truth", "TRUTH", "--fps", "10"],
            "pass the sensor's broker with --broker HOST:PORT (or --config)",
        ),
        (
            ["--listen", "--truth", "TRUTH", "--fps", "10", "--broker", "nohost"],
            "--broker must be HOST:PORT, got 'nohost'",
        ),
        (
            ["--listen", "--truth", "TRUTH", "--fps", "10", "--broker", "127.0.0.1:1"],
            "name the sensor with --site and --sensor",
        ),
        (
            [
                "--listen",
                "--truth",
                "TRUTH",
                "--fps",
                "10",
                "--broker",
                "127.0.0.1:PORT",
                "--site",
                "hq",
                "--sensor",
                "door-1",
            ],
            "cannot reach the broker at 127.0.0.1:",
        ),
        (["--faults"], "--faults runs a seeded scene: pass --scene NAME"),
        (["--walk"], "pass the sensor's config with --config"),
    ],
)
def test_usage_errors_exit_2_with_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    import socket

    config = tmp_path / "sensor.toml"
    config.write_text(
        '[sensor]\nid = "door-1"\nsite = "hq"\n\n[[lines]]\nname = "door"\n'
        "points = [[0.1, 0.5], [0.9, 0.5]]\ninside = [0.5, 0.9]\n"
    )
    video = tmp_path / "clip.avi"
    video.write_bytes(b"not a video")
    truth = tmp_path / "truth.csv"
    truth.write_text("time_s,line,direction\n1.0,door,in\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("time_s,line,direction\n1.0,window,in\n")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    swap = {"CONFIG": str(config), "VIDEO": str(video), "TRUTH": str(truth), "BADTRUTH": str(bad)}
    argv = [swap.get(a, a).replace("PORT", port) for a in args]
    status = main(["verify", *argv])
    err = capsys.readouterr().err
    assert status == 2, err
    assert message in err
    assert err.startswith("headcount verify: ") or err.startswith("headcount: ")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_the_rig_fixture(headcount_verify: Callable[..., VerifyResult]) -> None:
    """The `headcount_verify` fixture comes from the installed pytest11 entry point."""
    result = headcount_verify("--scene", str(TINY), "--min-accuracy", "0.9")
    assert result.status == 0, result.report
    assert "**PASS**" in result.report and result.junit.is_file()
