"""Every message the sensor publishes, as pydantic models (DESIGN.md section 4.2).

Only these models are ever serialized for output; unknown keys are refused both ways,
so the published keys are a fixed whitelist of aggregates.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION: Literal[1] = 1

Count = Annotated[int, Field(ge=0)]


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def to_json(self) -> str:
        """Compact JSON with the contract's key names."""
        return self.model_dump_json(by_alias=True, exclude_none=True)


class LineTotals(Message):
    in_: Count = Field(alias="in", description="People who crossed into the inside.")
    out: Count = Field(description="People who crossed out.")


class ZoneNow(Message):
    occupancy: Count = Field(description="People whose feet are inside the zone now.")
    suppressed: bool | None = Field(
        None, description="True when a count below k was published as 0."
    )


class Snapshot(Message):
    """The current state: zone occupancy and cumulative line totals since `boot`."""

    v: Literal[1] = SCHEMA_VERSION
    site: str
    sensor: str
    ts: str = Field(description="Frame time, ISO 8601 UTC with milliseconds.")
    boot: str = Field(description="Random id of this run; totals count from it.")
    seq: Count = Field(description="Grows by one per message of a boot.")
    frame: Count = Field(description="Source frame index (files: decode index from 0).")
    zones: dict[str, ZoneNow]
    lines: dict[str, LineTotals]
    resets: Count | None = Field(None, description="Totals resets since boot.")
    dropped: Count | None = Field(None, description="Buckets dropped by a full journal.")


class ZoneStats(Message):
    mean: float = Field(ge=0, description="Mean occupancy over the bucket's frames.")
    max: Count = Field(description="Largest occupancy in the bucket.")
    suppressed: bool | None = None


class Bucket(Message):
    """A closed time bucket: per-line crossings in it, per-zone mean and max."""

    v: Literal[1] = SCHEMA_VERSION
    site: str
    sensor: str
    boot: str
    seq: Count
    start: str
    end: str
    lines: dict[str, LineTotals]
    zones: dict[str, ZoneStats]
    noise: bool | None = Field(None, description="True when line counts carry DP noise.")


def iso_ms(ts: float) -> str:
    """ISO 8601 UTC with milliseconds, e.g. 2026-11-28T15:00:00.100Z."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def iso_s(ts: float) -> str:
    """ISO 8601 UTC to the second, e.g. 2026-11-28T15:01:00Z."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
