"""Home Assistant discovery as published on a real broker, checked against what HA requires."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from edge.commands import CommandInbox
from edge.config import parse_config
from edge.messages import LineTotals, Snapshot, ZoneNow
from edge.mqtt.client import MqttSink
from tests.mqtt.conftest import Broker, Lab, Subscriber, sensor_config, wait_until

TOPIC = "homeassistant/device/door-1/config"
STATE = "headcount/hq/door-1/state"
STATUS = "headcount/hq/door-1/status"
# Home Assistant's device-based discovery: `device` and `origin` are required at the root,
# every component needs a `platform` and (for entities) a `unique_id`; a sensor's
# state_class is one of these; availability payloads default to online/offline.
STATE_CLASSES = {"measurement", "total", "total_increasing"}
TEMPLATE = re.compile(r"^\{\{ value_json((?:\.[a-z_]+|\['[A-Za-z0-9_-]+'\])+) \}\}$")
PART = re.compile(r"\.([a-z_]+)|\['([A-Za-z0-9_-]+)'\]")


def render(template: str, state: dict[str, object]) -> object:
    """Evaluate the `{{ value_json... }}` subset of Jinja the payload uses (else fail)."""
    match = TEMPLATE.match(template)
    assert match, f"template outside the supported subset: {template}"
    value: object = state
    for attr, key in PART.findall(match.group(1)):
        assert isinstance(value, dict)
        value = value[attr or key]
    return value


def check_home_assistant_fields(payload: dict[str, object]) -> dict[str, dict[str, object]]:
    device, origin, components = payload["device"], payload["origin"], payload["components"]
    assert isinstance(device, dict) and device["identifiers"] and device["name"]
    assert isinstance(origin, dict) and origin["name"]
    assert isinstance(components, dict) and components
    ids = [c["unique_id"] for c in components.values()]
    assert len(ids) == len(set(ids)), "unique_id must be unique"
    for key, component in components.items():
        assert re.fullmatch(r"[A-Za-z0-9_-]+", key)
        assert component["platform"] == "sensor"
        assert component["state_class"] in STATE_CLASSES
        assert component["name"]
    assert payload["state_topic"] == STATE
    assert payload["availability_topic"] == STATUS
    assert payload["payload_available"] == "online"
    assert payload["payload_not_available"] == "offline"
    return components


def test_discovery_is_retained_complete_and_renders_the_state(
    broker: Broker, lab: Lab, tmp_path: Path, subscribe: Callable[..., Subscriber]
) -> None:
    config = parse_config(sensor_config(broker, lab, tmp_path / "j"))  # type: ignore[arg-type]
    sink = MqttSink(config, boot="b1", inbox=CommandInbox())
    sink.start()
    wait_until(lambda: sink.connected, 10, "the sink to connect")
    sink.publish_snapshot(
        Snapshot(
            site="hq",
            sensor="door-1",
            ts="2026-11-28T15:00:00.000Z",
            boot="b1",
            seq=1,
            frame=1,
            zones={"room": ZoneNow(occupancy=3)},
            lines={"door": LineTotals(in_=12, out=5)},
        )
    )
    ha = subscribe("homeassistant", "homeassistant/device/#", STATE)
    ha.wait_for(lambda: ha.on(TOPIC) and ha.on(STATE), "discovery and state")
    assert all(r for t, _, r in ha.messages if t == TOPIC), "discovery must be retained"
    payload = json.loads(ha.on(TOPIC)[0])
    components = check_home_assistant_fields(payload)
    state = json.loads(ha.on(STATE)[-1])
    values = {
        c["name"]: (render(str(c["value_template"]), state), c["state_class"])
        for c in components.values()
    }
    assert values == {
        "room occupancy": (3, "measurement"),
        "door in": (12, "total_increasing"),
        "door out": (5, "total_increasing"),
    }
    # Home Assistant restarts and says so: the sensor announces itself again.
    count = len(ha.on(TOPIC))
    ha.client.publish("homeassistant/status", b"online", qos=1)
    ha.wait_for(lambda: len(ha.on(TOPIC)) > count, "a re-announcement")
    sink.close()


def test_discovery_can_be_turned_off(
    broker: Broker, lab: Lab, tmp_path: Path, subscribe: Callable[..., Subscriber]
) -> None:
    doc = sensor_config(broker, lab, tmp_path / "j", extra_mqtt={"discovery": False})
    sink = MqttSink(parse_config(doc), boot="b1", inbox=CommandInbox())
    ha = subscribe("homeassistant", "homeassistant/#", STATUS)
    sink.start()
    wait_until(lambda: sink.connected, 10, "the sink to connect")
    sink.close()
    ha.wait_for(lambda: ha.on(STATUS) == [b"online", b"offline"], "status")
    assert ha.on(TOPIC) == []
