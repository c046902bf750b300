"""Commands the network may send, validated, and the inbox the pipeline drains each frame."""

from __future__ import annotations

import logging
import queue
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

log = logging.getLogger(__name__)

MAX_COMMAND_BYTES = 1024


class ResetCommand(BaseModel):
    """Payload of `cmd/reset`: reset the cumulative line totals (all lines, or the named ones)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal["reset"] = "reset"
    lines: list[str] | None = Field(
        None, max_length=64, description="Lines to reset; all if absent."
    )


class CommandError(ValueError):
    """A command payload was refused; the message says why, without echoing the payload."""


def parse_reset(payload: bytes) -> ResetCommand:
    """Validate a reset payload: empty means reset all, else a JSON ResetCommand."""
    if len(payload) > MAX_COMMAND_BYTES:
        raise CommandError(f"reset payload of {len(payload)} bytes exceeds {MAX_COMMAND_BYTES}")
    if not payload.strip():
        return ResetCommand()
    try:
        return ResetCommand.model_validate_json(payload)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise CommandError(f"reset payload refused: {where}: {first['msg']}") from None


class CommandInbox:
    """Thread-safe queue from network callbacks to the single pipeline thread."""

    def __init__(self, maxsize: int = 64) -> None:
        self._queue: queue.Queue[ResetCommand] = queue.Queue(maxsize)

    def put(self, command: ResetCommand) -> None:
        try:
            self._queue.put_nowait(command)
        except queue.Full:
            log.warning("command inbox full; a reset command was dropped")

    def drain(self) -> list[ResetCommand]:
        out: list[ResetCommand] = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out
