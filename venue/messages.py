"""What the venue server publishes and accepts, as pydantic models (the contract's venue part).

Topics live under `<prefix>/<site>/venue/<venue>/` (broker_config/CONTRACT.md):
`state` and `alert` (retained, QoS 1), `cmd/reset` and `cmd/adjust` (subscribed).
Every payload is a closed object; counts only.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_COMMAND_BYTES = 1024
Count = Annotated[int, Field(ge=0)]
Level = Literal["ok", "warn", "full"]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def to_json(self) -> str:
        """Compact JSON with the contract's key names."""
        return self.model_dump_json(by_alias=True, exclude_none=True)


class EntranceToday(_Message):
    sensor: str
    line: str
    in_: Count = Field(alias="in", description="People who came in through this door today.")
    out: Count = Field(description="People who went out through this door today.")


class AreaNow(_Message):
    occupancy: Count = Field(description="Σ of the area's sensor zones now.")


class SensorStatus(_Message):
    online: bool = Field(description="The sensor's `status` is online.")
    last_seen: str | None = Field(None, description="When its last message arrived (UTC).")
    stale: bool = Field(False, description="Online but silent longer than stale_seconds.")


class VenueState(_Message):
    """`state`: the venue's occupancy now, per entrance today, per area, per sensor."""

    v: Literal[1] = 1
    site: str
    venue: str
    ts: str = Field(description="When this figure was made, ISO 8601 UTC with milliseconds.")
    day: str = Field(description="The venue's day (local date of its last daily reset).")
    occupancy: Count = Field(description="People inside now: raw_occupancy, never below 0.")
    raw_occupancy: int = Field(description="Σ over entrances of (in - out) + adjustments.")
    adjust: int = Field(description="Manual adjustments today (included in raw_occupancy).")
    capacity: Count
    warn: Count
    level: Level
    uncertain: bool = Field(description="A sensor of an entrance is offline, stale or unseen.")
    entrances: dict[str, EntranceToday] = Field(description="Key: '<sensor>/<line>'.")
    areas: dict[str, AreaNow]
    sensors: dict[str, bool] = Field(description="Sensor id -> online (its last will says so).")
    sensor_status: dict[str, SensorStatus] = Field(
        description="Sensor id -> online, last message, silent too long."
    )


class VenueAlert(_Message):
    """`alert`: the capacity level, published (retained) when it changes."""

    v: Literal[1] = 1
    site: str
    venue: str
    ts: str
    level: Level
    previous: Level | None = None
    occupancy: Count
    capacity: Count
    warn: Count


class ResetCommand(_Message):
    """`cmd/reset`: empty, or this; starts the venue's count afresh (occupancy 0)."""

    action: Literal["reset"] = "reset"


class AdjustCommand(_Message):
    """`cmd/adjust`: add `delta` people to the occupancy (negative: remove)."""

    action: Literal["adjust"] = "adjust"
    delta: int = Field(ge=-100_000, le=100_000, description="People to add (or remove).")


class CommandError(ValueError):
    """A command was refused; the message says why without echoing the payload."""


def parse_command(kind: str, payload: bytes) -> ResetCommand | AdjustCommand:
    """Validate a venue command payload for topic `cmd/<kind>`."""
    if len(payload) > MAX_COMMAND_BYTES:
        raise CommandError(f"{kind} payload of {len(payload)} bytes exceeds {MAX_COMMAND_BYTES}")
    try:
        if kind == "reset":
            return (
                ResetCommand() if not payload.strip() else ResetCommand.model_validate_json(payload)
            )
        if kind == "adjust":
            return AdjustCommand.model_validate_json(payload)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise CommandError(f"{kind} payload refused: {where[:60]!r}: {first['msg']}") from None
    raise CommandError(f"unknown venue command {kind!r}; use cmd/reset or cmd/adjust")
