"""Hardware-in-the-loop with faults: a real sensor process, its broker, and a proxy between them.

The rig starts `headcount run --sink mqtt` as a child process whose `[mqtt]` points at the
harness's `TcpProxy` in front of the broker, listens on the broker itself, and injects a
plan of faults: a broker restart (stop, wait, start; the sensor is let back in once the
listener has subscribed again), a cut network (the proxy drops every connection for a
while), and a stopped source (planned into the `paced:` source as a stall). Checks:

- `availability`: after every fault the sensor is back within `recover_s`: an `online`
  status (network and broker faults) and a fresh snapshot arrive after the fault's end.
- `nothing lost`: for every boot, the closed buckets received (deduplicated by boot and seq)
  add up exactly to that boot's last cumulative totals.
"""

from __future__ import annotations

import contextlib
import getpass
import itertools
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import tomlkit

from lab.verify.listen import Listener
from lab.verify.proxy import TcpProxy
from lab.verify.score import Check

log = logging.getLogger(__name__)

FaultKind = Literal["broker restart", "network cut", "source stall"]


@dataclass(frozen=True)
class Fault:
    """One injected fault at clip time `at_s` (as the sensor's snapshots report it), lasting
    `seconds` of wall-clock time."""

    kind: FaultKind
    at_s: float
    seconds: float


@dataclass
class Injected:
    """A fault as it happened: wall-clock end, and when the sensor was seen back."""

    fault: Fault
    ended: float = 0.0
    back: float | None = None


class BrokerControl(Protocol):
    """The broker the harness may restart (e.g. a mosquitto it started itself)."""

    def stop(self) -> None: ...

    def start(self) -> None: ...


def default_plan(duration_s: float, crossings: Sequence[float] = ()) -> tuple[Fault, ...]:
    """A broker restart at 20 % and a network cut at 45 % of the clip (counts made meanwhile
    must arrive later), and a 3 s source stall in the middle of the longest quiet stretch
    of the second half (a stalled camera misses whoever crosses meanwhile, by nature)."""
    edges = sorted({0.5 * duration_s, duration_s, *(t for t in crossings if t > 0.5 * duration_s)})
    gaps = [(b - a, (a + b) / 2) for a, b in itertools.pairwise(edges)]
    stall_at = max(gaps)[1] - 1.5 if gaps else 0.7 * duration_s
    return (
        Fault("broker restart", 0.20 * duration_s, 2.0),
        Fault("network cut", 0.45 * duration_s, 4.0),
        Fault("source stall", max(0.0, stall_at), 3.0),
    )


def stall_option(plan: Sequence[Fault]) -> str:
    """The `?stall=AT:SECONDS` option of the paced source for the plan's (first) stall."""
    stall = next((f for f in plan if f.kind == "source stall"), None)
    return f"?stall={stall.at_s:g}:{stall.seconds:g}" if stall else ""


def sensor_config_text(base: dict[str, object], proxy_port: int, journal: Path) -> str:
    """The sensor's config document with `[mqtt]` at the proxy and a journal of its own."""
    doc = {key: value for key, value in base.items()}
    mqtt = dict(doc.get("mqtt", {}) or {})  # type: ignore[call-overload]
    mqtt.update(host="127.0.0.1", port=proxy_port)
    mqtt.setdefault("reconnect_min_seconds", 0.2)
    mqtt.setdefault("reconnect_max_seconds", 1.0)
    doc["mqtt"] = mqtt
    doc["journal"] = {**dict(doc.get("journal", {}) or {}), "dir": str(journal)}  # type: ignore[call-overload]
    return tomlkit.dumps(doc)


@dataclass
class SensorProcess:
    """`headcount run --sink mqtt` as a child process, its log in a file."""

    config: Path
    source_uri: str
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-c", "import sys; from edge.cli import main; sys.exit(main())"]
        args = ["run", "--config", str(self.config), "--source", self.source_uri, "--sink", "mqtt"]
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(
                [*command, *args],
                stdout=subprocess.DEVNULL,
                stderr=log_file,
                env={**os.environ, **self.env},
            )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait(self, timeout: float) -> int | None:
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _restart(
    broker: BrokerControl,
    proxy: TcpProxy,
    listener: Listener,
    seconds: float,
    stop: threading.Event,
) -> None:
    """Stop the broker for `seconds`, start it, and let the sensor back in (through the
    proxy) only once the listener has subscribed again: a subscriber that is away when a
    bucket is published misses it, since not every broker keeps sessions over a restart."""
    subscribed = listener.subscriptions()
    broker.stop()
    proxy.cut()
    stop.wait(seconds)
    broker.start()
    if not listener.wait_resubscribed(subscribed, timeout=60.0):
        log.warning("the listener did not subscribe again within 60 s of the broker's restart")
    proxy.restore()


def clip_clock(listener: Listener) -> float:
    """The sensor's clip time: the frame of the latest snapshot / fps (-1 before the first)."""
    last = listener.last_snapshot
    return last[1].frame / listener.fps if last is not None else -1.0


def inject(
    plan: Sequence[Fault],
    listener: Listener,
    broker: BrokerControl,
    proxy: TcpProxy,
    stop: threading.Event,
    *,
    alive: Callable[[], bool] = lambda: True,
) -> list[Injected]:
    """Apply the plan's faults when the sensor's clip time reaches them (the stall is the
    source's own, so it is only recorded); stops early if the sensor exits."""
    done: list[Injected] = []
    for fault in sorted(plan, key=lambda f: f.at_s):
        if fault.kind == "source stall":
            done.append(Injected(fault))  # planned into the source; checked from the snapshots
            continue
        while clip_clock(listener) < fault.at_s and alive():
            if stop.wait(0.05):
                return done
        if not alive():
            break
        record = Injected(fault)
        log.info("fault: %s for %.1f s", fault.kind, fault.seconds)
        if fault.kind == "broker restart":
            _restart(broker, proxy, listener, fault.seconds, stop)
        else:
            proxy.cut()
            stop.wait(fault.seconds)
            proxy.restore()
        record.ended = time.time()
        done.append(record)
    return done


