"""firmware/headcount.service: systemd accepts it, and it is sandboxed as promised.

These tests need `systemd-analyze` (Debian package `systemd`); `make test` installs it.
They fail, never skip, when it is missing: an unchecked unit is a broken promise.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "firmware" / "headcount.service"
INSTALL = REPO / "firmware" / "install.sh"
SYSTEM_UNITS = Path("/usr/lib/systemd/system")
MAX_EXPOSURE = 2.0
EXEC_START = "/opt/headcount/venv/bin/headcount run --config /etc/headcount/config.toml --sink mqtt"


def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.fail("systemd-analyze is missing: apt-get install systemd (make test does)")
    return path


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """Sections of a unit file; a key may repeat, so each maps to its list of values."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"key outside a section: {line!r}"
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def make_root(tmp_path: Path, unit_text: str, broker: str = "192.0.2.10") -> Path:
    """A file system root in which the unit, its drop-in and what they name all exist.

    `systemd-analyze verify` checks that ExecStart= is an executable and that the units
    it depends on (network-online.target, sysinit.target, ...) load. On a build machine
    the sensor's venv does not exist, so rather than ignore that error we verify inside
    a root holding a stand-in executable at the real ExecStart= path and a copy of this
    machine's system units, together with the drop-in install.sh writes for a broker.
    """
    root = tmp_path / "root"
    if not SYSTEM_UNITS.is_dir():
        pytest.fail(f"{SYSTEM_UNITS} is missing: apt-get install systemd (make test does)")
    shutil.copytree(SYSTEM_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    exe = root / "opt/headcount/venv/bin/headcount"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    system = root / "etc/systemd/system"
    system.mkdir(parents=True)
    (system / "headcount.service").write_text(unit_text)
    config = tmp_path / "config.toml"
    config.write_text(f'[mqtt]\nhost = "{broker}"\n')
    dropin = subprocess.run(
        ["bash", str(INSTALL), "--print-dropin", "--config", str(config)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    (system / "headcount.service.d").mkdir()
    (system / "headcount.service.d" / "broker.conf").write_text(dropin)
    return root


def verify(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [systemd_analyze(), "verify", f"--root={root}", "headcount.service"],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )


def exposure(*args: str) -> float:
    """The overall exposure figure `systemd-analyze security --offline=yes` gives."""
    result = subprocess.run(
        [systemd_analyze(), "security", "--offline=yes", "--no-pager", *args],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    found = re.search(r"Overall exposure level for headcount\.service: (\d+\.\d+)", result.stdout)
    assert found, result.stdout + result.stderr
    return float(found.group(1))


def test_verify_passes_with_no_warning(tmp_path: Path) -> None:
    result = verify(make_root(tmp_path, UNIT.read_text()))
    # verify exits 0 on unknown keys but warns on stderr, so both are checked.
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


def test_verify_is_able_to_fail(tmp_path: Path) -> None:
    """The check above would notice a misspelt directive or a missing executable."""
    misspelt = UNIT.read_text().replace("ProtectHome=yes", "ProtectHom=yes")
    result = verify(make_root(tmp_path / "a", misspelt))
    assert "ProtectHom" in result.stderr

    root = make_root(tmp_path / "b", UNIT.read_text())
    (root / "opt/headcount/venv/bin/headcount").unlink()
    result = verify(root)
    assert result.returncode != 0
    assert "/opt/headcount/venv/bin/headcount" in result.stderr


def test_exposure_of_the_unit_file() -> None:
    assert exposure(str(UNIT)) <= MAX_EXPOSURE


@pytest.mark.parametrize("broker", ["localhost", "192.0.2.10", "2001:db8::10"])
def test_exposure_with_the_installed_broker_dropin(tmp_path: Path, broker: str) -> None:
    root = make_root(tmp_path, UNIT.read_text(), broker=broker)
    assert exposure(f"--root={root}", "headcount.service") <= MAX_EXPOSURE


def test_exposure_figure_reacts_to_a_weaker_unit(tmp_path: Path) -> None:
    """Guards the parser: dropping the sandbox must raise the figure above the limit."""
    weak = tmp_path / "headcount.service"
    weak.write_text("[Service]\nType=notify\nExecStart=/bin/true\n")
    assert exposure(str(weak)) > MAX_EXPOSURE


def test_the_sandbox_settings_the_issue_asks_for() -> None:
    service = parse_unit(UNIT.read_text())["Service"]

    def one(key: str) -> str:
        values = service.get(key, [])
        assert len(values) == 1, f"{key}= should be set once, found {values}"
        return values[0]

    assert one("Type") == "notify"
    assert one("NotifyAccess") == "main"
    assert one("ExecStart") == EXEC_START
    assert int(one("WatchdogSec")) > 0
    assert one("Restart") == "always"
    assert one("User") == "headcount"
    assert one("ProtectSystem") == "strict"
    assert one("ProtectHome") == "yes"
    assert one("PrivateTmp") == "yes"
    assert one("NoNewPrivileges") == "yes"
    assert one("ReadWritePaths") == "/var/lib/headcount/journal"
    assert one("StateDirectory") == "headcount/journal"
    assert one("DevicePolicy") == "closed"
    assert sorted(service["DeviceAllow"]) == [
        "char-dma_heap rw",
        "char-media rw",
        "char-video4linux rw",
    ]
    assert one("RestrictAddressFamilies").split() == ["AF_UNIX", "AF_INET", "AF_INET6"]
    assert one("IPAddressDeny") == "any"
    assert "IPAddressAllow" not in service, "the broker's addresses come from the drop-in"
    assert one("MemoryMax")
    assert service["SystemCallFilter"][0] == "@system-service"
    assert one("CapabilityBoundingSet") == ""
    assert one("LimitCORE") == "0", "a core dump would hold camera frames"


def test_start_limit_is_set() -> None:
    unit = parse_unit(UNIT.read_text())["Unit"]
    assert int(unit["StartLimitBurst"][0]) > 1
    assert int(unit["StartLimitIntervalSec"][0]) > 0


def installed_service(tmp_path: Path, broker: str) -> dict[str, list[str]]:
    """The [Service] keys of the unit together with the drop-in install.sh writes."""
    root = make_root(tmp_path, UNIT.read_text(), broker=broker)
    system = root / "etc/systemd/system"
    text = (system / "headcount.service").read_text()
    dropin = (system / "headcount.service.d" / "broker.conf").read_text()
    service = parse_unit(text)["Service"]
    for key, values in parse_unit(dropin).get("Service", {}).items():
        service[key] = [*service.get(key, []), *values]
    return service


@pytest.mark.parametrize("broker", ["localhost", "192.0.2.10"])
def test_files_can_appear_only_in_the_journal_and_no_fifo_or_node_anywhere(
    tmp_path: Path, broker: str
) -> None:
    """The layer for what the runtime guard cannot see: native code, os.mknod/os.mkfifo
    (no audit event), a descriptor opened before the guard. Read-only everywhere but the
    journal (and the unit's private /tmp), and no mknod/mknodat system call at all."""
    service = installed_service(tmp_path, broker)
    assert service["ProtectSystem"] == ["strict"]
    assert service["ReadWritePaths"] == ["/var/lib/headcount/journal"]
    writable = {"BindPaths", "ReadWriteDirectories", "StateDirectory", "CacheDirectory"}
    assert {k for k in service if k in writable} == {"StateDirectory"}
    assert service["StateDirectory"] == ["headcount/journal"]
    assert "~mknod mknodat" in service["SystemCallFilter"]
    # mknodat (what mkfifo calls) is in the @system-service set the unit allows, so
    # without the deny line it would be allowed.
    groups = subprocess.run(
        [systemd_analyze(), "syscall-filter", "@file-system"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    assert {"mknod", "mknodat"} <= set(groups)
    report = subprocess.run(
        [systemd_analyze(), "security", "--offline=yes", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    ).stdout
    assert re.search(r"✓ ProtectSystem=\s+Service has strict read-only access", report), report


def test_the_address_allow_list_cannot_tell_ports_apart(tmp_path: Path) -> None:
    """With the broker on localhost, systemd admits every port of 127.0.0.1 and ::1
    (IPAddressAllow= has no ports): a collector on another loopback port is stopped by
    the runtime guard alone (tests/privacy/test_guard.py), not by this layer."""
    service = installed_service(tmp_path, "localhost")
    assert service["IPAddressDeny"] == ["any"]
    assert [v for v in service["IPAddressAllow"] if v] == ["127.0.0.1", "::1"]
    remote = installed_service(tmp_path / "remote", "192.0.2.10")
    assert [v for v in remote["IPAddressAllow"] if v] == ["192.0.2.10"]
