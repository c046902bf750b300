"""`headcount venue-bench`: how fast the venue page follows a crossing, and what the server costs.

For each fleet size it starts a private mosquitto (loopback, anonymous, no persistence),
the venue server as its own process (`python -m venue`) with one entrance per sensor,
simulated sensors publishing their retained `state` once a second (the contract's
models; one paho client per 250 sensors), and the venue page in Debian's headless
Chromium. A probe sensor then makes one crossing every `--interval` seconds; the page's
MutationObserver stamps each new figure (Date.now()), so the latency is from just
before the probe's publish to the number changing in the DOM. Meanwhile the venue
server's CPU time (utime + stime from /proc) and RSS (VmRSS) are sampled.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from edge.messages import LineTotals, Snapshot, iso_ms

log = logging.getLogger(__name__)

MOSQUITTO = "/usr/sbin/mosquitto"
SITE = "bench"
SENSORS_PER_CLIENT = 250
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OBSERVER = """() => {
  window.__seen = [];
  const node = document.getElementById('occupancy');
  new MutationObserver(() => window.__seen.push([Date.now(), node.textContent]))
    .observe(node, {childList: true, characterData: true, subtree: true});
}"""


@dataclass(frozen=True)
class Result:
    sensors: int
    events: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    cpu_percent: float
    rss_mb: float
    messages_per_second: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


@contextmanager
def _broker(folder: Path) -> Iterator[int]:
    port = _free_port()
    conf = folder / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 100000\nlog_dest stderr\nlog_type error\n"
    )
    process = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stderr=subprocess.DEVNULL)
    try:

        def up() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return True
            except OSError:
                return False

        _wait(up, 10, "mosquitto")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def _venue_toml(folder: Path, port: int, names: list[str]) -> tuple[Path, str]:
    listen = f"127.0.0.1:{_free_port()}"
    entrances = "".join(f'[[entrances]]\nsensor = "{n}"\nline = "door"\n\n' for n in names)
    text = (
        f'[venue]\nname = "bench"\nsite = "{SITE}"\ncapacity = 1000000\nwarn = 999999\n\n'
        f"{entrances}"
        f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\nusername = "venue"\n\n'
        f'[http]\nlisten = "{listen}"\n\n[history]\npath = "{folder}/history.sqlite"\n'
    )
    path = folder / "venue.toml"
    path.write_text(text)
    return path, f"http://{listen}"


class Fleet:
    """Simulated sensors: each publishes its retained state once a second, staggered."""

    def __init__(self, port: int, names: list[str]) -> None:
        self.names = names
        self.stop = threading.Event()
        self.sent = 0
        self.clients: list[mqtt.Client] = []
        for start in range(0, len(names), SENSORS_PER_CLIENT):
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=f"bench-fleet-{start}",
                protocol=MQTTProtocolVersion.MQTTv311,
            )
            client.connect("127.0.0.1", port)
            client.loop_start()
            self.clients.append(client)
        self.thread = threading.Thread(target=self._run, name="fleet", daemon=True)

    def _run(self) -> None:
        # Each sensor's message is made by the contract's model once; then only its
        # seq and ts change (so the publisher itself takes little of the machine).
        templates = [
            Snapshot(
                site=SITE,
                sensor=name,
                ts="TS",
                boot="fleet",
                seq=111111111,
                frame=222222222,
                zones={},
                lines={"door": LineTotals(in_=5, out=5)},
            ).to_json()
            for name in self.names
        ]
        seq = 0
        step = 1.0 / max(1, len(self.names))
        next_at = time.monotonic()
        while not self.stop.is_set():
            seq += 1
            for i, name in enumerate(self.names):
                client = self.clients[i // SENSORS_PER_CLIENT]
                payload = (
                    templates[i]
                    .replace('"TS"', f'"{iso_ms(time.time())}"')
                    .replace("111111111", str(seq))
                    .replace("222222222", str(seq))
                )
                client.publish(f"headcount/{SITE}/{name}/state", payload, qos=1, retain=True)
                self.sent += 1
                next_at += step
                delay = next_at - time.monotonic()
                if delay > 0 and self.stop.wait(delay):
                    return

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        for client in self.clients:
            client.disconnect()
            client.loop_stop()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


class Probe:
    """The sensor whose crossings are timed: one retained state per crossing."""

    def __init__(self, port: int, name: str) -> None:
        self.name = name
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-probe")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(self, seq: int, total_in: int) -> float:
        """Publish totals (total_in, 0); returns the time just before the publish."""
        message = Snapshot(
            site=SITE,
            sensor=self.name,
            ts=iso_ms(time.time()),
            boot="probe",
            seq=seq,
            frame=seq,
            zones={},
            lines={"door": LineTotals(in_=total_in, out=0)},
        )
        sent = time.time()
        self.client.publish(
            f"headcount/{SITE}/{self.name}/state", message.to_json(), qos=1, retain=True
        )
        return sent

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class Run:
    """What one probe run recorded."""

    published: dict[int, float]
    seen: list[list[object]]
    cpu_seconds: float
    wall_seconds: float
    fleet_messages: int
    rss_mb: list[float]


def _api_up(url: str) -> bool:
    try:
        urllib.request.urlopen(url + "/api/venue", timeout=1).close()
        return True
    except OSError:
        return False


def _stop(venue: subprocess.Popen[bytes]) -> None:
    venue.terminate()
    try:
        venue.wait(timeout=60)
    except subprocess.TimeoutExpired:
        log.warning("the venue server took over 60 s to stop; killed")
        venue.kill()
        venue.wait()


def _probe_run(
    url: str, venue: subprocess.Popen[bytes], fleet: Fleet, probe: Probe, args: argparse.Namespace
) -> Run:
    """Open the page, let it settle, then time `events` crossings of the probe."""
    from playwright.sync_api import sync_playwright

    probe.publish(1, 0)  # first sight: the probe counts from here
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = browser.new_page()
        page.goto(url + "/")
        page.wait_for_function("document.getElementById('connection').textContent === 'live'")
        time.sleep(args.warmup)
        base = int(page.locator("#occupancy").inner_text())
        page.evaluate(OBSERVER)
        cpu0, wall0, sent0 = _cpu_seconds(venue.pid), time.monotonic(), fleet.sent
        rss: list[float] = []
        published: dict[int, float] = {}
        for k in range(1, args.events + 1):
            published[base + k] = probe.publish(k + 1, k)
            rss.append(_rss_mb(venue.pid))
            time.sleep(args.interval)
        page.wait_for_function(
            "v => document.getElementById('occupancy').textContent === String(v)",
            arg=base + args.events,
            timeout=60_000,
        )
        cpu1, wall1, sent1 = _cpu_seconds(venue.pid), time.monotonic(), fleet.sent
        seen: list[list[object]] = page.evaluate("() => window.__seen")
        browser.close()
    return Run(published, seen, cpu1 - cpu0, wall1 - wall0, sent1 - sent0, rss)


def _latencies(run: Run) -> list[float]:
    """Milliseconds from each publish to the first DOM figure at or past its value (a
    figure skipped by coalescing is shown with the next one: it counts at that time)."""
    shown: dict[int, float] = {}
    for stamp, text in run.seen:
        shown.setdefault(int(str(text)), float(str(stamp)) / 1000.0)
    return [
        (min(t for v, t in shown.items() if v >= value) - sent) * 1000.0
        for value, sent in run.published.items()
    ]


def measure(n_sensors: int, args: argparse.Namespace) -> Result:
    """One fleet size: latency over `args.events` probe crossings, CPU and RSS meanwhile."""
    names = [f"s{i:04d}" for i in range(n_sensors)]
    with tempfile.TemporaryDirectory(prefix="venue-bench-") as tmp, _broker(Path(tmp)) as port:
        config, url = _venue_toml(Path(tmp), port, names)
        venue = subprocess.Popen(
            [sys.executable, "-m", "venue", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        fleet = Fleet(port, names[1:])
        probe = Probe(port, names[0])
        try:
            _wait(lambda: _api_up(url), 60, "the venue server")
            fleet.thread.start()
            run = _probe_run(url, venue, fleet, probe, args)
        finally:
            fleet.close()
            probe.close()
            _stop(venue)
    latencies = _latencies(run)
    return Result(
        sensors=n_sensors,
        events=len(latencies),
        p50_ms=statistics.median(latencies),
        p95_ms=_percentile(latencies, 0.95),
        max_ms=max(latencies),
        cpu_percent=100.0 * run.cpu_seconds / run.wall_seconds,
        rss_mb=max(run.rss_mb),
        messages_per_second=(run.fleet_messages + args.events) / run.wall_seconds,
    )


def _machine() -> list[str]:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    chromium = subprocess.run(
        [shutil.which("chromium") or "chromium", "--version"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    mosquitto = subprocess.run(
        [MOSQUITTO, "-h"], capture_output=True, text=True, check=False
    ).stdout
    load = os.getloadavg()
    return [
        f"- Machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
        f"load average at the start {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}",
        f"- Python {platform.python_version()}; starlette {version('starlette')}, "
        f"uvicorn {version('uvicorn')}, paho-mqtt {version('paho-mqtt')}, "
        f"pydantic {version('pydantic')}, prometheus-client {version('prometheus-client')}, "
        f"playwright {version('playwright')}",
        f"- {mosquitto.splitlines()[0] if mosquitto else 'mosquitto'}; {chromium}",
    ]


def render(results: list[Result], args: argparse.Namespace, machine: list[str]) -> str:
    rows = [
        f"| {r.sensors} | {r.messages_per_second:.0f} | {r.events} | {r.p50_ms:.0f} | "
        f"{r.p95_ms:.0f} | {r.max_ms:.0f} | {r.cpu_percent:.1f} | {r.rss_mb:.0f} |"
        for r in results
    ]
    hundred = next((r for r in results if r.sensors == 100), None)
    verdict = []
    worst = max(r.p95_ms for r in results)
    verdict.append(
        f"- Latency p95 over every size: {worst:.0f} ms (target under 1000 ms, aim 500 ms): "
        + ("met" if worst < 1000 else "NOT met")
        + (", aim met" if worst < 500 else "")
    )
    if hundred is not None:
        verdict.append(
            f"- 100 sensors: {hundred.cpu_percent:.1f} % of one core (target under 10 %): "
            + ("met" if hundred.cpu_percent < 10 else "NOT met")
            + f"; {hundred.rss_mb:.0f} MB RSS (target under 150 MB): "
            + ("met" if hundred.rss_mb < 150 else "NOT met")
        )
    return "\n".join(
        [
            "# Venue server: latency to the page, CPU and memory",
            "",
            "Measured by `headcount venue-bench` (lab/venue_bench.py): a private mosquitto, the",
            "venue server as its own process, simulated sensors each publishing its retained",
            "`state` once a second, the page in Debian's headless Chromium, and a probe sensor",
            f"making one crossing every {args.interval} s ({args.events} per size). Latency: from",
            "just before the probe's publish to the number changing in the page's DOM",
            "(MutationObserver, Date.now(); one clock). CPU: the venue process's utime + stime",
            "over the probe's run, as % of one core; RSS: the largest VmRSS sampled.",
            "",
            "| sensors | messages/s in | events | p50 ms | p95 ms | max ms "
            "| CPU % of a core | RSS MB |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            *verdict,
            "",
            "Command: `headcount venue-bench --sensors "
            + ",".join(str(r.sensors) for r in results)
            + f" --events {args.events} --interval {args.interval}`",
            "",
            *machine,
            "",
        ]
    )


def run(args: argparse.Namespace) -> int:
    if not Path(MOSQUITTO).exists():
        print(
            "headcount venue-bench: mosquitto is missing; apt-get install mosquitto",
            file=sys.stderr,
        )
        return 2
    machine = _machine()
    results = []
    for n in (int(x) for x in args.sensors.split(",")):
        result = measure(n, args)
        print(json.dumps(result.__dict__), flush=True)
        results.append(result)
    text = render(results, args, machine)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    print(text)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = subparsers.add_parser(
        "venue-bench", help="measure the venue page's latency and the venue server's CPU and RSS"
    )
    bench.add_argument("--sensors", default="10,100,1000", help="fleet sizes, comma-separated")
    bench.add_argument("--events", type=int, default=200, help="probe crossings per size")
    bench.add_argument("--interval", type=float, default=0.15, help="seconds between crossings")
    bench.add_argument("--warmup", type=float, default=10.0, help="seconds before measuring")
    bench.add_argument("--out", type=Path, help="write the Markdown results here")
    bench.set_defaults(func=run)
