"""`headcount demo`: the whole path on real footage, shown live in the terminal.

The sensor counts people in a sample video, publishes over MQTT (to an embedded broker
started in this process unless `--broker` names one), and a subscriber in the same
process shows what anyone watching the broker receives: counts, nothing else.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.bootstrap import StartupError, build_sensor
from edge.config import Config, parse_config
from edge.frames import Frame, SourceError
from edge.tracks import Tracks

log = logging.getLogger(__name__)

SITE = "sample"
SENSOR = "demo"


def demo_config(video: Path, host: str, port: int, journal: Path, protocol: str = "auto") -> Config:
    """Lines and zones drawn for the opencv-doc pedestrian video (768x576 plaza)."""
    return parse_config(
        {
            "sensor": {"id": SENSOR, "site": SITE},
            "lines": [
                {"name": "lamp", "points": [[0.55, 0.22], [0.55, 0.85]], "inside": [0.9, 0.5]},
                {"name": "road", "points": [[0.72, 0.42], [1.0, 0.42]], "inside": [0.85, 0.8]},
            ],
            "zones": [
                {"name": "walkway", "polygon": [[0, 0.3], [1, 0.25], [1, 0.85], [0, 0.5]]},
                {"name": "lawn", "polygon": [[0, 0.5], [0.5, 0.7], [0.5, 1], [0, 1]]},
            ],
            "source": {"uri": str(video)},
            "detector": {"model": "default", "threads": 2},
            "mqtt": {"host": host, "port": port, "discovery": True, "protocol": protocol},
            "publish": {"bucket_seconds": 10, "heartbeat_seconds": 5},
            "journal": {"dir": str(journal)},
            "privacy": {"guard": "off"},
        },
        "demo config",
    )


@dataclass
class Received:
    """What the demo's subscriber has seen on the broker."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    messages: int = 0
    status: str = "-"
    state: dict[str, Any] | None = None
    buckets: list[dict[str, Any]] = field(default_factory=list)
    topics: set[str] = field(default_factory=set)


@contextmanager
def _subscriber(host: str, port: int, received: Received) -> Iterator[None]:
    """What any subscriber of the sensor's topics would see, kept for the view."""
    from lab.embedded_broker import watch

    def on_message(topic: str, payload: bytes, _retained: bool) -> None:
        kind = topic.rsplit("/", 1)[-1]
        with received.lock:
            received.messages += 1
            received.topics.add(kind)
            if kind == "status":
                received.status = payload.decode("utf-8", "replace")
            elif kind == "state":
                received.state = json.loads(payload)
            elif kind == "counts":
                received.buckets.append(json.loads(payload))

    stop = watch(host, port, on_message, topic=f"headcount/{SITE}/{SENSOR}/#")
    deadline = time.monotonic() + 5.0
    while received.messages == 0 and time.monotonic() < deadline:
        time.sleep(0.05)  # subscribed once the retained messages arrive
    try:
        yield
    finally:
        time.sleep(0.5)
        stop()


def _video_frames(video: Path) -> int:
    try:
        import cv2
    except ImportError:
        return 0
    capture = cv2.VideoCapture(str(video))
    try:
        return int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    finally:
        capture.release()


def _view(config: Config, progress: dict[str, float], received: Received) -> Any:
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table

    with received.lock:
        state = received.state
        status = received.status
        buckets = list(received.buckets)
        messages = received.messages
    lines = Table(title="door lines (cumulative)", expand=True)
    lines.add_column("line")
    lines.add_column("in", justify="right")
    lines.add_column("out", justify="right")
    zones = Table(title="zones (now)", expand=True)
    zones.add_column("zone")
    zones.add_column("people", justify="right")
    for line in config.lines:
        totals = (state or {}).get("lines", {}).get(line.name, {})
        lines.add_row(line.name, str(totals.get("in", 0)), str(totals.get("out", 0)))
    for zone in config.zones:
        now = (state or {}).get("zones", {}).get(zone.name, {})
        zones.add_row(zone.name, str(now.get("occupancy", 0)))
    done, total = int(progress["frame"]), int(progress["total"])
    bar = f"frame {done}/{total or '?'}  {progress['fps']:.1f} frames/s"
    last = json.dumps(state, separators=(",", ":")) if state else "(nothing yet)"
    subscriber = Panel(
        f"status: {status}   messages: {messages}   closed buckets: {len(buckets)}\n"
        f"last state: {last}",
        title=f"an MQTT subscriber of headcount/{SITE}/{SENSOR}/# receives",
    )
    return Group(
        Panel(bar, title="headcount demo: people counted in real footage; no pixel leaves"),
        lines,
        zones,
        subscriber,
    )


