"""Measure issue 12 item 4: a persistent consumer away, 61 buckets acknowledged by mosquitto,
then mosquitto is killed (SIGKILL) and restarted: how many reach the consumer, with the
shipped persistence settings and with autosave_on_changes (a save after every change),
and what the broker writes to disk per bucket. Run: .venv/bin/python benchmarks/broker_crash.py
"""
import sys, time, json, subprocess, tempfile, os, signal
sys.path.insert(0, ".")
from pathlib import Path
import pytest
from tests.mqtt.conftest import Broker, Lab, Subscriber, sensor_config, wait_until, SENSORS, BROKER_CONFIG
from edge.config import parse_config
from edge.mqtt.client import MqttSink
from edge.commands import CommandInbox
from tests.mqtt.test_sink import bucket, snapshot

def io_bytes(pid):
    d = dict(l.split(": ") for l in Path(f"/proc/{pid}/io").read_text().splitlines())
    return int(d["write_bytes"]) , int(d["wchar"])

def run(lab, autosave, n=61):
    tmp = Path(tempfile.mkdtemp())
    b = Broker(lab, tmp / "broker")
    conf = (BROKER_CONFIG / "mosquitto.conf").read_text()
    if autosave:
        orig = BROKER_CONFIG / "mosquitto.conf"
    b.start()
    if autosave:
        b.stop()
        text = b.conf.read_text().replace("autosave_interval 60", "autosave_interval 1").replace("autosave_on_changes false", "autosave_on_changes true")
        b.conf.write_text(text)
        log = open(b.dir / "mosquitto.log", "ab")
        b.process = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(b.conf)], stderr=log)
        time.sleep(0.5)
    c = Subscriber(b.host, b.plain_port, "dashboard", lab.password("dashboard"), client_id="x", persistent=True).connect("headcount/hq/+/counts")
    c.close()
    time.sleep(0.3)
    sink = MqttSink(parse_config(sensor_config(b, lab, tmp / "j")), boot="b1", inbox=CommandInbox())
    sink.start(); wait_until(lambda: sink.connected, 30, "c")
    before = io_bytes(b.process.pid)
    for s in range(1, n + 1):
        sink.publish_bucket(bucket("b1", s))
        sink.publish_snapshot(snapshot("b1", 1000 + s, s))
    wait_until(lambda: sink.pending == 0, 30, "acks")
    after = io_bytes(b.process.pid)
    time.sleep(0.2)
    b.crash()
    sink.close()
    b.start()
    c2 = Subscriber(b.host, b.plain_port, "dashboard", lab.password("dashboard"), client_id="x", persistent=True)
    c2.client.connect(b.host, b.plain_port); c2.client.loop_start()
    time.sleep(3)
    got = {json.loads(p)["seq"] for p in c2.on("headcount/hq/door-1/counts")}
    c2.close(); b.stop()
    return len(got), (after[0] - before[0]) / n, (after[1] - before[1]) / n

tmp = Path(tempfile.mkdtemp())
subprocess.run(["sh", str(BROKER_CONFIG / "make_lab.sh"), str(tmp / "lab"), *SENSORS], check=True, capture_output=True)
lab = Lab(tmp / "lab")
for autosave in (False, True):
    got, wb, wc = run(lab, autosave)
    print(f"autosave_on_changes={autosave}: persistent consumer got {got}/61 after SIGKILL; broker wrote {wb:.0f} B/bucket to disk ({wc:.0f} B via write())")
