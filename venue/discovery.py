"""Home Assistant device discovery for a venue: occupancy, capacity, alert level, a reset button.

Published retained to `<discovery_prefix>/device/venue/<venue>/config` (node id `venue`)
whenever the venue server connects and when Home Assistant announces `online`. Entities
read the venue's retained `state`; availability follows the venue's `status`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from venue.config import VenueConfig
from venue.ingest import Topics


def _version() -> str:
    try:
        return version("headcount")
    except PackageNotFoundError:
        return "0"


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


class HaVenueSensor(_Model):
    platform: Literal["sensor"] = "sensor"
    name: str
    unique_id: str
    value_template: str
    state_class: Literal["measurement"] | None = None
    unit_of_measurement: str | None = None
    icon: str


class HaVenueButton(_Model):
    platform: Literal["button"] = "button"
    name: str
    unique_id: str
    command_topic: str
    payload_press: str
    icon: str


class VenueDiscovery(_Model):
    """The venue's device discovery payload; keys are Home Assistant's option names."""

    device: HaDevice
    origin: HaOrigin
    components: dict[str, HaVenueSensor | HaVenueButton]
    state_topic: str
    availability_topic: str
    payload_available: Literal["online"] = "online"
    payload_not_available: Literal["offline"] = "offline"
    qos: Literal[0, 1] = 1


def discovery_topic(config: VenueConfig) -> str:
    return f"{config.mqtt.discovery_prefix}/device/venue/{config.venue.name}/config"


def build_discovery(config: VenueConfig) -> VenueDiscovery:
    topics = Topics(config.mqtt.topic_prefix, config.venue.site, config.venue.name)
    dev = f"headcount_venue_{config.venue.site}_{config.venue.name}"

    def sensor(key: str, name: str, template: str, icon: str, numeric: bool) -> HaVenueSensor:
        return HaVenueSensor(
            name=name,
            unique_id=f"{dev}_{key}",
            value_template=template,
            state_class="measurement" if numeric else None,
            unit_of_measurement="people" if numeric else None,
            icon=icon,
        )

    components: dict[str, HaVenueSensor | HaVenueButton] = {
        "occupancy": sensor(
            "occupancy", "occupancy", "{{ value_json.occupancy }}", "mdi:account-group", True
        ),
        "capacity": sensor(
            "capacity", "capacity", "{{ value_json.capacity }}", "mdi:account-multiple-check", True
        ),
        "level": sensor("level", "alert level", "{{ value_json.level }}", "mdi:alert", False),
        "reset": HaVenueButton(
            name="reset occupancy",
            unique_id=f"{dev}_reset",
            command_topic=topics.command("reset"),
            payload_press='{"action":"reset"}',
            icon="mdi:restart",
        ),
    }
    return VenueDiscovery(
        device=HaDevice(
            identifiers=[dev],
            name=f"headcount venue {config.venue.site}/{config.venue.name}",
            manufacturer="headcount",
            model="venue server",
            sw_version=_version(),
        ),
        origin=HaOrigin(name="headcount", sw_version=_version()),
        components=components,
        state_topic=topics.state,
        availability_topic=topics.status,
    )
