"""Wires the venue server together and runs it: broker link, store, service, HTTP, timers.

One asyncio event loop owns the service and the store. paho's thread only hands
received messages over (`call_soon_threadsafe`); the ingest task applies each batch in
one SQLite transaction, then acknowledges its buckets, then publishes the new figure
(MQTT, server-sent events, metrics). A timer runs the daily reset and the minute history.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import socket
import threading
import time
from collections.abc import Mapping

import uvicorn

from edge.messages import iso_ms
from venue.config import VenueConfig, read_secret
from venue.discovery import build_discovery, discovery_topic
from venue.ingest import Topics
from venue.link import Inbound, Link
from venue.messages import VenueAlert
from venue.metrics import Metrics
from venue.service import Clock, VenueService
from venue.store import BucketRow, MinuteRow, Store
from venue.web import create_app

log = logging.getLogger(__name__)

PUSH_INTERVAL = 0.05  # coalesce pushes: at most 20 figures a second
MQTT_STATE_INTERVAL = 1.0  # the retained venue state: at most once a second
TICK_SECONDS = 1.0
REFRESH_TICKS = 5


class Hub:
    """The running venue: what the HTTP side reads and the actions it may take."""

    def __init__(self, config: VenueConfig, store: Store, clock: Clock = time.time) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.metrics_ = Metrics()
        self.service = VenueService(
            config, store, clock, on_reject=lambda r: self.metrics_.rejected.labels(r).inc()
        )
        self.topics = Topics(config.mqtt.topic_prefix, config.venue.site, config.venue.name)
        self.ha_status = f"{config.mqtt.discovery_prefix}/status"
        self.link: Link | None = None
        self._clients: set[asyncio.Queue[str]] = set()
        self._dirty = asyncio.Event()
        self._arrivals: list[Inbound] = []
        self._arrivals_lock = threading.Lock()
        self._arrived = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._state_json = ""
        self._announce = False
        self._alerts: list[VenueAlert] = []
        self._published = 0.0
        self._state_pending = False
        with store.transaction():
            self.service.tick()
        self._refresh()

    # --- what the page reads --------------------------------------------------------

    def state_json(self) -> str:
        return self._state_json

    def metrics(self) -> bytes:
        seen = {s: v.last_seen for s, v in self.service.sensors.items()}
        self.metrics_.observe(self.service.state(), seen)
        return self.metrics_.render()

    def minutes(self, start: float, end: float) -> list[MinuteRow]:
        return self.store.minutes(start, end)

    def buckets(self, start: float, end: float) -> list[BucketRow]:
        return self.store.buckets(start, end)

    def day_start(self) -> float:
        return self.service.day.day_start

    def now(self) -> float:
        return self.clock()

    def subscribe(self) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=1)
        self._clients.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str]) -> None:
        self._clients.discard(queue)

    # --- actions --------------------------------------------------------------------

    async def reset(self) -> None:
        with self.store.transaction():
            self.service.reset()
        self._changed_now()

    async def adjust(self, delta: int) -> None:
        with self.store.transaction():
            self.service.adjust(delta)
        self._changed_now()

    async def set_capacity(self, capacity: int, warn: int) -> None:
        with self.store.transaction():
            self.service.set_capacity(capacity, warn)
        self._changed_now()

    # --- the broker -----------------------------------------------------------------

    def attach(self, link: Link, loop: asyncio.AbstractEventLoop) -> None:
        self.link = link
        self._loop = loop

    def receive(self, message: Inbound) -> None:
        """Called on paho's thread: one wake-up of the event loop per burst of messages."""
        if self._loop is None:
            return
        with self._arrivals_lock:
            first = not self._arrivals
            self._arrivals.append(message)
        if first:
            self._loop.call_soon_threadsafe(self._arrived.set)

    def connected(self) -> None:
        """Called on paho's thread after each CONNACK: announce again."""
        self._announce = True
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._dirty.set)

    async def ingest(self) -> None:
        """Apply received messages in batches: commit, then ack, then publish. A batch of
        states and statuses only writes nothing but the ledger records it moved."""
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            with self._arrivals_lock:
                batch, self._arrivals = self._arrivals, []
            if not batch:
                continue
            changed = False
            if any(m.qos > 0 for m in batch):  # buckets and commands write history
                with self.store.transaction():
                    for message in batch:
                        changed |= self._apply(message)
                    self.service.flush()
            else:
                for message in batch:
                    changed |= self._apply(message)
                if self.service.dirty:
                    with self.store.transaction():
                        self.service.flush()
            if self.link is not None:
                for message in batch:
                    self.link.ack(message)
            if changed:
                self._changed()

    def _apply(self, message: Inbound) -> bool:
        if message.topic == self.ha_status:
            if message.payload.strip() == b"online":
                self._announce = True
                self._dirty.set()
            return False
        route = self.topics.route(message.topic)
        if route is None:
            return False
        outcome = self.service.handle(route, message.payload)
        if outcome.rejected is None:
            self.metrics_.messages.labels(route.kind).inc()
        if outcome.duplicate:
            self.metrics_.duplicates.inc()
        return outcome.changed

    async def timer(self) -> None:
        """Once a second: the day, the minute history; a refresh every few seconds so the
        sensors' last-message times move even when no count does."""
        ticks = 0
        while True:
            await asyncio.sleep(TICK_SECONDS)
            ticks += 1
            with self.store.transaction():
                changed = self.service.tick()
            if (
                changed
                or self._state_pending
                or ticks % REFRESH_TICKS == 0
                or self.service.uncertain(self.clock()) != self._uncertain
            ):
                self._changed()

    # --- publishing -----------------------------------------------------------------

    _uncertain = False

    def _changed(self) -> None:
        self._dirty.set()

    def _changed_now(self) -> None:
        """After an action: the answer to the request already carries the new figure."""
        alert = self.service.update_level()
        if alert is not None:
            self._alerts.append(alert)
        self._refresh()
        self._dirty.set()

    def _refresh(self) -> None:
        figure = self.service.figure()
        self._uncertain = figure["uncertain"]
        self._state_json = json.dumps(figure, separators=(",", ":"))

    async def pusher(self) -> None:
        """Push the figure to the pages after changes, at most every PUSH_INTERVAL (longer
        for a big venue, so building it takes at most a fifth of a core); publish it on
        MQTT at most once a second, alerts at once."""
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            started = time.perf_counter()
            alert = self.service.update_level()
            if alert is not None:
                self._alerts.append(alert)
            self._refresh()
            for queue in list(self._clients):
                if queue.full():
                    queue.get_nowait()
                queue.put_nowait(self._state_json)
            self._publish()
            cost = time.perf_counter() - started
            await asyncio.sleep(max(PUSH_INTERVAL, 4 * cost))

    def _publish(self) -> None:
        link = self.link
        alerts, self._alerts = self._alerts, []
        if link is None:
            return
        if self._announce:
            self._announce = False
            if self.config.mqtt.discovery:
                discovery = build_discovery(self.config).model_dump_json(exclude_none=True)
                link.publish(discovery_topic(self.config), discovery)
            link.publish(self.topics.alert, self._alert_json())
            self._published = 0.0
        for alert in alerts:
            link.publish(self.topics.alert, alert.to_json())
        now = time.monotonic()
        if now - self._published >= MQTT_STATE_INTERVAL:
            link.publish(self.topics.state, self._state_json)
            self._published = now
            self._state_pending = False
        else:
            self._state_pending = True

    def _alert_json(self) -> str:
        limits = self.service.thresholds
        return VenueAlert(
            site=self.config.venue.site,
            venue=self.config.venue.name,
            ts=iso_ms(self.clock()),
            level=self.service.level,
            occupancy=self.service.occupancy(),
            capacity=limits.capacity,
            warn=limits.warn,
        ).to_json()


