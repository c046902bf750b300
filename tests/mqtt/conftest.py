"""A real mosquitto per test, configured from the project's broker_config/ files.

The broker's config is derived from broker_config/mosquitto.conf: the same settings, with
free loopback ports for its listeners, the lab certificates and password file that
broker_config/make_lab.sh creates, the project's ACL file as it is, and persistence in
the test's folder. No mocked broker.
"""

from __future__ import annotations

import getpass
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

ROOT = Path(__file__).resolve().parents[2]
BROKER_CONFIG = ROOT / "broker_config"
MOSQUITTO = "/usr/sbin/mosquitto"
SENSORS = ("hq/door-1", "hq/door-2", "branch/door-9")
SITE = "hq"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll until true; fail with `what` after `timeout` seconds (a bound, not a measurement)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


@dataclass(frozen=True)
class Lab:
    """Files made by broker_config/make_lab.sh."""

    dir: Path

    def password(self, user: str) -> str:
        return (self.dir / "passwords" / user).read_text().strip()

    def password_file(self, user: str) -> Path:
        return self.dir / "passwords" / user


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    if not Path(MOSQUITTO).exists() or shutil.which("mosquitto_passwd") is None:
        pytest.fail("mosquitto is missing: install mosquitto (make test does)")
    out = tmp_path_factory.mktemp("lab")
    subprocess.run(
        ["sh", str(BROKER_CONFIG / "make_lab.sh"), str(out), *SENSORS],
        check=True,
        capture_output=True,
    )
    return Lab(out)


def derive_config(
    source: str, *, lab: Lab, data: Path, ports: dict[int, int], client_certs: bool = False
) -> str:
    """broker_config/mosquitto.conf with test ports, lab files (the ACL as make_lab.sh
    writes it) and a private data folder; `client_certs` turns on the two settings the
    file names for demanding client certificates."""
    files = {
        "password_file": lab.dir / "passwd",
        "acl_file": lab.dir / "acl",
        "persistence_location": f"{data}/",
        "cafile": lab.dir / "ca.crt",
        "certfile": lab.dir / "broker.crt",
        "keyfile": lab.dir / "broker.key",
    }
    out: list[str] = []
    for line in source.splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        key = words[0]
        if key == "listener":
            port = ports[int(words[1])]
            out.append(f"listener {port} 127.0.0.1")
        elif key in files:
            out.append(f"{key} {files[key]}")
        elif key in ("log_dest", "pid_file", "include_dir", "user"):
            continue
        elif client_certs and key in ("require_certificate", "use_identity_as_username"):
            out.append(f"{key} true")
        else:
            out.append(line)
    out += [f"user {getpass.getuser()}", "log_dest stderr", "log_type error", "log_type warning"]
    return "\n".join(out) + "\n"


PORT_ATTEMPTS = 5
"""Starts tried before a broker whose ports keep being taken fails the test."""


@dataclass
class Broker:
    """A mosquitto process on free loopback ports; stop() and start() keep its data."""

    lab: Lab
    dir: Path
    plain_port: int = field(default_factory=free_port)
    tls_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    client_certs: bool = False
    started: bool = False

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def conf(self) -> Path:
        return self.dir / "mosquitto.conf"

    def start(self) -> None:
        """Start mosquitto and wait for both ports. A free port can be taken by someone else
        between picking and binding (a client's ephemeral port): a first start then moves
        to new free ports; a restart, whose clients know its ports, tries the same again."""
        for _ in range(PORT_ATTEMPTS):
            if self._launch():
                self.started = True
                return
            if self.started:
                time.sleep(0.5)
            else:
                self.plain_port, self.tls_port = free_port(), free_port()
        pytest.fail(f"mosquitto found its ports in use {PORT_ATTEMPTS} times")

    def _launch(self) -> bool:
        """True once both ports accept; False if mosquitto exited because a port was taken."""
        data = self.dir / "data"
        data.mkdir(parents=True, exist_ok=True)
        source = (BROKER_CONFIG / "mosquitto.conf").read_text()
        ports = {1883: self.plain_port, 8883: self.tls_port}
        self.conf.write_text(
            derive_config(
                source, lab=self.lab, data=data, ports=ports, client_certs=self.client_certs
            )
        )
        log_path = self.dir / "mosquitto.log"
        seen = log_path.stat().st_size if log_path.exists() else 0
        log = open(log_path, "ab")  # noqa: SIM115 - the process owns it
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stderr=log)
        log.close()
        deadline = time.monotonic() + 10
        while True:
            if self.process.poll() is not None:
                said = log_path.read_bytes()[seen:].decode(errors="replace")
                if "Address already in use" in said:
                    self.process = None
                    return False
                pytest.fail(f"mosquitto exited: {said}")
            try:
                socket.create_connection((self.host, self.plain_port), timeout=0.2).close()
                socket.create_connection((self.host, self.tls_port), timeout=0.2).close()
                return True
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("mosquitto did not open its ports within 10 s")
                time.sleep(0.02)

    def stop(self) -> None:
        """SIGTERM: mosquitto saves its persistence file and exits."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def crash(self) -> None:
        """SIGKILL: mosquitto dies without saving."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def broker(lab: Lab, tmp_path: Path) -> Iterator[Broker]:
    b = Broker(lab, tmp_path / "broker")
    b.start()
    yield b
    b.stop()


