"""Home Assistant device-based MQTT discovery: one device per sensor, its entities, a button.

Published retained to `<discovery_prefix>/device/<site>/<sensor id>/config` (node id =
site, object id = sensor id, so two sites' `door-1` never meet), again whenever Home
Assistant announces `online` on `<discovery_prefix>/status`. Every component carries its
own `qos` (Home Assistant 2025.4 does not inherit the root's), an `object_id` and a
`unique_id` that include the site. Entities read the retained `state` (and `privacy`)
messages; availability follows `status`. An empty retained payload on the same topic
removes the device and its entities (broker_config/CONTRACT.md).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from edge import __version__
from edge.config import Config
from edge.mqtt.topics import Topics

QOS: Literal[1] = 1
# Home Assistant renders this when the button is pressed: a fresh request id per press.
RESET_TEMPLATE = '{"action": "reset", "id": "ha-{{ now().timestamp() }}", "lines": "all"}'


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HaDevice(_Model):
    identifiers: list[str] = Field(min_length=1)
    name: str
    manufacturer: str
    model: str
    sw_version: str


class HaOrigin(_Model):
    name: str
    sw_version: str
    support_url: str | None = None


class HaSensor(_Model):
    platform: Literal["sensor"] = "sensor"
    name: str
    object_id: str
    unique_id: str
    value_template: str
    state_class: Literal["measurement", "total_increasing"] | None = None
    unit_of_measurement: str | None = None
    icon: str
    qos: Literal[0, 1] = QOS
    entity_category: Literal["diagnostic"] | None = None
    state_topic: str | None = Field(None, description="Overrides the device's state_topic.")
    json_attributes_topic: str | None = None


class HaButton(_Model):
    platform: Literal["button"] = "button"
    name: str
    object_id: str
    unique_id: str
    command_topic: str
    command_template: str
    retain: Literal[False] = False
    qos: Literal[0, 1] = QOS
    entity_category: Literal["config"] = "config"
    icon: str


class DeviceDiscovery(_Model):
    """The device discovery payload; keys are Home Assistant's full option names."""

    device: HaDevice
    origin: HaOrigin
    components: dict[str, HaSensor | HaButton]
    state_topic: str
    availability_topic: str
    payload_available: Literal["online"] = "online"
    payload_not_available: Literal["offline"] = "offline"
    qos: Literal[0, 1] = QOS


def device_id(config: Config) -> str:
    return f"headcount_{config.sensor.site}_{config.sensor.id}"


def _title(name: str) -> str:
    """`entrance` -> `Entrance`; `lobby_2` -> `Lobby 2` (Home Assistant shows names as is)."""
    words = name.replace("_", " ").replace("-", " ").split()
    text = " ".join(words) if words else name
    return text[:1].upper() + text[1:]


def _counts(config: Config) -> dict[str, HaSensor]:
    dev = device_id(config)
    components: dict[str, HaSensor] = {}
    for zone in config.zones:
        key = f"zone_{zone.name}_occupancy"
        components[key] = HaSensor(
            name=f"{_title(zone.name)} occupancy",
            object_id=f"{dev}_{key}",
            unique_id=f"{dev}_{key}",
            value_template=f"{{{{ value_json.zones['{zone.name}'].occupancy }}}}",
            state_class="measurement",
            unit_of_measurement="people",
            icon="mdi:account-group",
        )
    for line in config.lines:
        for direction, label in (("in", "in"), ("out", "out")):
            key = f"line_{line.name}_{direction}"
            components[key] = HaSensor(
                name=f"{_title(line.name)} {label}",
                object_id=f"{dev}_{key}",
                unique_id=f"{dev}_{key}",
                value_template=f"{{{{ value_json.lines['{line.name}']['{direction}'] }}}}",
                state_class="total_increasing",
                unit_of_measurement="people",
                icon="mdi:login" if direction == "in" else "mdi:logout",
            )
    return components


def _diagnostics(config: Config, topics: Topics) -> dict[str, HaSensor | HaButton]:
    dev = device_id(config)

    def diagnostic(key: str, name: str, template: str, **extra: object) -> HaSensor:
        return HaSensor.model_validate(
            {
                "name": name,
                "object_id": f"{dev}_{key}",
                "unique_id": f"{dev}_{key}",
                "value_template": template,
                "entity_category": "diagnostic",
                **extra,
            }
        )

    return {
        "dropped": diagnostic(
            "dropped",
            "Dropped buckets",
            "{{ value_json.dropped | default(0) }}",
            state_class="measurement",
            icon="mdi:database-alert",
        ),
        "resets": diagnostic(
            "resets", "Resets", "{{ value_json.resets | default(0) }}", icon="mdi:restore"
        ),
        "privacy_k": diagnostic(
            "privacy_k",
            "Privacy k",
            "{{ value_json.k }}",
            state_topic=topics.privacy,
            icon="mdi:shield-account",
        ),
        "privacy_bucket": diagnostic(
            "privacy_bucket",
            "Bucket length",
            "{{ value_json.bucket_seconds }}",
            state_topic=topics.privacy,
            unit_of_measurement="s",
            icon="mdi:timer-outline",
        ),
        "privacy_guard": diagnostic(
            "privacy_guard",
            "Privacy guard",
            "{{ value_json.guard }}",
            state_topic=topics.privacy,
            json_attributes_topic=topics.privacy,
            icon="mdi:shield-lock",
        ),
        "reset": HaButton(
            name="Reset totals",
            object_id=f"{dev}_reset",
            unique_id=f"{dev}_reset",
            command_topic=topics.cmd_reset,
            command_template=RESET_TEMPLATE,
            icon="mdi:restore-alert",
        ),
    }


def build_discovery(config: Config) -> DeviceDiscovery:
    """Zones (measurement), line directions (total_increasing), diagnostics, a reset button."""
    topics = Topics.for_config(config)
    dev = device_id(config)
    components: dict[str, HaSensor | HaButton] = dict(_counts(config))
    components.update(_diagnostics(config, topics))
    return DeviceDiscovery(
        device=HaDevice(
            identifiers=[dev],
            name=f"Headcount {config.sensor.site} {config.sensor.id}",
            manufacturer="headcount",
            model="edge people counter",
            sw_version=__version__,
        ),
        origin=HaOrigin(name="headcount", sw_version=__version__),
        components=components,
        state_topic=topics.state,
        availability_topic=topics.status,
    )
