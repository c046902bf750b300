"""The walk page in a real headless Chromium: a phone-sized page, taps recorded, the live sensor's
counts (a real mosquitto) shown beside them, and the report written at Finish."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.cli import main
from edge.messages import LineTotals, Snapshot, ZoneNow, iso_ms
from tests.mqtt.conftest import SITE, Broker, Lab, free_port, toml_text, wait_until


class Door:
    """Publishes the sensor's state as door-1 would: cumulative totals of one boot."""

    def __init__(self, broker: Broker, lab: Lab) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="walk-door-1")
        self.client.username_pw_set("door-1", lab.password("door-1"))
        self.client.connect(broker.host, broker.plain_port)
        self.client.loop_start()
        self.seq = 0
        self.totals = {"in": 0, "out": 0}

    def publish(self) -> None:
        self.seq += 1
        snapshot = Snapshot(
            site=SITE,
            sensor="door-1",
            ts=iso_ms(time.time()),
            boot="walkboot",
            seq=self.seq,
            frame=self.seq,
            zones={"room": ZoneNow(occupancy=0)},
            lines={"door": LineTotals(in_=self.totals["in"], out=self.totals["out"])},
        )
        info = self.client.publish(
            "headcount/hq/door-1/state", snapshot.to_json(), qos=1, retain=True
        )
        info.wait_for_publish(timeout=30)

    def count(self, direction: str) -> None:
        self.totals[direction] += 1
        self.publish()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.broker
def test_walk_page_records_taps_and_writes_the_report(
    page: Any, broker: Broker, lab: Lab, tmp_path: Path
) -> None:
    config = tmp_path / "door.toml"
    config.write_text(
        toml_text(
            {
                "sensor": {"id": "door-1", "site": SITE},
                "lines": [
                    {"name": "door", "points": [[0.15, 0.55], [0.85, 0.55]], "inside": [0.5, 0.9]}
                ],
                "zones": [{"name": "room", "polygon": [[0, 0.55], [1, 0.55], [1, 1], [0, 1]]}],
            }
        )
    )
    door = Door(broker, lab)
    door.count("in")  # a crossing before Start: the baseline, not part of the test
    port = free_port()
    report, junit = tmp_path / "walk.md", tmp_path / "walk.xml"
    status: list[int] = []
    argv = [
        "verify",
        "--walk",
        "--config",
        str(config),
        "--broker",
        f"{broker.host}:{broker.plain_port}",
        "--username",
        "dashboard",
        "--password-file",
        str(lab.password_file("dashboard")),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--report",
        str(report),
        "--junit",
        str(junit),
    ]
    runner = threading.Thread(target=lambda: status.append(main(argv)), daemon=True)
    runner.start()

    def serving() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            return False

    try:
        wait_until(serving, 30, "the walk page to serve")
        page.set_viewport_size({"width": 390, "height": 844})  # a phone
        page.goto(f"http://127.0.0.1:{port}/")
        walk_in = page.get_by_role("button", name="door: one person walked in")
        walk_out = page.get_by_role("button", name="door: one person walked out")
        assert walk_in.is_disabled()  # no taps before Start
        assert walk_in.bounding_box()["height"] >= 100 and walk_out.bounding_box()["width"] >= 150
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
        page.get_by_role("button", name="Start the walk test clock").click()
        page.wait_for_function("!document.querySelector('button.tap').disabled")
        for direction, button in (("in", walk_in), ("in", walk_in), ("out", walk_out)):
            button.click()
            door.count(direction)
        page.wait_for_function(
            "document.querySelector('[data-taps=\"door in\"]').textContent === '2'"
            " && document.querySelector('[data-taps=\"door out\"]').textContent === '1'"
            " && document.querySelector('[data-counted=\"door in\"]').textContent === '2'"
            " && document.querySelector('[data-counted=\"door out\"]').textContent === '1'"
        )
        page.get_by_role("button", name="Finish the walk test and write the report").click()
        runner.join(timeout=60)
    finally:
        door.close()
    assert status == [0], report.read_text() if report.exists() else "no report"
    text = report.read_text()
    assert "| door in | 2 | 2 | 100.0 % | 2 |" in text
    assert "| door out | 1 | 1 | 100.0 % | 1 |" in text
    assert "Walk test: 3 taps against `headcount/hq/door-1`." in text
    assert "Latency from a true crossing to its published count: p50" in text
    assert junit.is_file()


def test_tap_api_refuses_bad_input() -> None:
    import httpx

    from lab.verify.listen import BrokerAddress, Listener
    from lab.verify.record import CountLog
    from lab.verify.serve import serve
    from lab.verify.walk import WalkSession, build_app

    listener = Listener(BrokerAddress("127.0.0.1", 1, "hq", "door-1"), CountLog(("door",), ()))
    port = free_port()
    served = serve(build_app(WalkSession(("door",), listener)), "127.0.0.1", port, "walk-test")
    try:
        _tap_api(httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30))
    finally:
        served.stop()


def _tap_api(client: Any) -> None:
    early = client.post("/api/tap", json={"line": "door", "direction": "in"})
    assert early.status_code == 400 and early.json() == {"error": "press Start first"}
    assert client.post("/api/start").status_code == 200
    for body in (
        {"line": "door", "direction": "up"},
        {"line": "door", "direction": "in", "x": 1},
        {"line": "window", "direction": "in"},
    ):
        assert client.post("/api/tap", json=body).status_code == 400
    ok = client.post("/api/tap", json={"line": "door", "direction": "in"})
    assert ok.json()["taps"] == {"door": {"in": 1, "out": 0}}
    # Privacy: the page's API carries totals only, under a fixed set of keys.
    state = client.get("/api/state").json()
    assert set(state) == {"started", "elapsed_s", "finished", "taps", "counted"}
    assert state["counted"] == {"door": {"in": 0, "out": 0}}
    assert client.post("/api/undo").json()["taps"] == {"door": {"in": 0, "out": 0}}