class Subscriber:
    """A real MQTT client that records what it receives (topic, payload, retain)."""

    def __init__(
        self,
        broker_host: str,
        port: int,
        username: str | None,
        password: str | None,
        *,
        client_id: str = "",
        persistent: bool = False,
        protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv311,
    ) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.connack: mqtt.ReasonCode | None = None
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=not persistent if protocol != MQTTProtocolVersion.MQTTv5 else None,
            protocol=protocol,
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_message = self._on_message
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.subacks: set[int] = set()  # mids of the SUBSCRIBEs the broker answered
        self.host, self.port = broker_host, port

    def _on_connect(
        self, client: mqtt.Client, u: object, f: object, rc: mqtt.ReasonCode, p: object
    ) -> None:
        self.connack = rc

    def _on_subscribe(self, client: mqtt.Client, u: object, mid: int, *rest: object) -> None:
        with self.lock:
            self.subacks.add(mid)

    def _on_message(self, client: mqtt.Client, u: object, m: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((m.topic, bytes(m.payload), bool(m.retain)))

    def connect(self, *topics: str) -> Subscriber:
        self.client.connect(self.host, self.port, keepalive=10)
        self.client.loop_start()
        wait_until(lambda: self.connack is not None, 60, "a CONNACK")
        assert self.connack is not None and not self.connack.is_failure, str(self.connack)
        mids = set()
        for topic in topics:
            result, mid = self.client.subscribe(topic, qos=1)
            assert result == mqtt.MQTT_ERR_SUCCESS
            mids.add(mid)
        # The broker answers a SUBSCRIBE once the subscription holds: after that nothing a
        # test publishes can slip past it (a fixed sleep could, on a busy machine).
        wait_until(lambda: self._subscribed(mids), 60, "the SUBACKs")
        return self

    def _subscribed(self, mids: set[int]) -> bool:
        with self.lock:
            return mids <= self.subacks

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def on(self, topic: str) -> list[bytes]:
        with self.lock:
            return [p for t, p, _ in self.messages if t == topic]

    def json_on(self, topic: str) -> list[dict[str, object]]:
        return [json.loads(p) for p in self.on(topic) if p]

    def wait_for(self, predicate: Callable[[], bool], what: str, timeout: float = 15) -> None:
        wait_until(predicate, timeout, what)


@pytest.fixture
def subscribe(broker: Broker, lab: Lab) -> Iterator[Callable[..., Subscriber]]:
    """subscribe("admin", "headcount/#") -> a connected Subscriber; closed at teardown."""
    made: list[Subscriber] = []

    def make(user: str | None, *topics: str, **kwargs: object) -> Subscriber:
        password = lab.password(user) if user is not None else None
        sub = Subscriber(broker.host, broker.plain_port, user, password, **kwargs)  # type: ignore[arg-type]
        made.append(sub)
        return sub.connect(*topics)

    yield make
    for sub in made:
        sub.close()


def sensor_config(
    broker: Broker,
    lab: Lab,
    journal: Path,
    *,
    sensor: str = "door-1",
    bucket_seconds: int = 1,
    extra_mqtt: dict[str, object] | None = None,
) -> dict[str, object]:
    """A config document for a sensor of the lab set-up on the plain loopback listener."""
    mqtt_section: dict[str, object] = {
        "host": broker.host,
        "port": broker.plain_port,
        "password_file": str(lab.password_file(sensor)),
        "reconnect_min_seconds": 0.1,
        "reconnect_max_seconds": 0.5,
        "keepalive": 5,
    }
    mqtt_section.update(extra_mqtt or {})
    return {
        "sensor": {"id": sensor, "site": SITE},
        "lines": [{"name": "door", "points": [[0.15, 0.55], [0.85, 0.55]], "inside": [0.5, 0.9]}],
        "zones": [{"name": "room", "polygon": [[0, 0.55], [1, 0.55], [1, 1], [0, 1]]}],
        "mqtt": mqtt_section,
        "publish": {"bucket_seconds": bucket_seconds, "heartbeat_seconds": 1},
        "journal": {"dir": str(journal), "max_messages": 1000},
        "privacy": {"guard": "off"},
    }


def toml_text(doc: dict[str, object]) -> str:
    """A tiny TOML writer for the config documents above (tables, arrays of tables)."""
    lines: list[str] = []

    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        raise TypeError(type(v))

    for name, section in doc.items():
        items = section if isinstance(section, list) else [section]
        for item in items:
            assert isinstance(item, dict)
            lines.append(f"[[{name}]]" if isinstance(section, list) else f"[{name}]")
            lines += [f"{k} = {value(v)}" for k, v in item.items()]
            lines.append("")
    return "\n".join(lines)


@pytest.fixture
def no_env_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEADCOUNT_MQTT_PASSWORD", raising=False)
