"""A full disk, TLS mistakes and refused publishes, against a real mosquitto (items 1, 11)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge.commands import CommandInbox
from edge.config import parse_config
from edge.journal import Journal
from edge.mqtt.client import MqttSink
from tests.journal.disk import FullDisk, full_disk
from tests.mqtt.conftest import Broker, Lab, Subscriber, sensor_config, wait_until
from tests.mqtt.test_sink import bucket, keys

BASE = "headcount/hq/door-1"


@pytest.fixture
def disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FullDisk]:
    with full_disk(tmp_path, monkeypatch) as d:
        yield d


def test_a_full_disk_never_stops_delivery(
    broker: Broker,
    lab: Lab,
    disk: FullDisk,
    subscribe: Callable[..., Subscriber],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A persistent session: the broker keeps it (and queues for it) across its restart.
    watcher = subscribe("dashboard", f"{BASE}/counts", client_id="c", persistent=True)
    config = parse_config(sensor_config(broker, lab, disk.path))  # type: ignore[arg-type]
    sink = MqttSink(config, boot="b1", inbox=CommandInbox())
    sink.start()
    wait_until(lambda: sink.connected, 30, "the sink to connect")
    disk.fill()
    with caplog.at_level(logging.WARNING):
        for s in range(1, 301):  # enough acks to make the journal compact on the full disk
            sink.publish_bucket(bucket("b1", s))
        # at least 300: a duplicate would fail the exact comparison below, naming the buckets
        watcher.wait_for(lambda: len(watcher.on(f"{BASE}/counts")) >= 300, "every bucket", 60)
        wait_until(lambda: sink.pending == 0, 30, "every ack")
    assert keys(watcher.json_on(f"{BASE}/counts")) == [("b1", s) for s in range(1, 301)]
    assert "Traceback" not in caplog.text and "Exception" not in caplog.text
    broker.stop()  # an outage while the disk is still full: buckets wait in memory
    wait_until(lambda: not sink.connected, 30, "the outage")
    for s in range(301, 306):
        sink.publish_bucket(bucket("b1", s))
    assert sink.pending == 5
    disk.free()
    broker.start()
    wait_until(lambda: sink.connected, 60, "the reconnect")
    sink.publish_bucket(bucket("b1", 306))
    everything = {("b1", s) for s in range(1, 307)}
    watcher.wait_for(
        lambda: set(keys(watcher.json_on(f"{BASE}/counts"))) == everything, "the held ones", 60
    )
    sink.close()
    again = Journal(disk.path)
    assert (len(again), again.dropped) == (0, 0)
    again.close()


def test_plain_mqtt_to_the_tls_port_is_one_sentence(
    broker: Broker, lab: Lab, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    doc = sensor_config(broker, lab, tmp_path / "j", extra_mqtt={"port": broker.tls_port})
    sink = MqttSink(parse_config(doc), boot="b1", inbox=CommandInbox())  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger="edge.mqtt"):
        sink.start()
        wait_until(lambda: "expects TLS" in caplog.text, 60, "the diagnosis")
        wait_until(lambda: "retrying" in caplog.text, 60, "a retry")
    sink.close()
    assert "does not support MQTT 5" not in caplog.text
    assert caplog.text.count("expects TLS") == 1


def test_a_missing_client_certificate_is_one_sentence(
    lab: Lab, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker = Broker(lab, tmp_path / "broker", client_certs=True)
    broker.start()
    try:
        tls = {"ca": str(lab.dir / "ca.crt")}
        extra = {"host": "localhost", "port": broker.tls_port, "tls": tls}
        doc = sensor_config(broker, lab, tmp_path / "j", extra_mqtt=extra)
        sink = MqttSink(parse_config(doc), boot="b1", inbox=CommandInbox())  # type: ignore[arg-type]
        with caplog.at_level(logging.INFO, logger="edge.mqtt"):
            sink.start()
            wait_until(lambda: "requires a client certificate" in caplog.text, 60, "diagnosis")
        sink.close()
    finally:
        broker.stop()
    assert caplog.text.count("requires a client certificate") == 1
    assert "does not support MQTT 5" not in caplog.text


def test_a_refused_publish_is_logged_once_and_counted(
    broker: Broker, lab: Lab, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # door-2's credentials for door-1's topics: every publish is refused by the ACL.
    doc = sensor_config(broker, lab, tmp_path / "j")
    doc["mqtt"]["username"] = "door-2"  # type: ignore[index]
    doc["mqtt"]["password_file"] = str(lab.password_file("door-2"))  # type: ignore[index]
    doc["mqtt"]["protocol"] = "5"  # type: ignore[index]
    sink = MqttSink(parse_config(doc), boot="b1", inbox=CommandInbox())  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="edge.mqtt"):
        sink.start()
        wait_until(lambda: sink.connected, 30, "the sink to connect")
        for s in range(1, 41):
            sink.publish_bucket(bucket("b1", s))
        wait_until(lambda: sink.refused >= 40, 30, "forty refusals")
    sink.close()
    assert caplog.text.count("refused a publish") == 1
    assert len(Journal(tmp_path / "j")) == 40  # kept for a broker that accepts them


def test_a_flood_of_commands_is_rate_limited_and_logged_a_few_times(
    broker: Broker,
    lab: Lab,
    tmp_path: Path,
    subscribe: Callable[..., Subscriber],
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbox = CommandInbox()
    sink = MqttSink(
        parse_config(sensor_config(broker, lab, tmp_path / "j")),  # type: ignore[arg-type]
        boot="b1",
        inbox=inbox,
    )
    sink.start()
    wait_until(lambda: sink.connected, 30, "the sink to connect")
    admin = subscribe("admin")
    topic = f"{BASE}/cmd/reset"
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="edge.mqtt"):
        for i in range(5000):
            admin.client.publish(topic, b"{bad %d" % i, qos=0)
            admin.client.publish(
                topic, b'{"action": "reset", "id": "f-%d", "lines": "all"}' % i, qos=0
            )
        last = admin.client.publish(topic, b'{"action": "reset", "id": "end", "lines": "all"}', 1)
        last.wait_for_publish(60)
        wait_until(lambda: sink._intake.handled == 10001, 60, "every message handled")
        elapsed = time.monotonic() - started
    taken = inbox.drain()
    assert 5 <= len(taken) <= 5 + elapsed + 1  # a burst of 5, then one a second
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) <= 4, [r.getMessage() for r in warnings]
    sink.close()


def test_the_broker_never_hands_the_sensor_a_big_message(
    broker: Broker, lab: Lab, tmp_path: Path, subscribe: Callable[..., Subscriber]
) -> None:
    inbox = CommandInbox()
    sink = MqttSink(
        parse_config(sensor_config(broker, lab, tmp_path / "j")),  # type: ignore[arg-type]
        boot="b1",
        inbox=inbox,
    )
    sink.start()
    wait_until(lambda: sink.connected, 30, "the sink to connect")
    admin = subscribe("admin")
    topic = f"{BASE}/cmd/reset"
    # Under the broker's own limit, over what the sensor (MQTT 5) told the broker it takes.
    admin.client.publish(topic, b" " * (200 * 1024), qos=1).wait_for_publish(30)
    admin.client.publish(topic, b'{"action": "reset", "id": "x", "lines": "all"}', qos=1)
    wait_until(lambda: sink._intake.handled >= 1, 30, "the small command")
    assert sink._intake.handled == 1  # the big one never reached the sensor
    assert [r.id for r in inbox.drain()] == ["x"]
    sink.close()
