"""Rate limits for what the network can provoke: log lines and commands.

A flood of bad or refused messages must not flood the log (journald on an SD card) nor
take the counting loop's time: each kind of event is logged at most once per interval,
with how many like it were not logged; commands pass a token bucket.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Kind:
    last: float
    unsaid: int = 0
    total: int = 0


class ThrottledLog:
    """Logs each kind of event at most once per `interval` seconds; counts the rest."""

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._interval = interval
        self._clock = clock
        self._kinds: dict[str, _Kind] = {}
        self._lock = threading.Lock()

    def warning(self, kind: str, message: str, *args: object) -> None:
        self._emit(logging.WARNING, kind, message, *args)

    def info(self, kind: str, message: str, *args: object) -> None:
        self._emit(logging.INFO, kind, message, *args)

    def total(self, kind: str) -> int:
        """How many events of this kind happened (logged or not)."""
        with self._lock:
            state = self._kinds.get(kind)
            return state.total if state is not None else 0

    def _emit(self, level: int, kind: str, message: str, *args: object) -> None:
        now = self._clock()
        with self._lock:
            state = self._kinds.get(kind)
            if state is not None and now - state.last < self._interval:
                state.unsaid += 1
                state.total += 1
                return
            unsaid = state.unsaid if state is not None else 0
            total = state.total + 1 if state is not None else 1
            self._kinds[kind] = _Kind(last=now, total=total)
        if unsaid:
            message += f" ({unsaid} more like this since the last such line, not logged)"
        self._log.log(level, message, *args)


class TokenBucket:
    """Allows `burst` events at once and `rate` per second after that."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._last = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
            self._last = now
            if self._tokens < 1.0:
                return False
            self._tokens -= 1.0
            return True
