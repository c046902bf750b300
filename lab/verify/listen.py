"""Attaches to a live sensor over MQTT and records what it publishes, in clip time.

Two clocks place a snapshot on the clip's time line:

- `frame` (a sensor replaying the clip file, or a seeded scene): clip time = the snapshot's
  `frame` / fps. A count's arrival is placed on the same line through the sensor's frame
  clock (`ts` - frame / fps is the clip's start on the sensor's clock), so latency is
  meaningful when the sensor paces the clip in real time and the clocks agree (NTP).
- `wall` (a camera watching the clip on a screen, or a walk test): clip time = arrival -
  the start moment both sides aligned on (the player's start marker, or the walk's start).

The listener (MQTT 5) reconnects by itself and resumes its session, which the broker keeps
for 10 minutes after a disconnect: closed buckets queued while it was away still arrive,
and no session is left behind for good. Buckets are deduplicated by (boot, seq).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import ValidationError

from edge.messages import Bucket, Snapshot
from lab.verify.record import CountLog

log = logging.getLogger(__name__)

Align = Literal["frame", "wall"]


@dataclass(frozen=True)
class BrokerAddress:
    """Where the sensor publishes, and how the listener logs in (read access suffices)."""

    host: str
    port: int
    site: str
    sensor: str
    username: str | None = None
    password: str | None = None
    topic_prefix: str = "headcount"

    @property
    def base(self) -> str:
        return f"{self.topic_prefix}/{self.site}/{self.sensor}"


SESSION_EXPIRY_S = 600
"""The listener's session outlives a broker restart or a dropped connection by this long,
so QoS 1 messages queued meanwhile still arrive; then the broker forgets it."""


def _session(expiry_s: int) -> Properties:
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho: untyped
    properties.SessionExpiryInterval = expiry_s
    return properties


class ListenError(Exception):
    """The broker cannot be reached or refused the listener; the message says what to check."""


def epoch(iso: str) -> float:
    """Seconds since the epoch of the contract's ISO 8601 UTC time (`...Z`)."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


@dataclass
class Listener:
    """Records a sensor's snapshots, buckets and status changes from its broker."""

    address: BrokerAddress
    counts: CountLog
    align: Align = "frame"
    fps: float = 10.0
    start: float | None = None
    """Wall-clock time (epoch) of the clip's start, for `wall`; set at connect if None."""
    status: list[tuple[float, str]] = field(default_factory=list)
    buckets: dict[tuple[str, int], Bucket] = field(default_factory=dict)
    last_snapshot: tuple[float, Snapshot] | None = None
    arrivals: list[tuple[float, float]] = field(default_factory=list)
    """(arrival epoch, clip time) of every snapshot, in arrival order."""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _connected: threading.Event = field(default_factory=threading.Event)
    _subscribed: threading.Event = field(default_factory=threading.Event)
    _refused: str | None = None
    _subacks: int = 0
    _client: mqtt.Client | None = None

    def connect(self, timeout: float = 30.0) -> None:
        """Connect and subscribe; ListenError if the broker cannot be reached or refuses."""
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"headcount-verify-{secrets.token_hex(4)}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        if self.address.username is not None:
            client.username_pw_set(self.address.username, self.address.password)
        client.reconnect_delay_set(1, 2)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        self._client = client
        try:
            client.connect(
                self.address.host,
                self.address.port,
                keepalive=10,
                clean_start=mqtt.MQTT_CLEAN_START_FIRST_ONLY,
                properties=_session(SESSION_EXPIRY_S),
            )
        except OSError as error:
            raise ListenError(
                f"cannot reach the broker at {self.address.host}:{self.address.port} ({error}); "
                "check --broker"
            ) from None
        client.loop_start()
        answered = self._connected.wait(timeout) and (
            self._refused is not None or self._subscribed.wait(timeout)
        )
        if not answered or self._refused is not None:
            self.close()
            raise ListenError(
                f"the broker refused the listener ({self._refused or 'no answer'}); "
                "check --username and --password-file"
            )
        if self.start is None:
            self.start = time.time()
        log.info(
            "listening to %s/# on %s:%d", self.address.base, self.address.host, self.address.port
        )

    def close(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _properties: object,
    ) -> None:
        if reason.is_failure:
            self._refused = str(reason)
        else:
            log.debug("listener connected; session present: %s", flags.session_present)
            base = self.address.base
            client.subscribe([(f"{base}/{kind}", 1) for kind in ("status", "state", "counts")])
        self._connected.set()

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _mid: int,
        reasons: list[ReasonCode],
        _properties: object,
    ) -> None:
        if any(reason.is_failure for reason in reasons):
            self._refused = "subscription refused: the user may not read the sensor's topics"
        with self._lock:
            self._subacks += 1
        self._subscribed.set()

    def _on_message(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        arrival = time.time()
        kind = msg.topic.rsplit("/", 1)[-1]
        try:
            if kind == "state":
                self._snapshot(Snapshot.model_validate_json(msg.payload), arrival, msg.retain)
            elif kind == "counts":
                bucket = Bucket.model_validate_json(msg.payload)
                with self._lock:
                    self.buckets[(bucket.boot, bucket.seq)] = bucket
            elif kind == "status":
                with self._lock:
                    self.status.append((arrival, msg.payload.decode("utf-8", "replace")))
        except (ValidationError, UnicodeDecodeError) as error:
            log.warning("ignored a %s message that breaks the contract: %s", kind, error)

    def _snapshot(self, snapshot: Snapshot, arrival: float, retained: bool) -> None:
        if self.align == "frame":
            time_s = snapshot.frame / self.fps
            arrival_s = arrival - (epoch(snapshot.ts) - time_s)
        else:
            time_s = arrival_s = arrival - (self.start or arrival)
        self.counts.add(snapshot, time_s, arrival_s=arrival_s, baseline=retained)
        with self._lock:
            self.last_snapshot = (arrival, snapshot)
            self.arrivals.append((arrival, time_s))

    def snapshots_after(self, moment: float) -> bool:
        """True once a snapshot arrived after `moment` (epoch)."""
        with self._lock:
            return self.last_snapshot is not None and self.last_snapshot[0] > moment

    def subscriptions(self) -> int:
        """How many times the listener has (re)subscribed."""
        with self._lock:
            return self._subacks

    def wait_resubscribed(self, after: int, timeout: float) -> bool:
        """Wait until the listener subscribed again after `subscriptions()` was `after`."""
        deadline = time.monotonic() + timeout
        while self.subscriptions() <= after:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def timeline(self) -> list[tuple[float, float]]:
        """A copy of (arrival epoch, clip time) of every snapshot so far."""
        with self._lock:
            return list(self.arrivals)

    def online_after(self, moment: float) -> float | None:
        """Epoch of the first `online` status after `moment`, if any."""
        with self._lock:
            return next((t for t, s in self.status if t > moment and s == "online"), None)

    def is_offline(self) -> bool:
        with self._lock:
            return bool(self.status) and self.status[-1][1] == "offline"

    def bucket_totals(self) -> dict[str, dict[str, dict[str, int]]]:
        """Per boot, per line: the deduplicated buckets' sums."""
        out: dict[str, dict[str, dict[str, int]]] = {}
        with self._lock:
            buckets = list(self.buckets.values())
        for bucket in buckets:
            lines = out.setdefault(bucket.boot, {})
            for name, totals in bucket.lines.items():
                row = lines.setdefault(self.counts.config_name(name), {"in": 0, "out": 0})
                row["in"] += totals.in_
                row["out"] += totals.out
        return out
