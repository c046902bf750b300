"""The project's mosquitto config and ACL, on a real broker: who may do what."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

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
    own = "homeassistant/device/hq/door-1/config"
    assert not publish_v5(broker, lab, "door-1", own, b"{}").is_failure
    assert publish_v5(
        broker, lab, "door-1", "homeassistant/device/hq/door-2/config", b"{}"
    ).is_failure
    assert publish_v5(
        broker, lab, "door-1", "homeassistant/device/x/door-1/config", b"{}"
    ).is_failure
    # An operator can remove a sensor from Home Assistant; a dashboard cannot.
    assert not publish_v5(broker, lab, "admin", own, b"").is_failure
    assert publish_v5(broker, lab, "dashboard", own, b"").is_failure


def test_a_sensor_credential_binds_its_site_and_id(broker: Broker, lab: Lab) -> None:
    for topic in ("status", "state", "counts", "privacy", "reset"):
        assert not publish_v5(
            broker, lab, "door-1", f"headcount/hq/door-1/{topic}", b"x"
        ).is_failure
    refused = [
        "headcount/hq/door-1/cmd/reset",  # never its own commands
        "headcount/othersite/door-1/state",  # never under another site
        "headcount/hq/door-1/anything",  # only the contract's topics
        "headcount/branch/door-9/state",
    ]
    for topic in refused:
        assert publish_v5(broker, lab, "door-1", topic, b"x").is_failure, topic
    assert not publish_v5(broker, lab, "door-9", "headcount/branch/door-9/state", b"x").is_failure
    assert publish_v5(broker, lab, "door-9", "headcount/hq/door-9/state", b"x").is_failure


def test_consumers_only_read(broker: Broker, lab: Lab) -> None:
    for user in ("dashboard", "homeassistant"):
        for topic in (
            f"headcount/hq/{user}/state",  # what a `pattern` line with %u used to allow
            f"homeassistant/device/hq/{user}/config",
            f"homeassistant/device/{user}/config",
            "headcount/hq/door-1/state",
        ):
            assert publish_v5(broker, lab, user, topic, b"x").is_failure, (user, topic)


class Client:
    """A connected client that records whether the broker disconnected it."""

    def __init__(self, broker: Broker, lab: Lab, user: str, client_id: str) -> None:
        self.connack: list[mqtt.ReasonCode] = []
        self.dropped = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            reconnect_on_failure=False,
        )
        self.client.username_pw_set(user, lab.password(user))
        self.client.on_connect = lambda c, u, f, rc, p: self.connack.append(rc)
        self.client.on_disconnect = lambda c, u, f, rc, p: self.dropped.set()
        self.client.connect(broker.host, broker.plain_port)
        self.client.loop_start()
        wait_until(lambda: bool(self.connack), 10, "a CONNACK")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_no_account_can_kick_a_sensor_off_by_taking_its_client_id(broker: Broker, lab: Lab) -> None:
    sensor = Client(broker, lab, "door-1", "headcount-hq-door-1")
    assert not sensor.connack[0].is_failure
    for _ in range(3):
        intruder = Client(broker, lab, "dashboard", "headcount-hq-door-1")
        assert not intruder.connack[0].is_failure  # it may connect, as itself
        intruder.close()
    # The sensor's connection is still the same one: a QoS 1 round trip works on it.
    info = sensor.client.publish("headcount/hq/door-1/state", b"x", qos=1)
    info.wait_for_publish(10)
    assert info.is_published() and not sensor.dropped.is_set()
    sensor.close()


def test_with_client_certificates_the_certificate_is_the_identity(lab: Lab, tmp_path: Path) -> None:
    broker = Broker(lab, tmp_path / "broker", client_certs=True)
    broker.start()
    try:
        acks: list[mqtt.ReasonCode] = []
        client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
        client.tls_set(
            ca_certs=str(lab.dir / "ca.crt"),
            certfile=str(lab.dir / "clients" / "door-2.crt"),
            keyfile=str(lab.dir / "clients" / "door-2.key"),
        )
        client.username_pw_set("door-1", lab.password("door-1"))  # door-2's cert, door-1's login
        client.on_publish = lambda c, u, mid, rc, p: acks.append(rc)
        client.connect("localhost", broker.tls_port)
        client.loop_start()
        client.publish("headcount/hq/door-1/state", b"forged", qos=1)
        client.publish("headcount/hq/door-2/state", b"own", qos=1)
        wait_until(lambda: len(acks) == 2, 10, "two PUBACKs")
        client.disconnect()
        client.loop_stop()
        assert acks[0].getName() == "Not authorized"  # acts as door-2, whatever it claims
        assert not acks[1].is_failure
    finally:
        broker.stop()


def test_oversized_packets_are_refused_by_the_broker(broker: Broker, lab: Lab) -> None:
    big = Client(broker, lab, "admin", "")
    big.client.publish("headcount/hq/door-1/cmd/reset", b"x" * (300 * 1024), qos=1)
    assert big.dropped.wait(10), "the broker must disconnect a client sending 300 KiB"
    big.close()
