"""The demo's embedded broker (amqtt, MQTT 3.1.1): the sink falls back from MQTT 5 and a
subscriber sees the retained QoS 1 messages."""

from __future__ import annotations

import threading
from pathlib import Path

from edge.commands import CommandInbox
from edge.config import parse_config
from edge.messages import Bucket, LineTotals
from edge.mqtt.client import MqttSink
from lab.embedded_broker import start_embedded_broker, watch
from tests.mqtt.conftest import wait_until

BASE = "headcount/hq/door-1"


def test_sink_falls_back_to_3_1_1_and_a_subscriber_sees_everything(tmp_path: Path) -> None:
    broker = start_embedded_broker()
    seen: list[tuple[str, bytes, bool]] = []
    lock = threading.Lock()

    def record(topic: str, payload: bytes, retained: bool) -> None:
        with lock:
            seen.append((topic, payload, retained))

    try:
        config = parse_config(
            {
                "sensor": {"id": "door-1", "site": "hq"},
                "lines": [{"name": "door", "points": [[0, 0.5], [1, 0.5]], "inside": [0.5, 1]}],
                "mqtt": {
                    "host": broker.host,
                    "port": broker.port,
                    "protocol": "auto",
                    "reconnect_min_seconds": 0.1,
                },
                "journal": {"dir": str(tmp_path / "j")},
            }
        )
        sink = MqttSink(config, boot="b1", inbox=CommandInbox(), env={})
        sink.start()
        wait_until(lambda: sink.connected, 15, "the sink to connect with MQTT 3.1.1")
        sink.publish_bucket(
            Bucket(
                site="hq",
                sensor="door-1",
                boot="b1",
                seq=1,
                start="s",
                end="e",
                lines={"door": LineTotals(in_=1, out=0)},
                zones={},
            )
        )
        wait_until(lambda: sink.pending == 0, 10, "the broker's PUBACK")
        stop_watch = watch(broker.host, broker.port, record)
        wait_until(lambda: (f"{BASE}/status", b"online", True) in seen, 10, "retained online")
        sink.close()
        wait_until(lambda: (f"{BASE}/status", b"offline", False) in seen, 10, "offline")
        stop_watch()
    finally:
        broker.stop()
    topics = {t for t, _, _ in seen}
    assert {f"{BASE}/status", f"{BASE}/privacy"} <= topics
