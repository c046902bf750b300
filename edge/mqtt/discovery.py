"""Home Assistant device-based MQTT discovery: one device, one sensor entity per count.

Published retained to `<discovery_prefix>/device/<sensor id>/config`, again whenever Home
Assistant announces `online` on `<discovery_prefix>/status`. Entities read the retained
`state` message; availability follows `status`. An empty retained payload on the same
topic removes the device and its entities (broker_config/CONTRACT.md).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from edge import __version__
from edge.config import Config
from edge.mqtt.topics import Topics


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
    unique_id: str
    value_template: str
    state_class: Literal["measurement", "total_increasing"]
    unit_of_measurement: str = "people"
    icon: str


class DeviceDiscovery(_Model):
    """The device discovery payload; keys are Home Assistant's full option names."""

    device: HaDevice
    origin: HaOrigin
    components: dict[str, HaSensor]
    state_topic: str
    availability_topic: str
    payload_available: Literal["online"] = "online"
    payload_not_available: Literal["offline"] = "offline"
    qos: Literal[0, 1] = 1


def device_id(config: Config) -> str:
    return f"headcount_{config.sensor.site}_{config.sensor.id}"


def build_discovery(config: Config) -> DeviceDiscovery:
    """One `measurement` sensor per zone, one `total_increasing` sensor per line direction."""
    topics = Topics.for_config(config)
    dev = device_id(config)
    components: dict[str, HaSensor] = {}
    for zone in config.zones:
        key = f"zone_{zone.name}_occupancy"
        components[key] = HaSensor(
            name=f"{zone.name} occupancy",
            unique_id=f"{dev}_{key}",
            value_template=f"{{{{ value_json.zones['{zone.name}'].occupancy }}}}",
            state_class="measurement",
            icon="mdi:account-group",
        )
    for line in config.lines:
        for direction in ("in", "out"):
            key = f"line_{line.name}_{direction}"
            components[key] = HaSensor(
                name=f"{line.name} {direction}",
                unique_id=f"{dev}_{key}",
                value_template=f"{{{{ value_json.lines['{line.name}']['{direction}'] }}}}",
                state_class="total_increasing",
                icon="mdi:login" if direction == "in" else "mdi:logout",
            )
    return DeviceDiscovery(
        device=HaDevice(
            identifiers=[dev],
            name=f"headcount {config.sensor.site}/{config.sensor.id}",
            manufacturer="headcount",
            model="edge people counter",
            sw_version=__version__,
        ),
        origin=HaOrigin(name="headcount", sw_version=__version__),
        components=components,
        state_topic=topics.state,
        availability_topic=topics.status,
    )
