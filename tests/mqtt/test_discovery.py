"""Home Assistant discovery as published on a real broker, checked against what HA requires."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

from edge.commands import CommandInbox, Reset
from edge.config import parse_config
from edge.messages import LineTotals, Snapshot, ZoneNow
from edge.mqtt.client import MqttSink
from tests.mqtt.conftest import Broker, Lab, Subscriber, sensor_config, wait_until
from tests.mqtt.test_broker_acl import publish_v5

TOPIC = "homeassistant/device/hq/door-1/config"
PRIVACY = "headcount/hq/door-1/privacy"
CMD = "headcount/hq/door-1/cmd/reset"
STATE = "headcount/hq/door-1/state"
STATUS = "headcount/hq/door-1/status"
# Home Assistant's device-based discovery: `device` and `origin` are required at the root,
# every component needs a `platform` and (for entities) a `unique_id`; a sensor's
# state_class is one of these; availability payloads default to online/offline.
STATE_CLASSES = {"measurement", "total", "total_increasing"}
TEMPLATE = re.compile(
    r"^\{\{ value_json((?:\.[a-z_]+|\['[A-Za-z0-9_-]+'\])+)(?: \| default\((\d+)\))? \}\}$"
)
PART = re.compile(r"\.([a-z_]+)|\['([A-Za-z0-9_-]+)'\]")


def render(template: str, state: dict[str, object]) -> object:
    """Evaluate the `{{ value_json... }}` subset of Jinja the payload uses (else fail)."""
    match = TEMPLATE.match(template)
    assert match, f"template outside the supported subset: {template}"
    value: object = state
    for attr, key in PART.findall(match.group(1)):
        assert isinstance(value, dict)
        if (attr or key) not in value and match.group(2) is not None:
            return int(match.group(2))
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
        assert component["platform"] in ("sensor", "button")
        assert component["qos"] == 1, "HA 2025.4 does not inherit the root's qos"
        assert "_hq_" in component["unique_id"] and "_hq_" in component["object_id"]
        name = component["name"]
        assert isinstance(name, str) and name[:1].isupper(), name
        if component["platform"] == "sensor" and "entity_category" not in component:
            assert component["state_class"] in STATE_CLASSES
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
    ha = subscribe("homeassistant", "homeassistant/device/#", STATE, PRIVACY)
    ha.wait_for(lambda: ha.on(TOPIC) and ha.on(STATE) and ha.on(PRIVACY), "discovery and state")
    assert all(r for t, _, r in ha.messages if t == TOPIC), "discovery must be retained"
    payload = json.loads(ha.on(TOPIC)[0])
    components = check_home_assistant_fields(payload)
    state = json.loads(ha.on(STATE)[-1])
    privacy = json.loads(ha.on(PRIVACY)[-1])
    sensors = {k: c for k, c in components.items() if c["platform"] == "sensor"}
    values = {
        c["name"]: render(
            str(c["value_template"]), privacy if c.get("state_topic") == PRIVACY else state
        )
        for c in sensors.values()
    }
    assert values == {
        "Room occupancy": 3,
        "Door in": 12,
        "Door out": 5,
        "Dropped buckets": 0,
        "Resets": 0,
        "Privacy k": 0,
        "Bucket length": 1,
        "Privacy guard": "off",
    }
    assert {c["name"]: c.get("state_class") for c in sensors.values() if "state_class" in c} == {
        "Room occupancy": "measurement",
        "Door in": "total_increasing",
        "Door out": "total_increasing",
        "Dropped buckets": "measurement",
    }
    diagnostics = {c["name"] for c in sensors.values() if c.get("entity_category")}
    assert diagnostics == {
        "Dropped buckets",
        "Resets",
        "Privacy k",
        "Bucket length",
        "Privacy guard",
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


def press(template: str) -> bytes:
    """What Home Assistant sends when the button is pressed (its template's one call)."""
    assert template.count("{{") == 1 and "{{ now().timestamp() }}" in template
    return template.replace("{{ now().timestamp() }}", str(time.time())).encode()


def test_the_reset_button_resets_once_per_press_and_ha_may_send_nothing_else(
    broker: Broker, lab: Lab, tmp_path: Path, subscribe: Callable[..., Subscriber]
) -> None:
    config = parse_config(sensor_config(broker, lab, tmp_path / "j"))  # type: ignore[arg-type]
    inbox = CommandInbox()
    sink = MqttSink(config, boot="b1", inbox=inbox)
    sink.start()
    wait_until(lambda: sink.connected, 10, "the sink to connect")
    ha = subscribe("homeassistant", "homeassistant/device/#")
    ha.wait_for(lambda: ha.on(TOPIC), "discovery")
    button = json.loads(ha.on(TOPIC)[0])["components"]["reset"]
    ha.close()  # one connection per username: the presses below log in as homeassistant
    assert button["platform"] == "button" and button["command_topic"] == CMD
    assert button["retain"] is False and button["qos"] == 1
    for _ in range(2):
        assert not publish_v5(
            broker, lab, "homeassistant", CMD, press(button["command_template"])
        ).is_failure
    got: list[Reset] = []
    wait_until(lambda: got.extend(inbox.drain()) or len(got) == 2, 10, "two presses")
    assert all(r.lines is None for r in got) and got[0].id != got[1].id
    # The ACL lets the homeassistant account send exactly that command, nothing else.
    assert publish_v5(broker, lab, "homeassistant", "headcount/hq/door-1/state", b"x").is_failure
    assert publish_v5(
        broker, lab, "homeassistant", "headcount/hq/door-1/cmd/other", b"x"
    ).is_failure
    assert publish_v5(broker, lab, "homeassistant", TOPIC, b"").is_failure
    sink.close()