class ListenError(Exception):
    """The HTTP listen address cannot be used; the message says what to do."""


def listen_socket(host: str, port: int) -> socket.socket:
    """A bound, listening TCP socket for `[http] listen`."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as error:
        raise ListenError(
            f"cannot listen on {host}:{port} ({error.strerror or error}); change [http] listen "
            "or stop what uses that port"
        ) from None
    sock.setblocking(False)
    return sock


def _http_server(app: object, config: VenueConfig) -> uvicorn.Server:
    return uvicorn.Server(
        uvicorn.Config(
            app,  # type: ignore[arg-type]
            host=config.http.host,
            port=config.http.port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
            lifespan="off",
        )
    )


async def serve(config: VenueConfig, env: Mapping[str, str] | None = None) -> int:
    """Run until SIGTERM or SIGINT; 0 on a clean stop. A bad password file, listen
    address or history file raises before anything starts."""
    password = (
        read_secret(config.http.password_file, "[http] password_file")
        if config.http.password_file is not None
        else None
    )
    sock = listen_socket(config.http.host, config.http.port)
    store = Store(config.history.path)
    hub = Hub(config, store)
    loop = asyncio.get_running_loop()
    link = Link(
        config.mqtt,
        topics=hub.topics,
        client_id=f"headcount-venue-{config.venue.site}-{config.venue.name}",
        on_message=hub.receive,
        on_connected=hub.connected,
        env=env,
        extra_topics=(hub.ha_status,),
    )
    hub.attach(link, loop)
    server = _http_server(create_app(hub, password), config)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    tasks = [
        asyncio.create_task(hub.ingest(), name="ingest"),
        asyncio.create_task(hub.timer(), name="timer"),
        asyncio.create_task(hub.pusher(), name="pusher"),
    ]
    serving = asyncio.create_task(server.serve(sockets=[sock]), name="http")
    link.start()
    log.info("venue %s: page on http://%s/", config.venue.name, config.http.listen)
    stopped = asyncio.create_task(stop.wait())
    # uvicorn takes SIGTERM/SIGINT while it serves (then passes them on to `stop`).
    done, _ = await asyncio.wait({serving, stopped, *tasks}, return_when=asyncio.FIRST_COMPLETED)
    clean = stopped in done or (serving in done and server.should_exit)
    server.should_exit = True
    stopped.cancel()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await serving
    link.stop()
    store.close()
    failed = [t for t in tasks if t in done and not t.cancelled() and t.exception() is not None]
    for task in failed:
        log.error("the venue server stopped: %s", task.exception())
    return 0 if clean and not failed else 1
