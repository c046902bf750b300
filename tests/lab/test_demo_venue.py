"""`make demo` gains the venue: the venue server on the demo's own (amqtt) broker serves the page."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from edge.messages import LineTotals, Snapshot, ZoneNow, iso_ms
from lab.demo_venue import venue_server
from lab.embedded_broker import start_embedded_broker


def api(url: str) -> dict:
    with urllib.request.urlopen(url + "api/venue", timeout=10) as response:
        return json.loads(response.read())


def test_the_demo_venue_follows_the_demo_sensor(tmp_path: Path) -> None:
    broker = start_embedded_broker()
    try:
        settings = {
            "site": "sample",
            "sensor": "demo",
            "lines": ["lamp", "road"],
            "zones": ["walkway"],
            "host": broker.host,
            "port": broker.port,
            "protocol": "3.1.1",
        }
        with venue_server(tmp_path, **settings) as url:
            assert url.startswith("http://127.0.0.1:")
            sensor = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id="headcount-sample-demo",
                protocol=MQTTProtocolVersion.MQTTv311,
            )
            sensor.connect(broker.host, broker.port)
            sensor.loop_start()
            for seq, (lamp, road) in enumerate([((0, 0), (0, 0)), ((3, 1), (2, 0))], start=1):
                message = Snapshot(
                    site="sample",
                    sensor="demo",
                    ts=iso_ms(time.time()),
                    boot="b",
                    seq=seq,
                    frame=seq,
                    zones={"walkway": ZoneNow(occupancy=2)},
                    lines={
                        "lamp": LineTotals(in_=lamp[0], out=lamp[1]),
                        "road": LineTotals(in_=road[0], out=road[1]),
                    },
                )
                sensor.publish("headcount/sample/demo/status", "online", qos=1, retain=True)
                sensor.publish(
                    "headcount/sample/demo/state", message.to_json(), qos=1, retain=True
                ).wait_for_publish(10)
            deadline = time.monotonic() + 60
            while api(url)["raw_occupancy"] != 4:
                assert time.monotonic() < deadline, api(url)
                time.sleep(0.05)
            state = api(url)
            assert state["areas"] == {"walkway": {"occupancy": 2}}
            assert state["sensors"]["demo"] is True
            with urllib.request.urlopen(url, timeout=10) as response:
                assert b"/static/venue.js" in response.read()
            sensor.disconnect()
            sensor.loop_stop()
    finally:
        broker.stop()
