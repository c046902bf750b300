"""firmware/install.sh: shellcheck-clean, and its dry run plans the right actions.

The dry run is pointed at a temporary root (--root) that stands for the Pi's file
system, so each test decides what is already installed. Nothing on this machine is
changed, and the tests check that the root is left untouched too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware"
INSTALL = FIRMWARE / "install.sh"

UNIT = "/etc/systemd/system/headcount.service"
DROPIN = "/etc/systemd/system/headcount.service.d/broker.conf"


def run_install(
    *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["bash", str(INSTALL), *args],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
        env=env,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def actions(stdout: str) -> list[str]:
    """The commands and writes a run announces, one per '+ ' line."""
    return [line[2:] for line in stdout.splitlines() if line.startswith("+ ")]


def written(stdout: str, path: str) -> str:
    """The content a dry run shows for a file it would write."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"+ write {path} "))
    body = []
    for line in lines[start + 1 :]:
        if not line.startswith("    | "):
            break
        body.append(line[6:])
    return "\n".join(body)


def index_of(steps: list[str], prefix: str) -> int:
    matches = [i for i, step in enumerate(steps) if step.startswith(prefix)]
    assert matches, f"no action starting {prefix!r} in:\n" + "\n".join(steps)
    return matches[0]


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


def test_every_script_is_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.fail("shellcheck is missing: apt-get install shellcheck (make test does)")
    scripts = sorted(FIRMWARE.rglob("*.sh"))
    assert INSTALL in scripts
    result = subprocess.run(
        [shellcheck, "--severity=style", *map(str, scripts)],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_fresh_install_plan(root: Path) -> None:
    out = run_install("--dry-run", "--root", str(root)).stdout
    steps = actions(out)

    assert "python3-picamera2" in out, "a picamera2 source needs the distribution's package"
    useradd = steps[index_of(steps, "useradd ")]
    assert "--system" in useradd
    assert "--shell /usr/sbin/nologin" in useradd
    assert useradd.endswith(" headcount")
    venv = steps[index_of(steps, "/usr/bin/python3 -m venv ")]
    assert venv == "/usr/bin/python3 -m venv --system-site-packages /opt/headcount/venv"
    pip = steps[index_of(steps, "/opt/headcount/venv/bin/python -m pip install ")]
    assert pip.endswith(f" {REPO}"), "installs this checkout, without the opencv extra"
    assert "import\\ ai_edge_litert" in out, "checks LiteRT imports in the venv"
    config = (
        f"install -m 0640 -o root -g headcount {FIRMWARE}/config.example.toml"
        " /etc/headcount/config.toml"
    )
    assert config in steps
    assert f"install -m 0644 {FIRMWARE}/headcount.service {UNIT}" in steps

    dropin = written(out, DROPIN)
    assert "IPAddressAllow=\nIPAddressAllow=127.0.0.1\nIPAddressAllow=::1\n" in dropin
    assert "BindReadOnlyPaths=/etc/headcount/hosts:/etc/hosts" in dropin
    hosts = written(out, "/etc/headcount/hosts")
    assert "127.0.0.1 localhost" in hosts

    # The order that makes a first install work: user before files it owns, the
    # venv before pip, the unit and its drop-in before enabling.
    order = [
        index_of(steps, "useradd "),
        index_of(steps, "/usr/bin/python3 -m venv "),
        index_of(steps, "/opt/headcount/venv/bin/python -m pip install "),
        index_of(steps, f"install -m 0644 {FIRMWARE}/headcount.service"),
        index_of(steps, f"write {DROPIN}"),
        index_of(steps, "systemctl enable headcount.service"),
    ]
    assert order == sorted(order)
    assert snapshot(root) == {}, "a dry run must not write anything"


def test_upgrade_keeps_config_user_and_venv(root: Path) -> None:
    (root / "etc/headcount").mkdir(parents=True)
    (root / "etc/headcount/config.toml").write_text(
        '[sensor]\nid = "door-2"\n[source]\nuri = "0"\n[mqtt]\nhost = "192.0.2.10"\n'
    )
    (root / "etc/passwd").write_text("headcount:x:998:998::/nonexistent:/usr/sbin/nologin\n")
    python = root / "opt/headcount/venv/bin/python"
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    before = snapshot(root)

    out = run_install("--dry-run", "--root", str(root)).stdout
    steps = actions(out)

    assert "keeping the existing /etc/headcount/config.toml" in out
    assert not [s for s in steps if s.startswith("install ") and "config.toml" in s]
    assert "chown root:headcount /etc/headcount/config.toml" in steps
    assert "chmod 0640 /etc/headcount/config.toml" in steps
    assert not [s for s in steps if s.startswith(("useradd", "/usr/bin/python3 -m venv"))]
    assert "python3-picamera2" not in out, "a webcam source needs no picamera2"
    pip = steps[index_of(steps, "/opt/headcount/venv/bin/python -m pip install ")]
    assert pip.endswith(f" {REPO}\\[opencv\\]"), "a webcam needs the opencv extra"
    dropin = written(out, DROPIN)
    assert "IPAddressAllow=\nIPAddressAllow=192.0.2.10\n" in dropin
    assert "IPAddressAllow=127.0.0.1" not in dropin
    assert snapshot(root) == before


def test_uninstall_plan_keeps_config_and_journal(root: Path) -> None:
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / UNIT.lstrip("/")).write_text("[Service]\n")
    (root / "etc/passwd").write_text("headcount:x:998:998::/nonexistent:/usr/sbin/nologin\n")
    before = snapshot(root)

    out = run_install("--dry-run", "--uninstall", "--root", str(root)).stdout
    steps = actions(out)

    assert steps == [
        "systemctl disable headcount.service",
        f"rm -f {UNIT}",
        "rm -rf /etc/systemd/system/headcount.service.d",
        "rm -rf /opt/headcount",
        "rm -f /etc/headcount/hosts",
        "userdel headcount",
    ]
    assert "kept: /etc/headcount (config and MQTT password), /var/lib/headcount" in out
    assert snapshot(root) == before


