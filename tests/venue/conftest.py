"""Real parts for the venue tests: mosquitto, sensors and the venue server as processes.

The broker is tests/mqtt's (the project's mosquitto.conf and ACL, on free loopback
ports); the lab adds the `venue` user. The page tests use the suite's headless Chromium
(tests/conftest.py). Every wait polls an event with a generous bound.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.mqtt.conftest import (
    BROKER_CONFIG,
    MOSQUITTO,
    Broker,
    Lab,
    free_port,
    toml_text,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[2]
SITE = "hq"
SENSORS = ("s1", "s2", "s3")
PASSWORD = "front-desk-secret"


@pytest.fixture(scope="session")
def vlab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    if not Path(MOSQUITTO).exists():
        pytest.fail("mosquitto is missing: install mosquitto (make test does)")
    out = tmp_path_factory.mktemp("venue-lab")
    subprocess.run(
        ["sh", str(BROKER_CONFIG / "make_lab.sh"), str(out), *SENSORS],
        check=True,
        capture_output=True,
    )
    return Lab(out)


@pytest.fixture
def vbroker(vlab: Lab, tmp_path: Path) -> Iterator[Broker]:
    b = Broker(vlab, tmp_path / "broker")
    b.start()
    yield b
    b.stop()


class Answers:
    """Lines a child prints, read on a thread so a wait never blocks on a pipe."""

    def __init__(self, stream: Any) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def expect(self, prefix: str, timeout: float = 30) -> str:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no '{prefix}' answer within {timeout} s")
        assert line.startswith(prefix), line
        return line


@dataclass
class SensorProcess:
    """tests/venue/fake_sensor.py as a child process."""

    name: str
    broker: Broker
    lab: Lab
    keepalive: int = 5
    process: subprocess.Popen[str] | None = None
    answers: Answers | None = None
    expected_in: int = 0
    expected_out: int = 0

    def start(self) -> SensorProcess:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.venue.fake_sensor",
                "--port",
                str(self.broker.plain_port),
                "--sensor",
                self.name,
                "--password-file",
                str(self.lab.password_file(self.name)),
                "--keepalive",
                str(self.keepalive),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.answers = Answers(self.process.stdout)
        self.answers.expect("ok start")
        return self

    def do(self, command: str) -> None:
        assert self.process is not None and self.process.stdin is not None and self.answers
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        self.answers.expect(f"ok {command}")

    def cross(self, n_in: int, n_out: int) -> None:
        self.do(f"cross {n_in} {n_out}")
        self.expected_in += n_in
        self.expected_out += n_out

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def venue_doc(broker: Broker, lab: Lab, folder: Path, **venue: object) -> dict[str, object]:
    password_file = folder / "http.password"
    password_file.write_text(PASSWORD + "\n")
    section: dict[str, object] = {
        "name": "main",
        "site": SITE,
        "timezone": "Europe/Berlin",
        "capacity": 12,
        "warn": 8,
        "hysteresis": 2,
        "reset_at": "04:00",
    }
    section.update(venue)
    return {
        "venue": section,
        "entrances": [
            {"sensor": "s1", "line": "door"},
            {"sensor": "s2", "line": "door"},
            {"sensor": "s3", "line": "door", "reverse": True},
        ],
        "areas": [
            {
                "name": "hall",
                "zones": [{"sensor": "s1", "zone": "room"}, {"sensor": "s2", "zone": "room"}],
            }
        ],
        "mqtt": {
            "host": broker.host,
            "port": broker.plain_port,
            "username": "venue",
            "password_file": str(lab.password_file("venue")),
            "keepalive": 5,
            "reconnect_min_seconds": 1,
            "reconnect_max_seconds": 1,
        },
        "http": {"listen": f"127.0.0.1:{free_port()}", "password_file": str(password_file)},
        "history": {"path": str(folder / "history.sqlite")},
    }


def areas_toml(doc: dict[str, object]) -> str:
    """toml_text cannot write inline tables; areas and [mqtt.tls] are written by hand."""
    areas = doc.pop("areas")
    mqtt = dict(doc["mqtt"])  # type: ignore[call-overload]
    tls = mqtt.pop("tls", None)
    text = toml_text({**doc, "mqtt": mqtt})
    if tls is not None:
        text += "[mqtt.tls]\n" + "".join(f'{k} = "{v}"\n' for k, v in tls.items()) + "\n"
    for area in areas:  # type: ignore[attr-defined]
        zones = ", ".join(
            f'{{sensor = "{z["sensor"]}", zone = "{z["zone"]}"}}' for z in area["zones"]
        )
        text += f'[[areas]]\nname = "{area["name"]}"\nzones = [{zones}]\n\n'
    return text


@dataclass
class VenueProcess:
    """`headcount venue` as a child process, restartable on the same history file."""

    folder: Path
    doc: dict[str, object]
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.folder / "venue.log"
        self.config = self.folder / "venue.toml"
        self.config.write_text(areas_toml(dict(self.doc)))

    @property
    def url(self) -> str:
        return f"http://{self.doc['http']['listen']}"  # type: ignore[index]

    def start(self) -> VenueProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the process owns it
        env = dict(os.environ)
        env.pop("HEADCOUNT_MQTT_PASSWORD", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "venue", "--config", str(self.config)],
            cwd=ROOT,
            stdout=log,
            stderr=log,
            env=env,
        )
        log.close()
        wait_until(self._serving, 60, "the venue server's HTTP API")
        wait_until(lambda: "connected to the broker" in self.log(), 60, "the venue's connection")
        return self

    def _serving(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            pytest.fail(f"the venue server exited:\n{self.log()}")
        try:
            self.api()
            return True
        except (OSError, urllib.error.URLError):
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def api(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/api/venue", timeout=10) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]

    def post(
        self, path: str, body: dict[str, object], password: str | None
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Content-Type": "application/json"}
        if password is not None:
            headers["Authorization"] = (
                "Basic " + base64.b64encode(f"staff:{password}".encode()).decode()
            )
        request = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], what: str, timeout: float = 60
    ) -> dict[str, Any]:
        seen: dict[str, Any] = {}

        def check() -> bool:
            seen.update(self.api())
            return predicate(seen)

        try:
            wait_until(check, timeout, what)
        except BaseException:
            print(self.log(), file=sys.stderr)
            raise
        return seen

    def stop(self) -> None:
        """SIGTERM: a clean stop (offline published, the store closed)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self.process = None


@pytest.fixture
def sensors(vbroker: Broker, vlab: Lab) -> Iterator[dict[str, SensorProcess]]:
    made = {name: SensorProcess(name, vbroker, vlab) for name in SENSORS}
    yield made
    for sensor in made.values():
        sensor.stop()


@pytest.fixture
def make_venue(vbroker: Broker, vlab: Lab, tmp_path: Path) -> Iterator[Callable[..., VenueProcess]]:
    made: list[VenueProcess] = []

    def make(**venue: object) -> VenueProcess:
        folder = tmp_path / f"venue{len(made)}"
        folder.mkdir()
        process = VenueProcess(folder, venue_doc(vbroker, vlab, folder, **venue))
        made.append(process)
        return process

    yield make
    for process in made:
        process.stop()


def occupancy_of(sensors: dict[str, SensorProcess]) -> int:
    """Σ over entrances of (in - out); s3's line is reversed in the venue."""
    total = 0
    for name, sensor in sensors.items():
        sign = -1 if name == "s3" else 1
        total += sign * (sensor.expected_in - sensor.expected_out)
    return total
