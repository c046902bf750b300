"""Whether the installed sensor service holds the camera: setup mode must not run beside it.

The boundary is systemd, asked through `systemctl is-active`; tests put a fake
`systemctl` first on PATH. A machine without systemctl has no service to collide with.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from typing import Protocol

log = logging.getLogger(__name__)

SERVICE_UNIT = "headcount.service"


class ServiceProbe(Protocol):
    """Answers whether the sensor service is running now."""

    def is_active(self) -> bool: ...


class SystemctlProbe:
    """Asks systemd about `unit` (run it before the privacy guard forbids processes)."""

    def __init__(self, unit: str = SERVICE_UNIT) -> None:
        self.unit = unit

    def is_active(self) -> bool:
        systemctl = shutil.which("systemctl")
        if systemctl is None:
            log.debug("no systemctl here; assuming no %s runs", self.unit)
            return False
        try:
            done = subprocess.run(
                [systemctl, "is-active", "--quiet", self.unit],
                check=False,
                timeout=10,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            log.warning(
                "could not ask systemd about %s (%s); assuming it is stopped", self.unit, error
            )
            return False
        return done.returncode == 0


def refusal(probe: ServiceProbe) -> str | None:
    """The sentence refusing setup while the service runs, or None when it may start."""
    if not probe.is_active():
        return None
    return (
        f"the sensor service ({SERVICE_UNIT}) is running and holds the camera; stop it "
        "first with `sudo systemctl stop headcount`, then start it again when setup is done"
    )
