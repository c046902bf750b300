"""The project's mosquitto config and ACL, on a real broker: who may do what."""

from __future__ import annotations

import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from tests.mqtt.conftest import Broker, Lab, Subscriber, wait_until


def connack(broker: Broker, user: str | None, password: str | None) -> mqtt.ReasonCode:
    got: list[mqtt.ReasonCode] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    if user is not None:
        client.username_pw_set(user, password)
    client.on_connect = lambda c, u, f, rc, p: got.append(rc)
    client.connect(broker.host, broker.plain_port)
    client.loop_start()
    wait_until(lambda: bool(got), 10, "a CONNACK")
    client.disconnect()
    client.loop_stop()
    return got[0]


def test_anonymous_and_wrong_password_are_refused(broker: Broker, lab: Lab) -> None:
    assert connack(broker, None, None).getName() == "Not authorized"
    assert connack(broker, "door-1", "wrong").is_failure
    assert not connack(broker, "door-1", lab.password("door-1")).is_failure


def publish_v5(broker: Broker, lab: Lab, user: str, topic: str, payload: bytes) -> mqtt.ReasonCode:
    """Publish at QoS 1 with MQTT 5 and return the broker's PUBACK reason."""
    acks: list[mqtt.ReasonCode] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    client.username_pw_set(user, lab.password(user))
    client.on_publish = lambda c, u, mid, rc, p: acks.append(rc)
    client.connect(broker.host, broker.plain_port)
    client.loop_start()
    client.publish(topic, payload, qos=1)
    wait_until(lambda: bool(acks), 10, "a PUBACK")
    client.disconnect()
    client.loop_stop()
    return acks[0]


def test_a_sensor_writes_only_its_own_topics(
    broker: Broker, lab: Lab, subscribe: Callable[..., Subscriber]
) -> None:
    watcher = subscribe("admin", "headcount/#")
    own = publish_v5(broker, lab, "door-1", "headcount/hq/door-1/state", b"mine")
    other = publish_v5(broker, lab, "door-1", "headcount/hq/door-2/state", b"forged")
    assert not own.is_failure
    assert other.getName() == "Not authorized"
    watcher.wait_for(lambda: watcher.on("headcount/hq/door-1/state") == [b"mine"], "own state")
    time.sleep(0.3)
    assert watcher.on("headcount/hq/door-2/state") == []


def test_only_admin_sends_commands_and_dashboards_only_read(
    broker: Broker, lab: Lab, subscribe: Callable[..., Subscriber]
) -> None:
    sensor = subscribe("door-1", "headcount/hq/door-1/cmd/reset", "headcount/hq/door-2/#")
    assert publish_v5(broker, lab, "dashboard", "headcount/hq/door-1/cmd/reset", b"").is_failure
    assert publish_v5(broker, lab, "dashboard", "headcount/hq/door-1/state", b"x").is_failure
    assert publish_v5(broker, lab, "door-2", "headcount/hq/door-1/cmd/reset", b"").is_failure
    assert not publish_v5(broker, lab, "admin", "headcount/hq/door-1/cmd/reset", b"{}").is_failure
    sensor.wait_for(lambda: sensor.on("headcount/hq/door-1/cmd/reset") == [b"{}"], "admin reset")
    # A sensor cannot read another sensor's topics.
    assert not publish_v5(broker, lab, "door-2", "headcount/hq/door-2/state", b"s").is_failure
    time.sleep(0.3)
    assert sensor.on("headcount/hq/door-2/state") == []
    assert len(sensor.messages) == 1


def test_a_sensor_announces_only_itself_to_home_assistant(broker: Broker, lab: Lab) -> None:
    assert not publish_v5(
        broker, lab, "door-1", "homeassistant/device/door-1/config", b"{}"
    ).is_failure
    assert publish_v5(broker, lab, "door-1", "homeassistant/device/door-2/config", b"{}").is_failure
    # An operator can remove a sensor from Home Assistant; a dashboard cannot.
    assert not publish_v5(
        broker, lab, "admin", "homeassistant/device/door-1/config", b""
    ).is_failure
    assert publish_v5(
        broker, lab, "dashboard", "homeassistant/device/door-1/config", b""
    ).is_failure
