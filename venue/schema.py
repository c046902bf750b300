"""JSON Schema of the venue's messages, for `headcount schema` (entry point headcount.schemas).

Keys are `venue/...` topics relative to `<prefix>/<site>/venue/<venue>/`, and
`venue/discovery` for `<discovery_prefix>/device/venue/<venue>/config`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from venue.discovery import VenueDiscovery
from venue.messages import AdjustCommand, ResetCommand, VenueAlert, VenueState


def _schema(model: type[BaseModel], title: str, description: str) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, mode="serialization")
    schema["title"] = title
    schema["description"] = description
    return schema


def message_schemas() -> dict[str, dict[str, Any]]:
    return {
        "venue/state": _schema(
            VenueState, "venue/state", "Retained, QoS 1: the venue's occupancy, entrances, areas."
        ),
        "venue/alert": _schema(
            VenueAlert, "venue/alert", "Retained, QoS 1: the capacity level, on every change."
        ),
        "venue/status": {
            "title": "venue/status",
            "description": "Retained, QoS 1, plain text: online or offline (the last will).",
            "enum": ["online", "offline"],
        },
        "venue/cmd/reset": _schema(
            ResetCommand, "venue/cmd/reset", "Subscribed, QoS 1: empty or this: occupancy to 0."
        ),
        "venue/cmd/adjust": _schema(
            AdjustCommand, "venue/cmd/adjust", "Subscribed, QoS 1: add delta people."
        ),
        "venue/discovery": _schema(
            VenueDiscovery,
            "venue/discovery",
            "Retained, QoS 1, on <discovery_prefix>/device/venue/<venue>/config.",
        ),
    }
