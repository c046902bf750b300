"""The verification harness from a real wheel: its page assets ship, and the command runs."""

from __future__ import annotations

from pathlib import Path

from tests.lab.conftest import run_installed


def test_the_wheel_ships_the_pages(wheel_site: Path) -> None:
    names = {p.relative_to(wheel_site).as_posix() for p in wheel_site.rglob("*") if p.is_file()}
    for asset in ("walk.html", "walk.js", "walk.css", "play.html"):
        assert f"lab/verify/static/{asset}" in names


def test_installed_wheel_verifies_a_scene_and_exports_its_truth(
    wheel_site: Path, tmp_path: Path
) -> None:
    result = run_installed(
        wheel_site, ["verify", "--scene", "door_single", "--junit", "v.xml"], cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "door in: counted 13 of 13 (100.0 %) pass" in result.stdout
    assert (tmp_path / "v.xml").is_file()
    exported = run_installed(
        wheel_site, ["verify", "export-truth", "--scene", "quiet", "--out", "t"], cwd=tmp_path
    )
    assert exported.returncode == 0, exported.stderr[-2000:]
    assert (tmp_path / "t" / "quiet.crossings.csv").is_file()