def run_demo(video: Path, broker: str | None = None, realtime: bool = False) -> int:
    """Run the sensor over `video` with a live view; returns the exit status."""
    from rich.console import Console

    console = Console(stderr=True)
    if not video.is_file():
        console.print(
            f"headcount: sample video {video} not found; run `make demo` (it fetches the "
            "opencv-doc sample) or pass --video PATH"
        )
        return 2
    from lab.demo_venue import venue_server
    from lab.embedded_broker import EmbeddedBrokerError

    try:
        with _broker(broker) as (host, port), tempfile.TemporaryDirectory() as journal:
            protocol = "auto" if broker else "3.1.1"  # amqtt speaks 3.1.1 only
            config = demo_config(video, host, port, Path(journal), protocol)
            settings = {
                "site": SITE,
                "sensor": SENSOR,
                "lines": [ln.name for ln in config.lines],
                "zones": [z.name for z in config.zones],
                "host": host,
                "port": port,
                "protocol": protocol,
            }
            with (
                tempfile.TemporaryDirectory() as folder,
                venue_server(Path(folder), **settings) as url,
            ):
                console.print(f"the venue page (live occupancy from this sensor): {url}")
                status = _demo(console, config, video, host, port, realtime=realtime)
                _linger(console, url, status)
                return status
    except (StartupError, EmbeddedBrokerError) as error:
        console.print(f"headcount: {error}")
        return 2


def _linger(console: Any, url: str, status: int) -> None:
    """At a terminal, keep the broker and the venue page up until Ctrl-C."""
    import sys

    if status != 0 or not sys.stdin.isatty():
        return
    console.print(f"the venue page stays at {url}; Ctrl-C ends the demo")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return


def _demo(
    console: Any, config: Config, video: Path, host: str, port: int, *, realtime: bool
) -> int:
    """The demo proper, with a broker at host:port for its life."""
    from rich.live import Live

    received = Received()
    progress = {"frame": 0.0, "total": float(_video_frames(video)), "fps": 0.0}
    started = time.monotonic()

    def on_frame(frame: Frame, _tracks: Tracks) -> None:
        progress["frame"] = frame.index + 1
        progress["fps"] = progress["frame"] / max(time.monotonic() - started, 1e-6)

    try:
        sensor = build_sensor(
            config, sink="mqtt", publish_every=0.5, realtime=realtime, on_frame=on_frame
        )
    except StartupError as error:
        console.print(f"headcount: {error}")
        return 2
    with (
        _subscriber(host, port, received),
        Live(_view(config, progress, received), console=console, refresh_per_second=4) as live,
    ):
        runner = threading.Thread(target=_run, args=(sensor, progress), daemon=True)
        runner.start()
        try:
            while runner.is_alive():
                runner.join(0.25)
                live.update(_view(config, progress, received))
        except KeyboardInterrupt:
            sensor.stop.set()
            runner.join()
        time.sleep(1.0)
        live.update(_view(config, progress, received))
    if "error" in progress:
        return 1
    _summary(console, sensor.pipeline.counters.totals(), received)
    return 0


def _run(sensor: Any, progress: dict[str, Any]) -> None:
    try:
        sensor.pipeline.run()
    except SourceError as error:
        log.error("%s", error)
        progress["error"] = 1.0


def _summary(console: Any, totals: dict[str, tuple[int, int]], received: Received) -> None:
    with received.lock:
        buckets = list(received.buckets)
    summed: dict[str, list[int]] = {name: [0, 0] for name in totals}
    for bucket in buckets:
        for name, counts in bucket.get("lines", {}).items():
            summed[name][0] += counts["in"]
            summed[name][1] += counts["out"]
    for name, (n_in, n_out) in totals.items():
        console.print(
            f"line {name}: {n_in} in, {n_out} out; the {len(buckets)} buckets a subscriber "
            f"received add up to {summed[name][0]} in, {summed[name][1]} out"
        )


@contextmanager
def _broker(address: str | None) -> Iterator[tuple[str, int]]:
    """The given broker, or an embedded one on a free loopback port for the demo's life."""
    if address:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise StartupError(f"--broker must be HOST:PORT, got {address!r}")
        yield host, int(port)
        return
    from lab.embedded_broker import start_embedded_broker

    broker = start_embedded_broker()
    try:
        yield broker.host, broker.port
    finally:
        broker.stop()
