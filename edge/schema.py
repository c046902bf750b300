"""JSON Schema of every message on the wire, generated from the pydantic models.

Keys are topics relative to `<prefix>/<site>/<sensor>/` (and `discovery` for Home
Assistant's `<discovery_prefix>/device/<site>/<sensor>/config`); `headcount schema` prints them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from edge.commands import ResetCommand
from edge.messages import Bucket, Snapshot
from edge.mqtt.discovery import DeviceDiscovery
from edge.mqtt.payloads import ResetDone, Status
from edge.privacy.manifest import PrivacyManifest


def _schema(model: type[BaseModel], title: str, description: str) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, mode="serialization")
    schema["title"] = title
    schema["description"] = description
    return schema


def message_schemas() -> dict[str, dict[str, Any]]:
    """Topic (relative to the sensor's base topic) -> JSON Schema of its payload."""
    return {
        "state": _schema(
            Snapshot, "state", "Retained, QoS 1: zone occupancy and cumulative line totals."
        ),
        "counts": _schema(
            Bucket, "counts", "QoS 1, not retained: one closed time bucket; dedupe by (boot, seq)."
        ),
        "status": _schema(
            Status, "status", "Retained, QoS 1, plain text (not JSON): online or offline."
        ),
        "privacy": _schema(PrivacyManifest, "privacy", "Retained, QoS 1: the privacy manifest."),
        "cmd/reset": _schema(
            ResetCommand,
            "cmd/reset",
            "Subscribed, QoS 1, at most 1024 bytes, never retained: this JSON resets the "
            "named lines' totals (or all), once per request id.",
        ),
        "reset": _schema(
            ResetDone, "reset", "QoS 1, not retained: what a reset command reset, when applied."
        ),
        "discovery": _schema(
            DeviceDiscovery,
            "discovery",
            "Retained, QoS 1, on <discovery_prefix>/device/<site>/<sensor>/config: "
            "Home Assistant device discovery.",
        ),
    }
