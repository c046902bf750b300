"""Tell systemd the sensor is ready, alive and stopping (the sd_notify protocol).

The protocol is one datagram of newline-separated ``KEY=VALUE`` lines sent to the
AF_UNIX socket named in ``$NOTIFY_SOCKET``; a name starting with ``@`` is an abstract
socket. ``$WATCHDOG_USEC`` is the watchdog timeout: a service that sends no
``WATCHDOG=1`` for that long is killed and restarted. Outside systemd (no
``$NOTIFY_SOCKET``) every method is a cheap no-op, so callers never branch.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

SocketAddress = str | bytes
"""What ``socket.sendto`` is given: a path, or bytes starting with NUL for abstract."""


def parse_notify_socket(value: str | None) -> SocketAddress | None:
    """Return the sendto address for a ``$NOTIFY_SOCKET`` value, or None if unusable.

    A leading ``@`` means the Linux abstract namespace (a leading NUL byte); otherwise
    the value must be an absolute path. Anything else (empty, relative, ``vsock:``) is
    refused, because a relative or foreign address is not something systemd hands out
    to a local service.
    """
    if not value:
        return None
    if value.startswith("@"):
        if len(value) < 2:
            return None
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    log.warning("NOTIFY_SOCKET=%r is neither a path nor an abstract name; ignored", value)
    return None


def parse_watchdog_usec(usec: str | None, pid: str | None, own_pid: int) -> float | None:
    """Return the watchdog timeout in seconds, or None when no watchdog applies to us.

    ``$WATCHDOG_PID``, when set, names the one process the watchdog is meant for; a
    child that inherited the environment must not ping on its parent's behalf.
    """
    if not usec:
        return None
    if pid:
        try:
            if int(pid) != own_pid:
                return None
        except ValueError:
            log.warning("WATCHDOG_PID=%r is not a number; watchdog ignored", pid)
            return None
    try:
        micros = int(usec)
    except ValueError:
        log.warning("WATCHDOG_USEC=%r is not a number; watchdog ignored", usec)
        return None
    if micros <= 0:
        return None
    return micros / 1_000_000


class SystemdNotifier:
    """Sends sd_notify messages; every method is safe to call when not under systemd.

    ``ping()`` is rate-limited to one datagram per half watchdog interval on a
    monotonic clock, so the pipeline may call it every frame. Send errors are logged
    and swallowed: a notify failure must never stop the counting, and if pings really
    stop arriving systemd restarts the service anyway, which is the point.
    """

    def __init__(
        self,
        address: SocketAddress | None,
        watchdog_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if watchdog_seconds is not None and watchdog_seconds <= 0:
            raise ValueError(f"watchdog_seconds must be > 0 or None, got {watchdog_seconds!r}")
        self._address = address
        self._watchdog_seconds = watchdog_seconds if address is not None else None
        self._clock = clock
        self._last_ping: float | None = None
        self._sock: socket.socket | None = None
        self._failing = False

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> SystemdNotifier:
        """Build from ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID``."""
        env = os.environ if environ is None else environ
        address = parse_notify_socket(env.get("NOTIFY_SOCKET"))
        watchdog = parse_watchdog_usec(
            env.get("WATCHDOG_USEC"), env.get("WATCHDOG_PID"), os.getpid()
        )
        return cls(address, watchdog, clock)

    @property
    def enabled(self) -> bool:
        """True when a notify socket is configured."""
        return self._address is not None

    @property
    def address(self) -> SocketAddress | None:
        """The exact address given to ``sendto`` (for the privacy guard's allow-list)."""
        return self._address

    @property
    def watchdog_seconds(self) -> float | None:
        """The watchdog timeout systemd gave us, or None when there is none."""
        return self._watchdog_seconds

    @property
    def ping_period(self) -> float | None:
        """Seconds between two watchdog pings: half the timeout, as systemd advises."""
        if self._watchdog_seconds is None:
            return None
        return self._watchdog_seconds / 2

    def ready(self, status: str | None = None) -> None:
        """Report start-up finished (camera and model open); also counts as a ping."""
        lines = ["READY=1"]
        if status is not None:
            lines.append(_status_line(status))
        if self._watchdog_seconds is not None:
            lines.append("WATCHDOG=1")
            self._last_ping = self._clock()
        self.notify("\n".join(lines))

    def ping(self) -> None:
        """Send ``WATCHDOG=1`` unless one went out less than half the interval ago."""
        period = self.ping_period
        if period is None:
            return
        now = self._clock()
        if self._last_ping is not None and now - self._last_ping < period:
            return
        self._last_ping = now
        self.notify("WATCHDOG=1")

    def status(self, text: str) -> None:
        """Set the one-line status shown by ``systemctl status``."""
        self.notify(_status_line(text))

    def stopping(self) -> None:
        """Report a clean shutdown in progress, so systemd does not count it as a hang."""
        self.notify("STOPPING=1")

    def notify(self, message: str) -> bool:
        """Send one raw sd_notify datagram; True if it was handed to the kernel."""
        if self._address is None:
            return False
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                # Never let a slow reader stall the counting loop: a ping that cannot go
                # out now is dropped, and if pings stop reaching systemd it restarts us.
                self._sock.setblocking(False)
            self._sock.sendto(message.encode(), self._address)
        except OSError as exc:
            if not self._failing:
                log.warning("sd_notify %r to %r failed: %s", message, self._address, exc)
            self._failing = True
            return False
        self._failing = False
        return True

    def close(self) -> None:
        """Close the socket; later calls reopen it."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> SystemdNotifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _status_line(text: str) -> str:
    """One ``STATUS=`` line; newlines would start a new assignment, so they are folded."""
    return "STATUS=" + " ".join(text.splitlines())
