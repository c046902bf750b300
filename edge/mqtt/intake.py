"""Command intake: `cmd/reset` messages from the broker, checked before the pipeline sees them.

Ignored, each with a rate-limited log line that never echoes the payload: retained
messages (a stale command must never act again, and clearing one sends an empty retained
message), empty or whitespace payloads, invalid JSON, unknown lines, a request id already
seen, and anything beyond the rate limit. Accepted resets go to the pipeline's inbox.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence

from edge.commands import CommandError, CommandInbox, Reset, parse_reset
from edge.mqtt.throttle import ThrottledLog, TokenBucket

log = logging.getLogger(__name__)

REMEMBERED_IDS = 256
COMMANDS_PER_SECOND = 1.0
COMMAND_BURST = 5


class CommandIntake:
    """Turns `cmd/reset` payloads into `Reset`s for the inbox; called from paho's thread."""

    def __init__(
        self,
        inbox: CommandInbox,
        lines: Sequence[str],
        *,
        throttle: ThrottledLog | None = None,
        rate: TokenBucket | None = None,
    ) -> None:
        self._inbox = inbox
        self._lines = list(lines)
        self._log = throttle if throttle is not None else ThrottledLog(log, interval=60.0)
        self._rate = rate if rate is not None else TokenBucket(COMMANDS_PER_SECOND, COMMAND_BURST)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.handled = 0  # messages looked at, accepted or not

    def on_reset(self, payload: bytes, *, retained: bool) -> bool:
        """Check one message; True if a reset was queued for the pipeline."""
        self.handled += 1
        if retained:
            self._log.warning(
                "retained", "ignored a retained reset command; publish resets without retain"
            )
            return False
        reset = self._parse(payload)
        if reset is None or not self._fresh(reset.id) or not self._allowed():
            return False
        if not self._inbox.put(reset):
            self._log.warning("full", "ignored a reset command: the inbox is full")
            return False
        self._remember(reset.id)
        log.info("reset command %s accepted", reset.id)
        return True

    def _parse(self, payload: bytes) -> Reset | None:
        try:
            command = parse_reset(payload)
        except CommandError as error:
            self._log.warning("invalid", "ignored a reset command: %s", error)
            return None
        if command.lines == "all":
            return Reset(id=command.id, lines=None)
        unknown = [name for name in command.lines if name not in self._lines]
        if unknown:
            self._log.warning(
                "unknown",
                "ignored a reset command that names %d line(s) this sensor does not have; "
                "its lines are: %s",
                len(unknown),
                ", ".join(self._lines) or "none",
            )
            return None
        return Reset(id=command.id, lines=list(dict.fromkeys(command.lines)))

    def _fresh(self, request_id: str) -> bool:
        if request_id in self._seen:
            self._log.info("repeat", "ignored a reset command whose id was already applied")
            return False
        return True

    def _allowed(self) -> bool:
        if self._rate.take():
            return True
        self._log.warning(
            "rate",
            "ignored a reset command: more than %d at once or %g a second",
            COMMAND_BURST,
            COMMANDS_PER_SECOND,
        )
        return False

    def _remember(self, request_id: str) -> None:
        self._seen[request_id] = None
        while len(self._seen) > REMEMBERED_IDS:
            self._seen.popitem(last=False)