def test_unresolvable_broker_stops_the_install(root: Path) -> None:
    (root / "etc/headcount").mkdir(parents=True)
    (root / "etc/headcount/config.toml").write_text('[mqtt]\nhost = "no-such-host.invalid"\n')
    result = run_install("--dry-run", "--root", str(root), check=False)
    assert result.returncode != 0
    assert "cannot resolve the broker 'no-such-host.invalid'" in result.stderr
    assert not actions(result.stdout), "nothing is planned before the config is understood"


def test_a_journal_outside_the_sandbox_is_refused(root: Path) -> None:
    (root / "etc/headcount").mkdir(parents=True)
    (root / "etc/headcount/config.toml").write_text('[journal]\ndir = "/home/pi/journal"\n')
    result = run_install("--dry-run", "--root", str(root), check=False)
    assert result.returncode != 0
    assert "may write only /var/lib/headcount/journal" in result.stderr


def test_a_broken_config_is_named(root: Path) -> None:
    (root / "etc/headcount").mkdir(parents=True)
    (root / "etc/headcount/config.toml").write_text("[mqtt\n")
    result = run_install("--dry-run", "--root", str(root), check=False)
    assert result.returncode != 0
    assert "cannot read" in result.stderr
    assert "config.toml" in result.stderr


def test_a_32_bit_os_is_refused(root: Path, tmp_path: Path) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "uname").write_text("#!/bin/sh\necho armv7l\n")
    (fake_bin / "uname").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake_bin}:{os.environ['PATH']}"}
    result = run_install("--dry-run", "--root", str(root), env=env, check=False)
    assert result.returncode != 0
    assert "64-bit OS is required" in result.stderr


def test_an_unknown_os_is_refused_unless_asked(root: Path) -> None:
    (root / "etc").mkdir()
    (root / "etc/os-release").write_text('ID=fedora\nVERSION_CODENAME=""\n')
    result = run_install("--dry-run", "--root", str(root), check=False)
    assert result.returncode != 0
    assert "Raspberry Pi OS or Debian is required" in result.stderr
    run_install("--dry-run", "--root", str(root), "--skip-os-check")


def test_raspberry_pi_os_trixie_is_accepted(root: Path) -> None:
    (root / "etc").mkdir()
    (root / "etc/os-release").write_text("ID=debian\nVERSION_CODENAME=trixie\n")
    assert "OS: debian trixie" in run_install("--dry-run", "--root", str(root)).stdout


def test_camera_line_hint(root: Path) -> None:
    (root / "boot/firmware").mkdir(parents=True)
    (root / "boot/firmware/config.txt").write_text("camera_auto_detect=0\n")
    out = run_install("--dry-run", "--root", str(root)).stdout
    assert "add 'camera_auto_detect=1'" in out
    (root / "boot/firmware/config.txt").write_text("[all]\ncamera_auto_detect=1\n")
    out = run_install("--dry-run", "--root", str(root)).stdout
    assert "camera_auto_detect" not in out


def test_root_prefix_only_with_dry_run(root: Path) -> None:
    result = run_install("--root", str(root), check=False)
    assert result.returncode != 0
    assert "--root is only supported with --dry-run" in result.stderr
