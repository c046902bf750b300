"""With noise on, no log line carries an exact count (issue 12, item 15).

The real CLI runs a seeded scene at DEBUG with both sinks against a real mosquitto,
once without noise (the exact totals are what it publishes) and once with `epsilon`;
every line the noisy run logs is searched for those exact totals.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.mqtt.conftest import ROOT, Broker, Lab, sensor_config, toml_text

PREFIX = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ [\w.]+: ")
NUMBER = re.compile(r"(?<![\w./:-])\d+(?![\w./-])")
"""A number standing alone: not part of a path, a name, an address or a decimal."""


def run_cli(
    tmp_path: Path, broker: Broker, lab: Lab, privacy: dict[str, object]
) -> tuple[str, str]:
    """(stdout, stderr) of `headcount --log-level debug run --sink both` on door_single."""
    tmp_path.mkdir()
    doc = sensor_config(broker, lab, tmp_path / "journal", bucket_seconds=5)
    doc["privacy"] = {"guard": "enforce", **privacy}
    config = tmp_path / "sensor.toml"
    config.write_text(toml_text(doc))
    env = {k: v for k, v in os.environ.items() if k != "HEADCOUNT_MQTT_PASSWORD"}
    done = subprocess.run(
        [sys.executable, "-m", "edge.cli", "--log-level", "debug", "run", "--config", str(config)]
        + ["--source", "synthetic:door_single", "--sink", "both", "--publish-every", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout, done.stderr


def final_totals(stdout: str) -> tuple[int, int]:
    last = json.loads(stdout.splitlines()[-1])
    return last["lines"]["door"]["in"], last["lines"]["door"]["out"]


def test_no_log_line_of_a_noisy_run_carries_an_exact_count(
    tmp_path: Path, broker: Broker, lab: Lab
) -> None:
    exact_out, exact_err = run_cli(tmp_path / "exact", broker, lab, {})
    exact = final_totals(exact_out)
    assert exact == (13, 7)  # door_single's truth, counted exactly
    assert f"totals {{'door': {exact}}}" in exact_err  # without noise the exit line tells them

    noisy_out, noisy_err = run_cli(tmp_path / "noisy", broker, lab, {"epsilon": 0.5})
    lines = noisy_err.splitlines()
    assert any("line totals carry noise" in line for line in lines)
    for line in lines:
        message = PREFIX.sub("", line)
        numbers = {int(n) for n in NUMBER.findall(message)}
        assert not numbers & set(exact), f"a log line may carry an exact count: {line}"
    assert len(noisy_out.splitlines()) == len(exact_out.splitlines())  # the same run, noisier
