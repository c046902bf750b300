"""Sensor messages as they arrive: routed by topic, size-checked, validated by the contract.

A message that is oversized, not JSON, of the wrong shape or about another sensor than
its topic names is refused with a short reason (for one log line and a metric); it can
never raise past this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import ValidationError

from edge.messages import Bucket, Snapshot

MAX_SENSOR_BYTES = 64 * 1024
Kind = Literal["state", "counts", "status", "cmd"]


class MessageError(ValueError):
    """A message was refused; `reason` is a short label for the metric."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class Route:
    """What a topic is: a sensor's state/counts/status, or a command to this venue."""

    kind: Kind
    sensor: str
    name: str = ""


class Topics:
    """The topics of one venue and of the site's sensors under `<prefix>/<site>/`."""

    def __init__(self, prefix: str, site: str, venue: str) -> None:
        self.site_base = f"{prefix}/{site}"
        self.base = f"{prefix}/{site}/venue/{venue}"

    @property
    def state(self) -> str:
        return f"{self.base}/state"

    @property
    def alert(self) -> str:
        return f"{self.base}/alert"

    @property
    def status(self) -> str:
        return f"{self.base}/status"

    @property
    def commands(self) -> str:
        return f"{self.base}/cmd/+"

    def command(self, name: str) -> str:
        return f"{self.base}/cmd/{name}"

    def sensor_filters(self) -> list[str]:
        return [f"{self.site_base}/+/{kind}" for kind in ("state", "counts", "status")]

    def route(self, topic: str) -> Route | None:
        """The route of a topic, or None for topics this venue does not read."""
        if topic.startswith(self.base + "/cmd/"):
            return Route("cmd", "", topic.rsplit("/", 1)[1])
        head, _, rest = topic.partition(self.site_base + "/")
        if head or rest.count("/") != 1:
            return None
        sensor, kind = rest.split("/")
        if kind in ("state", "counts", "status") and sensor != "venue":
            return Route(kind, sensor)  # type: ignore[arg-type]
        return None


def _check_size(payload: bytes) -> None:
    if len(payload) > MAX_SENSOR_BYTES:
        raise MessageError("oversized", f"{len(payload)} bytes (limit {MAX_SENSOR_BYTES})")


def _describe(error: ValidationError) -> str:
    """The first problem's place and kind; a key from the payload is shown escaped and cut."""
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "payload"
    return f"{where[:60]!r}: {first['msg']}"


def parse_state(payload: bytes, sensor: str, site: str) -> Snapshot:
    _check_size(payload)
    try:
        message = Snapshot.model_validate_json(payload)
    except ValidationError as error:
        raise MessageError("invalid", _describe(error)) from None
    _check_origin(message.sensor, message.site, sensor, site)
    return message


def parse_bucket(payload: bytes, sensor: str, site: str) -> Bucket:
    _check_size(payload)
    try:
        message = Bucket.model_validate_json(payload)
    except ValidationError as error:
        raise MessageError("invalid", _describe(error)) from None
    _check_origin(message.sensor, message.site, sensor, site)
    epoch(message.start)
    return message


def parse_status(payload: bytes) -> bool:
    """True for `online`, False for `offline` (anything else is refused)."""
    _check_size(payload)
    text = payload.strip()
    if text in (b"online", b"offline"):
        return text == b"online"
    raise MessageError("invalid", "status is neither 'online' nor 'offline'")


def _check_origin(said_sensor: str, said_site: str, sensor: str, site: str) -> None:
    if said_sensor != sensor or said_site != site:
        raise MessageError(
            "wrong_origin", "the payload names another sensor or site than its topic"
        )


def epoch(iso: str) -> float:
    """Epoch seconds of a contract timestamp such as 2026-11-28T15:00:00Z."""
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise MessageError("invalid", "a timestamp is not ISO 8601") from None
