"""The whole sensor process (`headcount run --sink mqtt`) against a real mosquitto:
last will on kill -9, clean exit, broker restart mid-run, journal replay after kill -9."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge.journal import LOG_NAME, Journal, _scan
from tests.mqtt.conftest import ROOT, Broker, Lab, Subscriber, sensor_config, toml_text, wait_until

BASE = "headcount/hq/door-1"


def long_scene(tmp_path: Path) -> Path:
    """door_single, made long enough that the run lasts while the test acts on it."""
    text = (ROOT / "lab" / "sim" / "scenes" / "door_single.toml").read_text()
    text = re.sub(r"(?m)^duration = .*$", "duration = 3000", text)
    text = re.sub(r"(?m)^count = .*$", "count = 400", text)
    text = re.sub(r"(?ms)^\[expected[^\]]*\].*\Z", "", text)  # the pinned truth no longer holds
    path = tmp_path / "long_door.toml"
    path.write_text(text)
    return path


class Sensor:
    def __init__(
        self,
        broker: Broker,
        lab: Lab,
        tmp_path: Path,
        bucket_seconds: int = 10,
        *,
        journal: Path | None = None,
        sink: str = "mqtt",
        launcher: list[str] | None = None,
    ) -> None:
        self.journal = journal if journal is not None else tmp_path / "journal"
        doc = sensor_config(broker, lab, self.journal, bucket_seconds=bucket_seconds)
        self.config = tmp_path / "sensor.toml"
        self.config.write_text(toml_text(doc))
        self.scene = long_scene(tmp_path)
        self.log = tmp_path / "sensor.log"
        self.stdout = tmp_path / "sensor.out"
        self.sink = sink
        self.launcher = launcher if launcher is not None else ["-m", "edge.cli"]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k != "HEADCOUNT_MQTT_PASSWORD"}
        with open(self.log, "ab") as log, open(self.stdout, "ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    *self.launcher,
                    "run",
                    "--config",
                    str(self.config),
                    "--source",
                    f"synthetic:{self.scene}",
                    "--sink",
                    self.sink,
                ],
                stdout=out,
                stderr=log,
                env=env,
                cwd=ROOT,
            )

    def signal(self, sig: int) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        code = self.process.wait(timeout=30)
        self.process = None
        return code

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def journal_entries(self) -> int:
        path = self.journal / LOG_NAME
        return len(_scan(path.read_bytes()).live) if path.exists() else 0


@pytest.fixture
def sensor(broker: Broker, lab: Lab, tmp_path: Path) -> Iterator[Sensor]:
    s = Sensor(broker, lab, tmp_path)
    yield s
    s.stop()


def buckets(sub: Subscriber) -> list[dict[str, object]]:
    return sub.json_on(f"{BASE}/counts")


def check_complete(received: list[dict[str, object]], final: dict[str, object]) -> None:
    """Buckets of one boot, deduped by (boot, seq), tile the run and sum to its totals."""
    unique = {(b["boot"], b["seq"]): b for b in received}
    ordered = sorted(unique.values(), key=lambda b: int(str(b["seq"])))
    assert {b["boot"] for b in ordered} == {final["boot"]}
    for before, after in itertools.pairwise(ordered):
        assert after["start"] == before["end"], "a bucket is missing"
    lines = final["lines"]
    assert isinstance(lines, dict)
    for name, totals in lines.items():
        for key in ("in", "out"):
            total = sum(int(b["lines"][name][key]) for b in ordered)  # type: ignore[index]
            assert total == totals[key], f"{name} {key}: buckets {total} != state {totals[key]}"


def final_state(sub: Subscriber) -> dict[str, object]:
    return sub.json_on(f"{BASE}/state")[-1]


def test_kill_9_leaves_offline_by_last_will(
    sensor: Sensor, subscribe: Callable[..., Subscriber]
) -> None:
    watcher = subscribe("admin", f"{BASE}/status")
    sensor.start()
    watcher.wait_for(lambda: watcher.on(f"{BASE}/status")[-1:] == [b"online"], "online")
    sensor.signal(signal.SIGKILL)
    watcher.wait_for(lambda: watcher.on(f"{BASE}/status")[-1:] == [b"offline"], "the last will")
    late = subscribe("dashboard", f"{BASE}/status")
    late.wait_for(lambda: late.messages[-1:] == [(f"{BASE}/status", b"offline", True)], "retained")


def test_sigterm_closes_the_bucket_says_offline_and_ignores_bad_resets(
    sensor: Sensor, subscribe: Callable[..., Subscriber]
) -> None:
    watcher = subscribe("admin", f"{BASE}/#")
    sensor.start()
    watcher.wait_for(lambda: len(buckets(watcher)) >= 3, "some buckets")
    for payload in (b"{oops", b'{"action": "reset", "extra": 1}', b"x" * 4096):
        watcher.client.publish(f"{BASE}/cmd/reset", payload, qos=1).wait_for_publish(5)
    n = len(buckets(watcher))
    watcher.wait_for(lambda: len(buckets(watcher)) >= n + 3, "more buckets after the resets")
    assert sensor.signal(signal.SIGTERM) == 0
    watcher.wait_for(lambda: watcher.on(f"{BASE}/status")[-1:] == [b"offline"], "offline")
    states = watcher.json_on(f"{BASE}/state")
    assert all("resets" not in s for s in states)
    ins = [s["lines"]["door"]["in"] for s in states]  # type: ignore[index]
    assert ins == sorted(ins), "totals went down: a bad reset changed something"
    check_complete(buckets(watcher), final_state(watcher))
    assert "ignored a reset command" in sensor.log.read_text()


def test_a_valid_reset_is_announced_in_state(
    sensor: Sensor, subscribe: Callable[..., Subscriber]
) -> None:
    watcher = subscribe("admin", f"{BASE}/state")
    sensor.start()
    watcher.wait_for(lambda: len(watcher.on(f"{BASE}/state")) >= 2, "state")
    reset = b'{"action": "reset", "id": "r-1", "lines": "all"}'
    watcher.client.publish(f"{BASE}/cmd/reset", reset, qos=1)
    watcher.wait_for(
        lambda: any(s.get("resets") == 1 for s in watcher.json_on(f"{BASE}/state")), "resets=1"
    )
    sensor.signal(signal.SIGTERM)


def test_broker_restart_mid_run_every_bucket_arrives_once_after_dedupe(
    broker: Broker, sensor: Sensor, subscribe: Callable[..., Subscriber]
) -> None:
    consumer = subscribe("dashboard", f"{BASE}/#", client_id="consumer-7", persistent=True)
    sensor.start()
    consumer.wait_for(lambda: len(buckets(consumer)) >= 3, "buckets before the outage")
    broker.stop()
    wait_until(lambda: sensor.journal_entries() >= 5, 30, "buckets journaled in the outage")
    broker.start()
    consumer.client.reconnect()
    n = len(buckets(consumer))
    consumer.wait_for(lambda: len(buckets(consumer)) >= n + 10, "buckets after the outage")
    assert sensor.signal(signal.SIGTERM) == 0
    consumer.wait_for(lambda: consumer.on(f"{BASE}/status")[-1:] == [b"offline"], "offline")
    check_complete(buckets(consumer), final_state(consumer))


def test_kill_9_and_restart_replays_the_journal(
    broker: Broker, sensor: Sensor, subscribe: Callable[..., Subscriber]
) -> None:
    broker.stop()
    sensor.start()
    wait_until(lambda: sensor.journal_entries() >= 3, 30, "buckets in the journal")
    sensor.signal(signal.SIGKILL)
    journal = Journal(sensor.journal)
    kept = [json.loads(e.payload) for e in journal.pending()]
    journal.close()
    assert len(kept) >= 3
    broker.start()
    watcher = subscribe("admin", f"{BASE}/counts")
    sensor.start()
    keys = [(b["boot"], b["seq"]) for b in kept]
    watcher.wait_for(
        lambda: set(keys) <= {(b["boot"], b["seq"]) for b in buckets(watcher)}, "the replay"
    )
    sensor.signal(signal.SIGTERM)
    got = [(b["boot"], b["seq"]) for b in buckets(watcher)]
    replayed = [k for k in got if k[0] == kept[0]["boot"]]
    assert replayed == keys  # in order, each once
    assert got[: len(keys)] == keys  # before the new boot's buckets
    for b in kept:
        assert b in buckets(watcher)  # byte-for-byte the same content
