"""The whole sensor (`headcount run`) against a full disk and a command flood (items 1, 8)."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.journal.disk import FullDisk, full_disk
from tests.mqtt.conftest import Broker, Lab, Subscriber, wait_until
from tests.mqtt.test_sensor_process import BASE, Sensor, buckets, check_complete, final_state


@pytest.fixture
def disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FullDisk]:
    with full_disk(tmp_path, monkeypatch) as d:
        yield d


def test_a_full_disk_keeps_counting_and_delivering_and_never_crash_loops(
    broker: Broker,
    lab: Lab,
    tmp_path: Path,
    disk: FullDisk,
    subscribe: Callable[..., Subscriber],
) -> None:
    consumer = subscribe("dashboard", f"{BASE}/#", client_id="c", persistent=True)
    sensor = Sensor(broker, lab, tmp_path, journal=disk.path, launcher=disk.launcher)
    try:
        sensor.start()
        consumer.wait_for(lambda: len(buckets(consumer)) >= 2, "buckets", 60)
        disk.fill()
        n = len(buckets(consumer))
        consumer.wait_for(lambda: len(buckets(consumer)) >= n + 5, "buckets on a full disk", 60)
        broker.stop()  # an outage while the disk is full: buckets wait in memory
        wait_until(lambda: "cannot write" in sensor.log.read_text(), 60, "the one sentence")
        broker.start()
        n = len(buckets(consumer))
        consumer.wait_for(lambda: len(buckets(consumer)) >= n + 3, "buckets after", 60)
        assert sensor.signal(signal.SIGTERM) == 0
        consumer.wait_for(lambda: consumer.on(f"{BASE}/status")[-1:] == [b"offline"], "offline")
        check_complete(buckets(consumer), final_state(consumer))
        log = sensor.log.read_text()
        assert "Traceback" not in log and log.count("cannot write") == 1
        # A restart on the still-full disk runs (no exit 1, no crash loop) and delivers.
        boots = {b["boot"] for b in buckets(consumer)}
        sensor.start()
        consumer.wait_for(
            lambda: {b["boot"] for b in buckets(consumer)} - boots, "the next boot's buckets", 60
        )
        assert sensor.process is not None and sensor.process.poll() is None
        assert sensor.signal(signal.SIGTERM) == 0
    finally:
        sensor.stop()
        disk.free()


def test_a_command_flood_keeps_counting_and_the_last_state_is_the_final_one(
    broker: Broker, lab: Lab, tmp_path: Path, subscribe: Callable[..., Subscriber]
) -> None:
    watcher = subscribe("dashboard", f"{BASE}/#")
    admin = subscribe("admin")
    sensor = Sensor(broker, lab, tmp_path, sink="both")
    try:
        sensor.start()
        watcher.wait_for(lambda: len(buckets(watcher)) >= 2, "buckets", 60)
        topic = f"{BASE}/cmd/reset"
        for i in range(5000):
            admin.client.publish(topic, b"{bad %d" % i, qos=0)
            admin.client.publish(
                topic, b'{"action": "reset", "id": "f%d", "lines": "all"}' % i, qos=0
            )
        admin.client.publish(topic, b"{last", qos=1).wait_for_publish(60)
        n = len(buckets(watcher))
        watcher.wait_for(lambda: len(buckets(watcher)) >= n + 3, "counting goes on", 60)
        assert sensor.signal(signal.SIGTERM) == 0
        watcher.wait_for(lambda: watcher.on(f"{BASE}/status")[-1:] == [b"offline"], "offline")
    finally:
        sensor.stop()
    printed = [json.loads(line) for line in sensor.stdout.read_text().splitlines()]
    last_state = watcher.json_on(f"{BASE}/state")[-1]
    assert last_state == printed[-1], "the consumer's last state is the sensor's final one"
    assert last_state["seq"] > max(int(str(b["seq"])) for b in buckets(watcher))
    warnings = [line for line in sensor.log.read_text().splitlines() if "WARNING" in line]
    assert len(warnings) <= 6, warnings
