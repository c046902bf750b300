"""The `headcount` command as a user runs it: real processes, real files, exit codes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab.sim.scene import load_scene
from tests.mqtt.conftest import toml_text

HEADCOUNT = [sys.executable, "-m", "edge.cli"]


def run(*args, timeout=120, env=None):
    return subprocess.run(
        [*HEADCOUNT, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def scene_config(tmp_path: Path, scene_name: str) -> Path:
    scene = load_scene(scene_name)
    doc = {
        "sensor": {"id": "sim", "site": "lab"},
        "lines": [line.model_dump() for line in scene.lines],
        "zones": [zone.model_dump() for zone in scene.zones],
    }
    return write_config(tmp_path, toml_text({k: v for k, v in doc.items() if v}))


@pytest.mark.parametrize("scene_name", ["door_single", "door_groups", "loiter_line"])
def test_run_on_a_seeded_scene_prints_one_snapshot_per_frame_and_exact_totals(tmp_path, scene_name):
    scene = load_scene(scene_name)
    config = scene_config(tmp_path, scene_name)
    result = run(
        "run",
        "--config",
        str(config),
        "--source",
        f"synthetic:{scene_name}",
        "--publish-every",
        "0",
    )
    assert result.returncode == 0, result.stderr
    snapshots = [json.loads(line) for line in result.stdout.splitlines()]
    frames = [s["frame"] for s in snapshots]
    assert frames[: scene.frames] == list(range(scene.frames))
    final = snapshots[-1]
    truth = scene.ground_truth()
    assert {k: v for k, v in final["lines"].items()} == truth
    assert [s["seq"] for s in snapshots] == sorted(s["seq"] for s in snapshots)
    assert all(
        set(s)
        <= {
            "v",
            "site",
            "sensor",
            "ts",
            "boot",
            "seq",
            "frame",
            "zones",
            "lines",
            "resets",
            "dropped",
        }
        for s in snapshots
    )
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (
            "[sensor]\nid = 'door 1'\n[[zones]]\nname='z'\npolygon=[[0,0],[1,0],[1,1]]\n",
            "sensor.id",
        ),
        ("[sensor]\nid = 'd'\n", "at least one [[lines]] or [[zones]]"),
        ("[sensor\n", "not valid TOML"),
        (
            "[sensor]\nid='d'\n[[zones]]\nname='z'\npolygon=[[0,0],[1,0],[1,1]]\n[detector]\nthreads='four'\n",
            "detector.threads",
        ),
    ],
)
def test_bad_config_is_one_clear_message_and_exit_2(tmp_path, text, needle):
    result = run(
        "run", "--config", str(write_config(tmp_path, text)), "--source", "synthetic:door_single"
    )
    assert result.returncode == 2
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_missing_config_file_exit_2(tmp_path):
    result = run("run", "--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2 and "no such config file" in result.stderr
    assert "Traceback" not in result.stderr


ZONE_ONLY = "[sensor]\nid='d'\n[[zones]]\nname='z'\npolygon=[[0,0],[1,0],[1,1]]\n"


def test_corrupt_model_file_exit_2(tmp_path):
    model = tmp_path / "model.tflite"
    model.write_bytes(os.urandom(2048))
    config = write_config(tmp_path, ZONE_ONLY + f"[detector]\nmodel = '{model}'\n")
    result = run("run", "--config", str(config), "--source", str(tmp_path / "video.avi"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_video_file_exit_2(tmp_path):
    result = run(
        "run",
        "--config",
        str(write_config(tmp_path, ZONE_ONLY)),
        "--source",
        str(tmp_path / "absent.avi"),
    )
    assert result.returncode == 2
    assert "absent.avi" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_scene_exit_2(tmp_path):
    result = run(
        "run",
        "--config",
        str(write_config(tmp_path, ZONE_ONLY)),
        "--source",
        "synthetic:no-such-scene",
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
