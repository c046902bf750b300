"""`firmware/install.sh --venue` and firmware/headcount-venue.service (the venue server)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.firmware.test_install_sh import FIRMWARE, actions, index_of, run_install, snapshot
from tests.firmware.test_unit_file import SYSTEM_UNITS, parse_unit, systemd_analyze

VENUE_UNIT = FIRMWARE / "headcount-venue.service"
INSTALLED = "/etc/systemd/system/headcount-venue.service"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


def test_fresh_venue_install_plan(root: Path) -> None:
    out = run_install("--venue", "--dry-run", "--root", str(root)).stdout
    steps = actions(out)
    assert "python3-picamera2" not in out
    useradd = steps[index_of(steps, "useradd ")]
    assert useradd.endswith(" headcount-venue") and "--shell /usr/sbin/nologin" in useradd
    assert "install -d -m 0750 -o root -g headcount-venue /etc/headcount-venue" in steps
    assert (
        f"install -m 0640 -o root -g headcount-venue {FIRMWARE}/venue.example.toml"
        " /etc/headcount-venue/venue.toml"
    ) in steps
    assert f"install -m 0644 {VENUE_UNIT} {INSTALLED}" in steps
    assert "systemctl enable headcount-venue.service" in steps
    assert not [s for s in steps if "headcount.service" in s], "the sensor's unit is untouched"
    order = [
        index_of(steps, "useradd "),
        index_of(steps, "/opt/headcount/venv/bin/python -m pip install "),
        index_of(steps, "install -m 0640 -o root -g headcount-venue"),
        index_of(steps, f"install -m 0644 {VENUE_UNIT}"),
        index_of(steps, "systemctl enable headcount-venue.service"),
    ]
    assert order == sorted(order)
    assert snapshot(root) == {}


def test_venue_upgrade_keeps_config_and_secures_its_passwords(root: Path) -> None:
    folder = root / "etc/headcount-venue"
    folder.mkdir(parents=True)
    (folder / "venue.toml").write_text(
        '[mqtt]\npassword_file = "/etc/headcount-venue/mqtt.password"\n'
        '[http]\npassword_file = "/etc/headcount-venue/http.password"\n'
    )
    (folder / "mqtt.password").write_text("x\n")
    (folder / "http.password").write_text("y\n")
    (root / "etc/passwd").write_text("headcount-venue:x:997:997::/nonexistent:/usr/sbin/nologin\n")
    before = snapshot(root)
    out = run_install("--venue", "--dry-run", "--root", str(root)).stdout
    steps = actions(out)
    assert "keeping the existing /etc/headcount-venue/venue.toml" in out
    assert not [s for s in steps if s.startswith("useradd")]
    for name in ("mqtt.password", "http.password"):
        assert f"chown root:headcount-venue /etc/headcount-venue/{name}" in steps
        assert f"chmod 0640 /etc/headcount-venue/{name}" in steps
    assert snapshot(root) == before


def test_a_history_outside_the_sandbox_is_refused(root: Path) -> None:
    (root / "etc/headcount-venue").mkdir(parents=True)
    (root / "etc/headcount-venue/venue.toml").write_text('[history]\npath = "/home/pi/h.sqlite"\n')
    result = run_install("--venue", "--dry-run", "--root", str(root), check=False)
    assert result.returncode != 0
    assert "may write only /var/lib/headcount-venue" in result.stderr
    assert not actions(result.stdout)


def test_venue_uninstall_keeps_config_history_and_the_sensor(root: Path) -> None:
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / INSTALLED.lstrip("/")).write_text("[Service]\n")
    (root / "etc/passwd").write_text("headcount-venue:x:997:997::/nonexistent:/usr/sbin/nologin\n")
    out = run_install("--venue", "--uninstall", "--dry-run", "--root", str(root)).stdout
    assert actions(out) == [
        "systemctl disable headcount-venue.service",
        f"rm -f {INSTALLED}",
        "userdel headcount-venue",
    ]
    assert "kept: /etc/headcount-venue (venue.toml and passwords)" in out


def test_the_venue_unit_verifies_and_is_sandboxed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(SYSTEM_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    exe = root / "opt/headcount/venv/bin/headcount"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    (root / "etc/systemd/system").mkdir(parents=True)
    shutil.copy(VENUE_UNIT, root / "etc/systemd/system/headcount-venue.service")
    result = subprocess.run(
        [systemd_analyze(), "verify", f"--root={root}", "headcount-venue.service"],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr
    security = subprocess.run(
        [systemd_analyze(), "security", "--offline=yes", "--no-pager", str(VENUE_UNIT)],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )
    found = re.search(
        r"Overall exposure level for headcount-venue\.service: (\d+\.\d+)", security.stdout
    )
    assert found and float(found.group(1)) <= 2.0, security.stdout
    service = parse_unit(VENUE_UNIT.read_text())["Service"]
    assert service["ExecStart"] == [
        "/opt/headcount/venv/bin/headcount venue --config /etc/headcount-venue/venue.toml"
    ]
    assert service["User"] == ["headcount-venue"]
    assert service["ProtectSystem"] == ["strict"]
    assert service["StateDirectory"] == ["headcount-venue"]
    assert service["RestartPreventExitStatus"] == ["2"]
