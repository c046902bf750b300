"""A counter with planted misses and double counts fails `headcount verify --listen` with the right
line-directions named: a real mosquitto, the real CLI as a process, snapshots from the contract."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.messages import LineTotals, Snapshot, ZoneNow, iso_ms
from tests.mqtt.conftest import SITE, Broker, Lab, toml_text

LAUNCH = "import sys; from edge.cli import main; sys.exit(main())"
ROOT = Path(__file__).resolve().parents[3]
FPS = 10.0
TRUE = [
    (1.0, "north", "in"),
    (3.0, "north", "in"),
    (5.0, "north", "in"),
    (7.0, "north", "in"),
    (2.0, "south", "out"),
    (6.0, "south", "out"),
    (4.0, "south", "in"),
]
MISSED = {(3.0, "north", "in"), (7.0, "north", "in")}
DOUBLED = [(2.3, "south", "out")]


def planted_events() -> list[tuple[float, str, str]]:
    return sorted([e for e in TRUE if e not in MISSED] + DOUBLED)


def snapshots() -> list[Snapshot]:
    """What the planted counter publishes: a snapshot per counted crossing, then one past the end."""
    totals = {"north": {"in": 0, "out": 0}, "south": {"in": 0, "out": 0}}
    out = []
    events = planted_events() + [(20.0, "", "")]
    for seq, (t, line, direction) in enumerate(events):
        if line:
            totals[line][direction] += 1
        frame = round(t * FPS)
        out.append(
            Snapshot(
                site=SITE,
                sensor="door-1",
                ts=iso_ms(1_800_000_000 + t),
                boot="planted",
                seq=seq,
                frame=frame,
                zones={"hall": ZoneNow(occupancy=0)},
                lines={k: LineTotals(in_=v["in"], out=v["out"]) for k, v in totals.items()},
            )
        )
    return out


@pytest.mark.broker
def test_planted_errors_fail_with_the_right_lines_named(
    broker: Broker, lab: Lab, tmp_path: Path
) -> None:
    config = tmp_path / "sensor.toml"
    config.write_text(
        toml_text(
            {
                "sensor": {"id": "door-1", "site": SITE},
                "lines": [
                    {"name": "North", "points": [[0.1, 0.3], [0.9, 0.3]], "inside": [0.5, 0.9]},
                    {"name": "South", "points": [[0.1, 0.7], [0.9, 0.7]], "inside": [0.5, 0.9]},
                ],
                "zones": [{"name": "hall", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}],
            }
        )
    )
    truth = tmp_path / "crossings.csv"  # names in another case than the config's
    truth.write_text(
        "time_s,line,direction\n" + "".join(f"{t},{n.upper()},{d}\n" for t, n, d in TRUE)
    )
    occupancy = tmp_path / "occupancy.csv"  # the planted counter publishes 0 in the hall
    occupancy.write_text("time_s,zone,count\n1.0,HALL,0\n2.0,hall,2\n")
    junit, report = tmp_path / "verify.xml", tmp_path / "verify.md"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            LAUNCH,
            "verify",
            "--listen",
            "--config",
            str(config),
            "--truth",
            str(truth),
            "--occupancy",
            str(occupancy),
            "--fps",
            "10",
            "--broker",
            f"{broker.host}:{broker.plain_port}",
            "--username",
            "dashboard",
            "--password-file",
            str(lab.password_file("dashboard")),
            "--junit",
            str(junit),
            "--report",
            str(report),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    seen = []
    for line in process.stderr:  # bounded: the process exits (and closes stderr) on any failure
        seen.append(line)
        if "listening to headcount/hq/door-1/#" in line:
            break
    else:
        pytest.fail("the listener never subscribed: " + "".join(seen))
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="planted-door-1")
    publisher.username_pw_set("door-1", lab.password("door-1"))
    publisher.connect(broker.host, broker.plain_port)
    publisher.loop_start()
    try:
        for snapshot in snapshots():
            info = publisher.publish(
                "headcount/hq/door-1/state", snapshot.to_json(), qos=1, retain=True
            )
            info.wait_for_publish(timeout=30)
    finally:
        publisher.disconnect()
        publisher.loop_stop()
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 1, stdout + stderr
    cases = {
        c.get("name"): c.find("failure") is not None
        for c in ET.parse(junit).getroot().iter("testcase")
    }
    assert cases == {"North in": True, "North out": False, "South in": False, "South out": True}
    text = report.read_text()
    assert "- **North in**: missed at 3.00, 7.00 s; doubles at - s; spurious at - s" in text
    assert "- **South out**: missed at - s; doubles at 2.30 s; spurious at - s" in text
    assert "FAIL North in, South out" in stdout
    assert "| hall | 1.00 |" in text  # |0 - 0| and |0 - 2| over two samples


@pytest.mark.broker
def test_wall_clock_listen_times_counts_by_arrival(
    broker: Broker, lab: Lab, tmp_path: Path
) -> None:
    """`--align wall --start-at T`: a count's clip time is its arrival - T. The clip 'started'
    100 s ago and its crossings were at 100 s and 101 s; the counts arrive now, within the 30 s
    tolerance given, so both match, and their latency is measured from arrival."""
    import time

    config = tmp_path / "sensor.toml"
    config.write_text(
        toml_text(
            {
                "sensor": {"id": "door-1", "site": SITE},
                "lines": [
                    {"name": "door", "points": [[0.1, 0.5], [0.9, 0.5]], "inside": [0.5, 0.9]}
                ],
            }
        )
    )
    truth = tmp_path / "crossings.csv"
    truth.write_text("time_s,line,direction\n100.0,door,in\n101.0,door,out\n")
    start = time.time() - 100.0
    report = tmp_path / "wall.md"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            LAUNCH,
            "verify",
            "--listen",
            "--align",
            "wall",
            "--start-at",
            f"{start:.3f}",
            "--tolerance",
            "30",
            "--config",
            str(config),
            "--truth",
            str(truth),
            "--broker",
            f"{broker.host}:{broker.plain_port}",
            "--username",
            "dashboard",
            "--password-file",
            str(lab.password_file("dashboard")),
            "--report",
            str(report),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:
        if "listening to headcount/hq/door-1/#" in line:
            break
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="wall-door-1")
    publisher.username_pw_set("door-1", lab.password("door-1"))
    publisher.connect(broker.host, broker.plain_port)
    publisher.loop_start()
    try:
        for seq, (n_in, n_out) in enumerate([(0, 0), (1, 0), (1, 1)]):
            snapshot = Snapshot(
                site=SITE,
                sensor="door-1",
                ts=iso_ms(time.time()),
                boot="wall",
                seq=seq,
                frame=seq,
                zones={},
                lines={"door": LineTotals(in_=n_in, out=n_out)},
            )
            publisher.publish(
                "headcount/hq/door-1/state", snapshot.to_json(), qos=1
            ).wait_for_publish(30)
        publisher.publish(
            "headcount/hq/door-1/status", "offline", qos=1, retain=True
        ).wait_for_publish(30)
    finally:
        publisher.disconnect()
        publisher.loop_stop()
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stdout + stderr
    text = report.read_text()
    assert (
        "| door in | 1 | 1 | 100.0 % | 1 |" in text and "| door out | 1 | 1 | 100.0 % | 1 |" in text
    )
    assert "(wall clock)" in text
    assert "Latency from a true crossing to its published count: p50" in text
