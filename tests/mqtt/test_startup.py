"""Journal folders in the wrong state and configs whose messages cannot fit: `headcount run
--sink mqtt` says so in one sentence and exits 2, before the first frame (item 5)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.mqtt.conftest import ROOT, Broker, Lab, sensor_config, toml_text


def run(config: dict[str, object], tmp_path: Path, *, drop_root: bool = False) -> tuple[int, str]:
    path = tmp_path / "sensor.toml"
    path.write_text(toml_text(config))
    command = [sys.executable, "-m", "edge.cli", "run", "--config", str(path)]
    command += ["--source", "synthetic:door_single", "--sink", "mqtt"]
    if drop_root and os.geteuid() == 0:
        # root ignores file modes; without these two capabilities it obeys them like a user
        assert shutil.which("setpriv"), "setpriv (util-linux) is needed to test as root"
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    done = subprocess.run(
        command, check=False, capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    return done.returncode, done.stderr


def one_sentence(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.fixture
def config(broker: Broker, lab: Lab, tmp_path: Path) -> dict[str, object]:
    return sensor_config(broker, lab, tmp_path / "journal")


def test_a_folder_where_the_log_should_be(config: dict[str, object], tmp_path: Path) -> None:
    (tmp_path / "journal" / "journal.log").mkdir(parents=True)
    code, stderr = run(config, tmp_path)
    assert code == 2
    assert "is a folder" in one_sentence(stderr)


def test_a_log_nobody_may_read(config: dict[str, object], tmp_path: Path) -> None:
    (tmp_path / "journal").mkdir()
    log = tmp_path / "journal" / "journal.log"
    log.write_bytes(b"")
    log.chmod(0)
    code, stderr = run(config, tmp_path, drop_root=True)
    assert code == 2
    assert "Permission denied" in one_sentence(stderr)


def test_a_read_only_folder(config: dict[str, object], tmp_path: Path) -> None:
    folder = tmp_path / "journal"
    folder.mkdir()
    (folder / "journal.lock").write_bytes(b"")
    (folder / "journal.log").write_bytes(b"")
    folder.chmod(0o555)
    try:
        code, stderr = run(config, tmp_path, drop_root=True)
    finally:
        folder.chmod(0o755)
    assert code == 2
    assert "set [journal] dir to a folder this user may read and write" in one_sentence(stderr)


def test_too_many_long_names_for_a_message(config: dict[str, object], tmp_path: Path) -> None:
    line = {"points": [[0.1, 0.5], [0.9, 0.5]], "inside": [0.5, 0.9]}
    config["lines"] = [{"name": f"{i:03d}" + "x" * 61, **line} for i in range(800)]
    code, stderr = run(config, tmp_path)
    assert code == 2
    sentence = one_sentence(stderr)
    assert "800 lines" in sentence and "over the limit of 65536" in sentence
