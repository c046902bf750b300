"""Payload of `status`; the `privacy` manifest is `edge.privacy.manifest.PrivacyManifest`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

ONLINE = "online"
OFFLINE = "offline"


class Status(RootModel[Literal["online", "offline"]]):
    """`status`: the bare text `online` or `offline` (not JSON-quoted); the last will."""


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
