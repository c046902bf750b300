"""Malformed, oversized or wrongly typed messages on sensor topics: ignored, logged, counted."""

from __future__ import annotations

import json
import re

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.venue.test_live import start_all

GOOD = {
    "v": 1,
    "site": "hq",
    "sensor": "s1",
    "ts": "2026-12-02T10:00:00.000Z",
    "boot": "zz",
    "seq": 1,
    "frame": 1,
    "zones": {},
    "lines": {"door": {"in": 50, "out": 0}},
}


def publisher(vbroker, vlab, user: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bad-{user}")
    client.username_pw_set(user, vlab.password(user))
    client.connect(vbroker.host, vbroker.plain_port)
    client.loop_start()
    return client


def rejected(metrics: str) -> dict[str, float]:
    found = re.findall(r'headcount_venue_rejected_messages_total\{reason="(\w+)"\} (\S+)', metrics)
    return {reason: float(value) for reason, value in found}


def test_bad_messages_are_ignored_with_one_log_line_and_a_metric(
    sensors, make_venue, vbroker, vlab
) -> None:
    venue = make_venue()
    start_all(sensors, venue)
    sensors["s1"].cross(2, 0)
    venue.wait_for(lambda s: s["raw_occupancy"] == 2, "occupancy 2")
    client = publisher(vbroker, vlab, "s1")
    bad = [
        ("state", b"not json at all"),
        ("state", b"\xff\xfe\x00"),
        ("state", json.dumps({**GOOD, "seq": "many"}).encode()),
        ("state", json.dumps({**GOOD, "lines": {"door": {"in": -5, "out": 0}}}).encode()),
        ("state", json.dumps({**GOOD, "face": "data"}).encode()),
        ("state", json.dumps({**GOOD, "sensor": "s2"}).encode()),
        ("state", b"[" * 70_000),
        ("counts", json.dumps({"v": 1, "site": "hq", "sensor": "s1"}).encode()),
        ("counts", json.dumps({**GOOD, "start": "yesterday", "end": "today"}).encode()),
        ("status", b"maybe"),
    ]
    for kind, payload in bad:
        client.publish(f"headcount/hq/s1/{kind}", payload, qos=1).wait_for_publish(10)
    venue.wait_for(
        lambda s: sum(rejected(venue.get("/metrics")[1].decode()).values()) == len(bad),
        "every bad message counted",
    )
    counts = rejected(venue.get("/metrics")[1].decode())
    assert counts == {"invalid": 8, "oversized": 1, "wrong_origin": 1}
    lines = [line for line in venue.log().splitlines() if "ignored a " in line]
    assert len(lines) == len(bad)
    assert all("Traceback" not in line and len(line) < 400 for line in lines)
    assert "Traceback" not in venue.log()
    # Nothing changed, and the server still takes good messages.
    sensors["s1"].cross(1, 0)
    state = venue.wait_for(lambda s: s["raw_occupancy"] == 3, "occupancy 3")
    assert state["sensors"]["s1"] is True
    client.disconnect()
    client.loop_stop()
