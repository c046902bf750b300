"""Payloads of `status` and (until the privacy module provides its own) `privacy`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from edge.config import Config

ONLINE = "online"
OFFLINE = "offline"


class Status(RootModel[Literal["online", "offline"]]):
    """`status`: the bare text `online` or `offline` (not JSON-quoted); the last will."""


class BasicManifest(BaseModel):
    """`privacy`: what this sensor collects and never collects, and its privacy settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = 1
    site: str
    sensor: str
    collects: list[str] = Field(description="The only data published: anonymous counts.")
    never: list[str] = Field(description="What never leaves the process or reaches disk.")
    k: int = Field(ge=0, description="Counts below k are published as 0 (0: off).")
    bucket_seconds: int = Field(ge=1, description="Length of a counts bucket.")
    epsilon: float | None = Field(None, description="Noise budget per bucket (absent: off).")


COLLECTS = (
    "zone occupancy now",
    "cumulative line crossings in and out",
    "per-bucket line crossings and zone mean/max occupancy",
)
NEVER = (
    "images or video",
    "faces or any biometric data",
    "bounding boxes or positions",
    "track ids or any per-person identifier",
    "per-person timestamps",
)


def basic_manifest(config: Config) -> BasicManifest:
    """The manifest fields known from the config alone."""
    return BasicManifest(
        site=config.sensor.site,
        sensor=config.sensor.id,
        collects=list(COLLECTS),
        never=list(NEVER),
        k=config.privacy.k,
        bucket_seconds=config.publish.bucket_seconds,
        epsilon=config.privacy.epsilon,
    )


class ResetDone(BaseModel):
    """`reset`: what a reset command reset, published when the pipeline applies it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = 1
    site: str
    sensor: str
    boot: str = Field(description="The boot whose totals were reset.")
    id: str = Field(description="The request id of the command.")
    lines: list[str] = Field(description="The lines whose totals are now 0.")
    ts: str = Field(description="Wall time it was applied, ISO 8601 UTC with milliseconds.")
