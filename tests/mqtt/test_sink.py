"""MqttSink against a real mosquitto: the contract on the wire, outages, commands, TLS."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.commands import CommandInbox, Reset
from edge.config import Config, parse_config
from edge.journal import Journal
from edge.messages import Bucket, LineTotals, Snapshot, ZoneNow, ZoneStats
from edge.mqtt.client import MqttSink
from tests.mqtt.conftest import Broker, Lab, Subscriber, sensor_config, wait_until

BASE = "headcount/hq/door-1"


def make_config(broker: Broker, lab: Lab, tmp_path: Path, **kwargs: object) -> Config:
    return parse_config(sensor_config(broker, lab, tmp_path / "journal", **kwargs))  # type: ignore[arg-type]


def bucket(boot: str, seq: int, n: int = 1) -> Bucket:
    return Bucket(
        site="hq",
        sensor="door-1",
        boot=boot,
        seq=seq,
        start=f"2026-11-28T15:{seq % 60:02d}:00Z",
        end=f"2026-11-28T15:{(seq + 1) % 60:02d}:00Z",
        lines={"door": LineTotals(in_=n, out=0)},
        zones={"room": ZoneStats(mean=0.5, max=1)},
    )


def snapshot(boot: str, seq: int, total_in: int) -> Snapshot:
    return Snapshot(
        site="hq",
        sensor="door-1",
        ts="2026-11-28T15:00:00.000Z",
        boot=boot,
        seq=seq,
        frame=seq,
        zones={"room": ZoneNow(occupancy=1)},
        lines={"door": LineTotals(in_=total_in, out=0)},
    )


def keys(messages: list[dict[str, object]]) -> list[tuple[object, object]]:
    return [(m["boot"], m["seq"]) for m in messages]


def test_publishes_the_contract_and_goes_offline_on_close(
    broker: Broker, lab: Lab, tmp_path: Path, subscribe: Callable[..., Subscriber]
) -> None:
    watcher = subscribe("admin", "headcount/#")
    sink = MqttSink(make_config(broker, lab, tmp_path), boot="b1", inbox=CommandInbox())
    sink.start()
    wait_until(lambda: sink.connected, 10, "the sink to connect")
    sink.publish_snapshot(snapshot("b1", 1, 0))
    sink.publish_bucket(bucket("b1", 2))
    sink.publish_snapshot(snapshot("b1", 3, 1))
    sink.close()
    watcher.wait_for(lambda: watcher.on(f"{BASE}/status")[-1:] == [b"offline"], "offline")
    assert watcher.on(f"{BASE}/status") == [b"online", b"offline"]
    assert keys(watcher.json_on(f"{BASE}/counts")) == [("b1", 2)]
    states = watcher.json_on(f"{BASE}/state")
    assert [s["seq"] for s in states] == [1, 3]
    assert "dropped" not in states[-1]  # the sink adds nothing: stdout and MQTT agree
    privacy = watcher.json_on(f"{BASE}/privacy")
    assert privacy and privacy[0]["sensor"] == "door-1"
    # Retained for late subscribers: status, state, privacy; counts are not retained.
    late = subscribe("dashboard", f"{BASE}/#")
    late.wait_for(lambda: len(late.messages) >= 3, "retained messages")
    retained = {t: p for t, p, r in late.messages if r}
    assert retained[f"{BASE}/status"] == b"offline"
    assert json.loads(retained[f"{BASE}/state"])["seq"] == 3
    assert f"{BASE}/privacy" in retained
    assert f"{BASE}/counts" not in retained
    assert len(Journal(tmp_path / "journal")) == 0


def test_broker_outage_longer_than_a_bucket_loses_and_duplicates_nothing(
    broker: Broker, lab: Lab, tmp_path: Path, subscribe: Callable[..., Subscriber]
) -> None:
    # A consumer with a persistent session: the broker queues for it while it is away,
    # and its persistence keeps session and queue across the broker restart.
    consumer = subscribe("dashboard", f"{BASE}/counts", client_id="consumer-1", persistent=True)
    sink = MqttSink(make_config(broker, lab, tmp_path), boot="b1", inbox=CommandInbox())
    sink.start()
    wait_until(lambda: sink.connected, 10, "the sink to connect")
    seq = 0

    def emit(n: int) -> None:
        nonlocal seq
        for _ in range(n):
            seq += 1
            sink.publish_bucket(bucket("b1", seq))
            time.sleep(0.05)

    emit(5)
    broker.stop()
    wait_until(lambda: not sink.connected, 10, "the sink to notice the outage")
    emit(10)  # buckets closed while the broker is away
    assert sink.pending == 10  # held in the journal, not in memory
    broker.start()
    consumer.client.reconnect()
    wait_until(lambda: sink.connected, 15, "the sink to reconnect")
    emit(5)
    sink.close()
    expected = {("b1", s) for s in range(1, seq + 1)}
    consumer.wait_for(
        lambda: set(keys(consumer.json_on(f"{BASE}/counts"))) >= expected, "every bucket"
    )
    received = keys(consumer.json_on(f"{BASE}/counts"))
    assert set(received) == expected  # nothing lost, nothing foreign
    assert len(set(received)) == seq  # exactly once after dedupe by (boot, seq)
    first = list(dict.fromkeys(received))  # a resumed session may redeliver: dedupe
    replayed = [s for b, s in first if 6 <= int(str(s)) <= 15]
    assert replayed == sorted(replayed)  # the journal replays in order


def test_reset_commands_valid_ones_reach_the_inbox_invalid_ones_change_nothing(
    broker: Broker,
    lab: Lab,
    tmp_path: Path,
    subscribe: Callable[..., Subscriber],
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbox = CommandInbox()
    watcher = subscribe("admin", f"{BASE}/#")
    sink = MqttSink(make_config(broker, lab, tmp_path), boot="b1", inbox=inbox)
    sink.start()
    wait_until(lambda: sink.connected, 10, "the sink to connect")
    # The sink's own announcements on connecting arrive first; only then is "nothing else
    # happened" a fair comparison.
    announced = {f"{BASE}/status", f"{BASE}/privacy"}
    wait_until(
        lambda: announced <= {m[0] for m in watcher.messages}, 30, "the sink's announcements"
    )
    before = list(watcher.messages)
    bad = [
        b"{not json",
        b'{"action": "reboot", "id": "a", "lines": "all"}',
        b'{"action": "reset", "id": "b", "lines": "door"}',
        b'{"action": "reset", "lines": "all"}',  # no request id
        b'{"action": "reset", "id": "c", "lines": []}',
        b'{"action": "reset", "id": "d", "lines": "all", "x": 1}',
        b"[" * 5000,
        b"",  # what clearing a retained message sends
        b"  \n\t ",
    ]
    with caplog.at_level(logging.INFO, logger="edge.mqtt"):
        for payload in bad:
            watcher.client.publish(f"{BASE}/cmd/reset", payload, qos=1).wait_for_publish(5)
        unknown = b'{"action": "reset", "id": "e", "lines": ["door", "nosuch"]}'
        watcher.client.publish(f"{BASE}/cmd/reset", unknown, qos=1).wait_for_publish(5)
        wait_until(
            lambda: "does not have; its lines are: door" in caplog.text, 10, "the unknown line"
        )
    assert inbox.drain() == []
    assert caplog.text.count("ignored a reset command") == 2  # invalid ones: once a minute
    assert "more like this" not in caplog.text
    for line in caplog.text.splitlines():
        assert "{not json" not in line and "reboot" not in line and "nosuch" not in line
    published = [m for m in watcher.messages[len(before) :] if m[0] != f"{BASE}/cmd/reset"]
    assert published == []  # nothing else happened
    good = b'{"action": "reset", "id": "r-1", "lines": ["door"]}'
    for payload in (good, good, b'{"action": "reset", "id": "r-2", "lines": "all"}'):
        watcher.client.publish(f"{BASE}/cmd/reset", payload, qos=1)
    got: list[Reset] = []
    wait_until(lambda: got.extend(inbox.drain()) or len(got) == 2, 10, "two valid resets")
    assert got == [Reset(id="r-1", lines=["door"]), Reset(id="r-2", lines=None)]  # r-1 once
    # Draining (the pipeline taking them) publishes what was reset.
    watcher.wait_for(lambda: len(watcher.json_on(f"{BASE}/reset")) == 2, "what was reset")
    done = watcher.json_on(f"{BASE}/reset")
    assert [(d["id"], d["lines"], d["boot"]) for d in done] == [
        ("r-1", ["door"], "b1"),
        ("r-2", ["door"], "b1"),
    ]
    sink.close()


def test_a_retained_reset_is_not_replayed_on_reconnect(
    broker: Broker, lab: Lab, tmp_path: Path, subscribe: Callable[..., Subscriber]
) -> None:
    admin = subscribe("admin")
    admin.client.publish(f"{BASE}/cmd/reset", b"{}", qos=1, retain=True).wait_for_publish(5)
    inbox = CommandInbox()
    sink = MqttSink(make_config(broker, lab, tmp_path), boot="b1", inbox=inbox)
    sink.start()
    wait_until(lambda: sink.connected, 10, "the sink to connect")
    time.sleep(0.3)
    sink.close()
    assert inbox.drain() == []


def test_unacknowledged_buckets_of_a_previous_run_are_replayed_in_order(
    broker: Broker, lab: Lab, tmp_path: Path, subscribe: Callable[..., Subscriber]
) -> None:
    journal = Journal(tmp_path / "journal")
    for s in (7, 8, 9):
        journal.append(bucket("old", s).to_json().encode())
    journal.append(b'{"not": "a bucket"}')
    journal.close()
    watcher = subscribe("admin", f"{BASE}/counts")
    sink = MqttSink(make_config(broker, lab, tmp_path), boot="new", inbox=CommandInbox())
    sink.start()
    wait_until(lambda: sink.connected, 10, "the sink to connect")
    sink.publish_bucket(bucket("new", 1))
    sink.close()
    watcher.wait_for(lambda: len(watcher.on(f"{BASE}/counts")) == 4, "four buckets")
    assert keys(watcher.json_on(f"{BASE}/counts")) == [
        ("old", 7),
        ("old", 8),
        ("old", 9),
        ("new", 1),
    ]
    assert len(Journal(tmp_path / "journal")) == 0


def test_full_journal_counts_drops_in_state(
    broker: Broker, lab: Lab, tmp_path: Path, subscribe: Callable[..., Subscriber]
) -> None:
    doc = sensor_config(broker, lab, tmp_path / "journal")
    doc["journal"] = {"dir": str(tmp_path / "journal"), "max_messages": 10}
    # The sink is not started until the watcher listens: counts are not retained, so
    # nothing may be sent before then (event-driven, whatever the machine's load).
    sink = MqttSink(parse_config(doc), boot="b1", inbox=CommandInbox())
    for s in range(1, 13):
        sink.publish_bucket(bucket("b1", s))
    assert sink.journal.dropped == 2
    watcher = subscribe("admin", f"{BASE}/#")
    sink.start()
    wait_until(lambda: sink.connected, 60, "the sink to connect")
    state = snapshot("b1", 13, 12).model_copy(update={"dropped": sink.journal.dropped})
    sink.publish_snapshot(state)
    watcher.wait_for(lambda: len(watcher.on(f"{BASE}/counts")) == 10, "ten buckets", 60)
    watcher.wait_for(lambda: watcher.json_on(f"{BASE}/state"), "the state", 60)
    sink.close()
    assert keys(watcher.json_on(f"{BASE}/counts")) == [("b1", s) for s in range(3, 13)]
    assert watcher.json_on(f"{BASE}/state")[-1]["dropped"] == 2
    again = Journal(tmp_path / "journal", 10)
    assert again.dropped == 0  # reported in an acknowledged state: not carried any further
    again.close()


def test_drops_of_a_boot_that_never_connected_are_published_by_the_next(
    broker: Broker, lab: Lab, tmp_path: Path, subscribe: Callable[..., Subscriber]
) -> None:
    doc = sensor_config(broker, lab, tmp_path / "journal")
    doc["journal"] = {"dir": str(tmp_path / "journal"), "max_messages": 10}
    first = MqttSink(parse_config(doc), boot="b1", inbox=CommandInbox())
    for s in range(1, 16):
        first.publish_bucket(bucket("b1", s))
    first.close()  # ended before it ever reached a broker
    watcher = subscribe("admin", f"{BASE}/state")
    second = MqttSink(parse_config(doc), boot="b2", inbox=CommandInbox())
    assert second.journal.dropped == 5
    second.start()
    wait_until(lambda: second.connected, 60, "the sink to connect")
    second.publish_snapshot(snapshot("b2", 1, 0).model_copy(update={"dropped": 5}))
    watcher.wait_for(lambda: watcher.json_on(f"{BASE}/state"), "the state", 60)
    second.close()
    assert watcher.json_on(f"{BASE}/state")[-1]["dropped"] == 5


def test_tls_with_client_certificate(
    broker: Broker, lab: Lab, tmp_path: Path, subscribe: Callable[..., Subscriber]
) -> None:
    watcher = subscribe("admin", f"{BASE}/status")
    config = make_config(
        broker,
        lab,
        tmp_path,
        extra_mqtt={
            "host": "localhost",
            "port": broker.tls_port,
            "tls": {
                "ca": str(lab.dir / "ca.crt"),
                "cert": str(lab.dir / "clients" / "door-1.crt"),
                "key": str(lab.dir / "clients" / "door-1.key"),
            },
        },
    )
    sink = MqttSink(config, boot="b1", inbox=CommandInbox())
    sink.start()
    wait_until(lambda: sink.connected, 10, "a TLS connection")
    sink.close()
    watcher.wait_for(lambda: watcher.on(f"{BASE}/status") == [b"online", b"offline"], "status")


def test_protocol_3_1_1_only(
    broker: Broker, lab: Lab, tmp_path: Path, subscribe: Callable[..., Subscriber]
) -> None:
    watcher = subscribe("admin", f"{BASE}/counts")
    config = make_config(broker, lab, tmp_path, extra_mqtt={"protocol": "3.1.1"})
    sink = MqttSink(config, boot="b1", inbox=CommandInbox())
    sink.start()
    wait_until(lambda: sink.connected, 10, "the sink to connect")
    sink.publish_bucket(bucket("b1", 1))
    sink.close()
    watcher.wait_for(lambda: len(watcher.on(f"{BASE}/counts")) == 1, "the bucket")


def test_refused_credentials_are_never_treated_as_connected(
    broker: Broker, lab: Lab, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password\n")
    config = make_config(broker, lab, tmp_path, extra_mqtt={"password_file": str(wrong)})
    sink = MqttSink(config, boot="b1", inbox=CommandInbox())
    with caplog.at_level(logging.WARNING, logger="edge.mqtt.client"):
        sink.start()
        sink.publish_bucket(bucket("b1", 1))
        wait_until(lambda: "refused the connection" in caplog.text, 10, "the refusal log")
        time.sleep(0.5)  # several attempts
        assert not sink.connected
    sink.close()
    assert caplog.text.count("refused the connection") == 1  # said once, not per attempt
    assert len(Journal(tmp_path / "journal")) == 1  # the bucket waits for a good broker


def test_close_without_broker_is_bounded_and_keeps_buckets(
    broker: Broker, lab: Lab, tmp_path: Path
) -> None:
    broker.stop()
    sink = MqttSink(make_config(broker, lab, tmp_path), boot="b1", inbox=CommandInbox())
    sink.start()
    sink.publish_bucket(bucket("b1", 1))
    done = threading.Event()
    threading.Thread(target=lambda: (sink.close(), done.set()), daemon=True).start()
    assert done.wait(30), "close() must return while the broker is away"
    assert [json.loads(e.payload)["seq"] for e in Journal(tmp_path / "journal").pending()] == [1]