def _recovery(record: Injected, listener: Listener) -> float | None:
    """Seconds from the fault's end until the sensor was back, or None if it never was.

    Broker and network: until an `online` status followed by a snapshot. Stall: from the
    last snapshot before the stall point to the first after it, less the planned stall.
    """
    fault = record.fault
    if fault.kind == "source stall":
        arrivals = listener.timeline()
        before = [t for t, clip in arrivals if clip <= fault.at_s]
        after = [t for t, clip in arrivals if clip > fault.at_s]
        if not before or not after:
            return None
        record.ended = before[-1] + fault.seconds
        record.back = after[0]
        return max(0.0, after[0] - record.ended)
    online = listener.online_after(record.ended)
    if online is None or not listener.snapshots_after(online):
        return None
    record.back = online
    return online - record.ended


def availability_check(injected: Sequence[Injected], listener: Listener, recover_s: float) -> Check:
    """Back after every fault within `recover_s`: see `_recovery`."""
    notes: list[str] = []
    ok = bool(injected)
    for record in injected:
        seconds = _recovery(record, listener)
        ok = ok and seconds is not None and seconds <= recover_s
        when = "not back" if seconds is None else f"back {seconds:.1f} s after"
        notes.append(f"{record.fault.kind} at {record.fault.at_s:.1f} s: {when}")
    return Check("availability", ok, "; ".join(notes) or "no fault injected")


def nothing_lost_check(listener: Listener) -> Check:
    """Every boot's buckets add up to its last cumulative totals."""
    totals = listener.counts.boot_totals()
    buckets = listener.bucket_totals()
    wrong = [
        f"boot {boot}: buckets {buckets.get(boot, {})} vs totals {lines}"
        for boot, lines in totals.items()
        if _nonzero(buckets.get(boot, {})) != _nonzero(lines)
    ]
    if wrong:
        return Check("nothing lost", False, "; ".join(wrong))
    return Check(
        "nothing lost", True, f"the buckets of {len(totals)} boot(s) add up to their totals"
    )


def _nonzero(lines: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    return {name: row for name, row in lines.items() if row.get("in") or row.get("out")}


@contextlib.contextmanager
def proxied(target: tuple[str, int]) -> Iterator[TcpProxy]:
    proxy = TcpProxy(target).start()
    try:
        yield proxy
    finally:
        proxy.close()


def settle(listener: Listener, sensor: SensorProcess, timeout: float) -> None:
    """Wait for the sensor's clean exit and for its last buckets to arrive (bounded)."""
    sensor.wait(timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if listener.is_offline() and nothing_lost_check(listener).passed:
            return
        time.sleep(0.1)


def journal_dir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="headcount-verify-journal-")


@dataclass(frozen=True)
class RigResult:
    """What a fault run saw, its checks, and the faults as they happened."""

    checks: tuple[Check, ...]
    injected: tuple[Injected, ...]
    exit_status: int | None


@dataclass(frozen=True)
class Rig:
    """Everything a fault run needs: the sensor's config, its source, the broker and the plan."""

    config_doc: dict[str, object]
    source_uri: str
    broker: BrokerControl
    broker_target: tuple[str, int]
    plan: tuple[Fault, ...]
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    recover_s: float = 30.0
    settle_s: float = 60.0


def run_rig(rig: Rig, listener: Listener) -> RigResult:
    """Run the sensor process through the proxy, inject the plan, wait for its end, check."""
    rig.workdir.mkdir(parents=True, exist_ok=True)
    with proxied(rig.broker_target) as proxy:
        config = rig.workdir / "sensor.toml"
        config.write_text(
            sensor_config_text(rig.config_doc, proxy.port, rig.workdir / "journal"),
            encoding="utf-8",
        )
        sensor = SensorProcess(config, rig.source_uri, rig.workdir / "sensor.log", rig.env)
        sensor.start()
        stop = threading.Event()
        try:
            injected = inject(rig.plan, listener, rig.broker, proxy, stop, alive=sensor.running)
            settle(listener, sensor, rig.settle_s)
        finally:
            stop.set()
            sensor.stop()
        status = sensor.process.returncode if sensor.process is not None else None
    checks = (availability_check(injected, listener, rig.recover_s), nothing_lost_check(listener))
    return RigResult(checks, tuple(injected), status)


class LocalMosquitto:
    """A mosquitto the harness starts on a free loopback port (anonymous, persistent)."""

    def __init__(self, workdir: Path, binary: str = "/usr/sbin/mosquitto") -> None:
        import shutil
        import socket

        found = binary if Path(binary).exists() else shutil.which("mosquitto")
        if found is None:
            raise FileNotFoundError("--faults needs mosquitto: apt install mosquitto")
        self.binary = found
        self.workdir = workdir
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        import socket

        data = self.workdir / "mosquitto"
        data.mkdir(parents=True, exist_ok=True)
        conf = data / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {data}/\nlog_dest stderr\nlog_type error\n"
            # as root, mosquitto would drop to user `mosquitto`, unable to save its sessions
            f"user {getpass.getuser()}\n",
            encoding="utf-8",
        )
        self.process = subprocess.Popen(
            [self.binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            time.sleep(0.05)
        from lab.verify.inprocess import RunError

        self.stop()
        raise RunError(f"mosquitto did not open port {self.port} within 10 s; check {self.binary}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None
