"""Commands the network may send, validated, and the inbox the pipeline drains each frame.

Contract (broker_config/CONTRACT.md): `cmd/reset` takes a JSON body naming the lines to
reset (or "all") and a request id; anything else (empty, whitespace, retained, unknown
lines, a repeated id) changes nothing.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

log = logging.getLogger(__name__)

MAX_COMMAND_BYTES = 1024
REQUEST_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
LineName = Annotated[str, Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]


class ResetCommand(BaseModel):
    """Payload of `cmd/reset`: reset the cumulative totals of the named lines, or all."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal["reset"] = Field(description="Always 'reset'.")
    id: str = Field(
        pattern=REQUEST_ID_PATTERN,
        description="Request id chosen by the sender; a repeated id is applied once.",
    )
    lines: Literal["all"] | list[LineName] = Field(
        description="'all', or the names of the lines to reset (at least one).",
    )


class CommandError(ValueError):
    """A command payload was refused; the message says why, without echoing the payload."""


def parse_reset(payload: bytes) -> ResetCommand:
    """Validate a reset payload (a JSON ResetCommand); CommandError says what is wrong."""
    if len(payload) > MAX_COMMAND_BYTES:
        raise CommandError(f"reset payload of {len(payload)} bytes exceeds {MAX_COMMAND_BYTES}")
    if not payload.strip():
        raise CommandError(
            'an empty payload is not a reset; send {"action": "reset", "id": ..., "lines": "all"}'
        )
    try:
        command = ResetCommand.model_validate_json(payload)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise CommandError(f"reset payload refused: {where}: {first['msg']}") from None
    if isinstance(command.lines, list) and not command.lines:
        raise CommandError('reset payload refused: lines: name at least one line, or "all"')
    return command


@dataclass(frozen=True)
class Reset:
    """A validated reset for the pipeline: the lines to reset (None: all), and its request id."""

    id: str
    lines: list[str] | None


class CommandInbox:
    """Thread-safe queue from network callbacks to the single pipeline thread.

    `on_taken` callbacks run in the pipeline thread when it drains a command, in the frame
    that applies it (the MQTT sink publishes what was reset from there).
    """

    def __init__(self, maxsize: int = 64) -> None:
        self._queue: queue.Queue[Reset] = queue.Queue(maxsize)
        self._on_taken: list[Callable[[Reset], None]] = []

    def subscribe(self, on_taken: Callable[[Reset], None]) -> None:
        self._on_taken.append(on_taken)

    def put(self, command: Reset) -> bool:
        """Queue a command; False (and nothing queued) when the inbox is full."""
        try:
            self._queue.put_nowait(command)
        except queue.Full:
            return False
        return True

    def drain(self) -> list[Reset]:
        out: list[Reset] = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                break
        for command in out:
            for callback in self._on_taken:
                callback(command)
        return out
