"""A wheel install (not editable) carries the lab and its scenes: synthetic sources work anywhere."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.lab.conftest import run_installed


def test_the_wheel_holds_each_package_where_it_runs(wheel_site: Path) -> None:
    names = {p.relative_to(wheel_site).as_posix() for p in wheel_site.rglob("*") if p.is_file()}
    assert "lab/sim/scenes/door_single.toml" in names
    assert "edge/models/ssdlite_person_uint8.tflite" in names
    assert {
        f"edge/setup/static/{name}" for name in ("index.html", "setup.js", "setup.css")
    } <= names
    assert not any(name.startswith(("edge/bench/", "edge/sim/")) for name in names)
    assert not any(name.startswith("tests/") for name in names)


def test_installed_wheel_runs_a_seeded_scene(wheel_site: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[sensor]\nid = "w1"\n\n[[lines]]\nname = "door"\n'
        "points = [[0.1, 0.5], [0.9, 0.5]]\ninside = [0.5, 0.9]\n"
        '\n[privacy]\nguard = "off"\n'
    )
    where = subprocess.run(
        [sys.executable, "-c", "import lab.sim.scene as s; print(s.__file__)"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(wheel_site)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(wheel_site))
    result = run_installed(
        wheel_site,
        ["run", "--config", str(config), "--source", "synthetic:door_single"],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert last["sensor"] == "w1"
    assert last["lines"]["door"]["in"] > 0


def test_an_unknown_scene_names_the_shipped_ones(wheel_site: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[sensor]\nid = "w1"\n\n[[zones]]\nname = "z"\npolygon = [[0, 0], [1, 0], [1, 1]]\n'
    )
    result = run_installed(
        wheel_site, ["run", "--config", str(config), "--source", "synthetic:nope"], cwd=tmp_path
    )
    assert result.returncode == 2
    assert "door_single" in result.stderr and "Traceback" not in result.stderr
