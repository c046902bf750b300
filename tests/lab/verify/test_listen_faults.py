"""`--listen` against a real sensor process and a real mosquitto, through the harness's proxy,
with a broker restart, a cut network and a stopped source injected."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from lab.verify.faults import Fault, Rig, run_rig, stall_option
from lab.verify.junit import write_junit
from lab.verify.listen import BrokerAddress, Listener
from lab.verify.record import CountLog
from lab.verify.report import render_markdown
from lab.verify.scenes import scene_truth
from lab.verify.score import score
from tests.mqtt.conftest import SITE, Broker, Lab, sensor_config

HERE = Path(__file__).resolve().parent
SCENE = HERE / "data" / "short_door.toml"
XSD = HERE.parents[2] / "tests" / "data" / "junit" / "JUnit.xsd"

# At the sensor's clip time (seen in its snapshots, which come at least once a second), for
# wall seconds. The scene's crossings are at 3.2 (in), 9.2 (in), 15.2 (in), 22.0 (out) and
# 28.0 s (in): each fault ends (with reconnection: the listener's takes up to 2 s after a broker restart,
# and the sensor waits for it) before the next crossing, so every count is published on time
# and matches its crossing; faults over a crossing only delay its count.
PLAN = (
    Fault("broker restart", 4.0, 1.0),
    Fault("network cut", 10.0, 2.5),
    Fault("source stall", 24.0, 3.0),
)


@pytest.mark.broker
def test_fault_run_loses_nothing_and_scores_every_crossing(
    broker: Broker, lab: Lab, tmp_path: Path
) -> None:
    truth = scene_truth(str(SCENE))
    doc = sensor_config(broker, lab, tmp_path / "journal", bucket_seconds=5)
    address = BrokerAddress(
        broker.host, broker.plain_port, SITE, "door-1", "dashboard", lab.password("dashboard")
    )
    counts = CountLog(("door",), ("room",))
    listener = Listener(address, counts, align="frame", fps=truth.scene.fps)
    listener.connect()
    rig = Rig(
        config_doc=doc,
        source_uri=f"paced:{SCENE}{stall_option(PLAN)}",
        broker=broker,
        broker_target=(broker.host, broker.plain_port),
        plan=PLAN,
        workdir=tmp_path / "rig",
    )
    try:
        result = run_rig(rig, listener)
    finally:
        listener.close()
    log = (tmp_path / "rig" / "sensor.log").read_text()
    assert result.exit_status == 0, log
    assert [i.fault.kind for i in result.injected] == [f.kind for f in PLAN]
    verdict = score(list(truth.crossings), counts.observed(), checks=result.checks)
    report = render_markdown(verdict, "fault run")
    assert verdict.passed, report
    assert "re-opening the source" in log  # the planned stall reached the pipeline
    door = {s.name: s for s in verdict.lines}
    assert (door["door in"].counted, door["door out"].counted) == (4, 1)
    assert door["door in"].matched == 4 and door["door out"].matched == 1
    # Latency: a count is published after the frame that made it (same machine, same clock).
    assert len(verdict.latencies) == 5 and min(verdict.latencies) >= -0.01
    assert verdict.latency_percentile(95) is not None
    junit = tmp_path / "faults.xml"
    write_junit(junit, verdict, "fault run")
    xmlschema.XMLSchema(str(XSD)).validate(str(junit))
    names = [case.get("name") for case in ET.parse(junit).getroot().iter("testcase")]
    assert names == ["door in", "door out", "availability", "nothing lost"]


def test_proxy_cut_drops_and_refuses_then_forwards(tmp_path: Path) -> None:
    import socket
    import threading

    from lab.verify.proxy import TcpProxy

    server = socket.create_server(("127.0.0.1", 0))
    target = server.getsockname()

    def echo() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(1024):
                    conn.sendall(data)

    threading.Thread(target=echo, daemon=True).start()
    proxy = TcpProxy(target).start()
    try:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as c:
            c.sendall(b"ping")
            assert c.recv(16) == b"ping"
            proxy.cut()
            assert c.recv(16) == b""  # dropped
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as c:
            assert c.recv(16) == b""  # refused while cut
        proxy.restore()
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as c:
            c.sendall(b"pong")
            assert c.recv(16) == b"pong"
    finally:
        proxy.close()
        server.close()
