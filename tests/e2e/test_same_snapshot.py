"""stdout and MQTT publish the same snapshot (issue 13): `--sink both` against a real
mosquitto; every `state` payload the broker delivered is, byte for byte, a line stdout
printed, the retained one is the last line, and it carries the journal's `dropped`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.mqtt.conftest import ROOT, SITE, Broker, Lab, Subscriber, sensor_config, toml_text


def test_stdout_and_mqtt_carry_identical_snapshots(
    tmp_path: Path, broker: Broker, lab: Lab
) -> None:
    doc = sensor_config(broker, lab, tmp_path / "journal", bucket_seconds=5)
    config = tmp_path / "sensor.toml"
    config.write_text(toml_text(doc))
    state = f"headcount/{SITE}/door-1/state"
    watcher = Subscriber(broker.host, broker.plain_port, "admin", lab.password("admin"))
    watcher.connect(state, f"headcount/{SITE}/door-1/status")
    try:
        env = {k: v for k, v in os.environ.items() if k != "HEADCOUNT_MQTT_PASSWORD"}
        done = subprocess.run(
            [sys.executable, "-m", "edge.cli", "run", "--config", str(config)]
            + ["--source", "synthetic:door_single", "--sink", "both", "--publish-every", "0"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        watcher.wait_for(
            lambda: watcher.on(f"headcount/{SITE}/door-1/status")[-1:] == [b"offline"],
            "status offline",
            timeout=60,
        )
        printed = [line.encode() for line in done.stdout.splitlines()]
        delivered = watcher.on(state)
    finally:
        watcher.close()
    assert delivered, "no state reached the broker"
    assert set(delivered) <= set(printed)
    assert delivered[-1] == printed[-1]
    assert b'"dropped":0' in printed[-1]
    assert b'"door":{"in":13,"out":7}' in printed[-1]
