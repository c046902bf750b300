"""The JSON API, CSV export, /metrics, the venue's MQTT topics and Home Assistant discovery;
and that nothing but counts leaves the venue server."""

from __future__ import annotations

import csv
import io
import json
import re

from tests.mqtt.conftest import Subscriber
from tests.venue.conftest import occupancy_of
from tests.venue.test_exact import settle
from tests.venue.test_live import start_all

STATE_KEYS = {
    "v",
    "site",
    "venue",
    "ts",
    "day",
    "occupancy",
    "raw_occupancy",
    "adjust",
    "capacity",
    "warn",
    "level",
    "uncertain",
    "entrances",
    "areas",
    "sensors",
    "sensor_status",
}


def test_api_history_export_metrics_and_topics(sensors, make_venue, vbroker, vlab) -> None:
    watcher = Subscriber(
        vbroker.host, vbroker.plain_port, "homeassistant", vlab.password("homeassistant")
    )
    watcher.connect("headcount/hq/venue/#", "homeassistant/device/venue/#")
    venue = make_venue()
    start_all(sensors, venue)
    sensors["s1"].cross(4, 1)
    sensors["s3"].cross(0, 2)
    state = settle(sensors, venue, "the figure")
    assert state["occupancy"] == occupancy_of(sensors) == 5
    # /api/venue: the names fixed for outside checks.
    assert set(state) == STATE_KEYS
    assert isinstance(state["occupancy"], int) and isinstance(state["raw_occupancy"], int)
    assert state["capacity"] == 12 and state["level"] == "ok"
    assert state["sensors"] == {
        "s1": True,
        "s2": True,
        "s3": True,
    }
    # History: per entrance per bucket, occupancy per minute; JSON and CSV agree.
    status, body = venue.get("/api/history")
    assert status == 200
    history = json.loads(body)
    per_door: dict[str, list[int]] = {}
    for row in history["entrances"]:
        totals = per_door.setdefault(row["entrance"], [0, 0])
        totals[0] += row["in"]
        totals[1] += row["out"]
    assert per_door["s1/door"] == [4, 1] and per_door["s3/door"] == [2, 0]
    status, body = venue.get("/api/export/entrances.csv")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert sum(int(r["in"]) for r in rows if r["entrance"] == "s1/door") == 4
    status, body = venue.get("/api/export/occupancy.csv")
    assert status == 200 and body.decode().startswith(
        "minute_utc,occupancy,raw_occupancy,uncertain\n"
    )
    assert venue.get("/api/history?from=yesterday")[0] == 400
    assert b"YYYY-MM-DD" in venue.get("/api/history?from=yesterday")[1]
    assert venue.get("/api/history?from=2026-01-02&to=2026-01-01")[0] == 400
    # Prometheus.
    metrics = venue.get("/metrics")[1].decode()
    assert re.search(r"^headcount_venue_occupancy 5\.0$", metrics, re.M)
    assert re.search(
        r'^headcount_venue_entrance_in_today\{entrance="s1/door"\} 4\.0$', metrics, re.M
    )
    assert re.search(r'^headcount_venue_sensor_up\{sensor="s2"\} 1\.0$', metrics, re.M)
    assert "headcount_venue_sensor_last_seen_timestamp_seconds" in metrics
    # The retained venue state and Home Assistant discovery on the broker.
    watcher.wait_for(
        lambda: any(
            m.get("occupancy") == 5 for m in watcher.json_on("headcount/hq/venue/main/state")
        ),
        "the venue state on MQTT",
    )
    watcher.wait_for(lambda: watcher.on("homeassistant/device/venue/main/config"), "discovery")
    discovery = json.loads(watcher.on("homeassistant/device/venue/main/config")[-1])
    assert set(discovery["components"]) == {"occupancy", "capacity", "level", "reset"}
    assert discovery["components"]["reset"]["command_topic"] == "headcount/hq/venue/main/cmd/reset"
    assert discovery["state_topic"] == "headcount/hq/venue/main/state"
    assert watcher.on("headcount/hq/venue/main/status")[-1] == b"online"
    # Home Assistant presses the reset button (the ACL lets it): the venue starts from 0.
    watcher.client.publish(
        "headcount/hq/venue/main/cmd/reset", '{"action":"reset"}', qos=1
    ).wait_for_publish(10)
    venue.wait_for(lambda s: s["raw_occupancy"] == 0, "reset by MQTT")
    sensors["s2"].cross(2, 0)
    venue.wait_for(lambda s: s["raw_occupancy"] == 2, "counting from the reset")
    # A bad command is refused; an adjust by an operator works.
    admin = Subscriber(vbroker.host, vbroker.plain_port, "admin", vlab.password("admin")).connect()
    admin.client.publish(
        "headcount/hq/venue/main/cmd/adjust", '{"delta": "lots"}', qos=1
    ).wait_for_publish(10)
    admin.client.publish(
        "headcount/hq/venue/main/cmd/adjust", '{"delta": -3}', qos=1
    ).wait_for_publish(10)
    state = venue.wait_for(lambda s: s["raw_occupancy"] == -1, "adjusted by MQTT")
    assert state["occupancy"] == 0  # never below 0 on display, the raw figure kept
    assert (
        'headcount_venue_rejected_messages_total{reason="bad_command"} 1.0'
        in venue.get("/metrics")[1].decode()
    )
    admin.close()
    watcher.close()


def scan(value: object, path: str, out: list[tuple[str, object]]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            scan(item, f"{path}.{key}", out)
    elif isinstance(value, list):
        for item in value:
            scan(item, f"{path}[]", out)
    else:
        out.append((path, value))


def test_nothing_but_counts_leaves_the_venue_server(sensors, make_venue) -> None:
    venue = make_venue()
    start_all(sensors, venue)
    sensors["s1"].cross(2, 0)
    settle(sensors, venue, "the figure")
    leaves: list[tuple[str, object]] = []
    scan(venue.api(), "state", leaves)
    scan(json.loads(venue.get("/api/history")[1]), "history", leaves)
    allowed = re.compile(
        r"^(state\.(v|site|venue|ts|day|occupancy|raw_occupancy|adjust|capacity|warn|level|uncertain)"
        r"|state\.entrances\.s\d/door\.(sensor|line|in|out)"
        r"|state\.areas\.hall\.occupancy"
        r"|state\.sensors\.s\d"
        r"|state\.sensor_status\.s\d\.(online|last_seen|stale)"
        r"|history\.(from|to)"
        r"|history\.minutes\[\]\.(ts|occupancy|raw_occupancy|uncertain)"
        r"|history\.entrances\[\]\.(entrance|start|end|in|out))$"
    )
    for path, value in leaves:
        assert allowed.match(path), path
        assert isinstance(value, int | bool | str), (path, value)
        if isinstance(value, str):
            assert len(value) <= 32, (path, value)


def test_headcount_schema_includes_the_venue_messages() -> None:
    from edge.schema import message_schemas

    schemas = message_schemas()
    for name in (
        "venue/state",
        "venue/alert",
        "venue/cmd/reset",
        "venue/cmd/adjust",
        "venue/discovery",
    ):
        assert schemas[name]["title"] == name
        assert schemas[name]["additionalProperties"] is False  # extra="forbid"
    assert set(schemas["venue/state"]["required"]) >= {
        "occupancy",
        "raw_occupancy",
        "capacity",
        "level",
        "sensors",
    }
    assert schemas["venue/state"]["properties"]["level"]["enum"] == ["ok", "warn", "full"]
