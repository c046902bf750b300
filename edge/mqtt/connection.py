"""One broker connection kept alive: a small state machine per attempt, and a supervisor.

Each attempt is a fresh paho client (MQTT 5, or 3.1.1 after a broker refuses 5) run by
`loop_start`, in one `Link` state at a time:

    CONNECTING --CONNACK ok--> UP --announced--> READY --connection lost--> ENDED
         |                                                 ^
         +--CONNACK refused--> REFUSED    +--no answer, TLS trouble---------+

A supervisor thread waits for the answer, lets the owner announce itself (`on_ready`,
while `UP`), serves until the link ends, then waits with exponential backoff and jitter
and starts the next attempt. A refused or failed connect is never treated as connected.
Every kind of failure is told in one sentence, once per outage.

Locks: `client.publish` is only called under `_send_lock` (re-entrant: `on_ready` sends);
paho's callbacks never take it (paho calls `on_publish` holding its own lock).
"""

from __future__ import annotations

import enum
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge.mqtt.diagnose import explain_tls_error, probe
from edge.mqtt.settings import BrokerSettings

log = logging.getLogger(__name__)

UNSUPPORTED_PROTOCOL = 132  # CONNACK reason "Unsupported protocol version" (MQTT 5)
MAX_INCOMING_PACKET = 4096  # MQTT 5: the broker must not send this client anything larger
_QUEUED = (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN)

AckHandler = Callable[[ReasonCode], None]
MessageHandler = Callable[[mqtt.MQTTMessage], None]


class Link(enum.Enum):
    """Where one connection attempt stands."""

    CONNECTING = "connecting"  # TCP (and TLS) open, CONNECT sent, no answer yet
    REFUSED = "refused"  # the broker answered CONNACK with a failure
    UP = "up"  # CONNACK accepted; the owner is announcing
    READY = "ready"  # announced: state and buckets flow
    ENDED = "ended"  # the connection is gone


def backoff_delay(
    attempt: int, minimum: float, maximum: float, rng: Callable[[], float] = random.random
) -> float:
    """Wait before reconnect attempt `attempt` (0-based): half the capped exponential
    step, plus a random part up to the other half ("equal jitter"), so a fleet that lost
    the same broker does not reconnect in lockstep."""
    cap = min(max(minimum, maximum), minimum * 2.0 ** min(attempt, 32))
    return cap / 2 + rng() * cap / 2


@dataclass(eq=False)
class Session:
    """One connection attempt: its paho client, its state and its unanswered publishes."""

    client: mqtt.Client
    protocol: MQTTProtocolVersion
    wake: threading.Event = field(default_factory=threading.Event)
    link: Link = Link.CONNECTING
    refusal: ReasonCode | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    waiting: dict[int, AckHandler | None] = field(default_factory=dict)
    early: dict[int, ReasonCode] = field(default_factory=dict)

    def move(self, link: Link) -> None:
        if self.link is not Link.ENDED:
            self.link = link
        self.wake.set()

    def in_flight(self) -> int:
        with self.lock:
            return len(self.waiting)


@dataclass(frozen=True)
class Hooks:
    """What the owner does: announce on a new link, handle a message, periodic work."""

    on_ready: Callable[[], None]
    on_message: MessageHandler
    on_idle: Callable[[], None]


@dataclass
class _Outage:
    """What was already said during the current outage (said once, then quiet)."""

    said: bool = False
    refusals: set[int] = field(default_factory=set)
    causes: set[str] = field(default_factory=set)


class Connection:
    """Keeps the sensor connected; `publish` sends on the ready link (QoS 1)."""

    def __init__(
        self,
        settings: BrokerSettings,
        *,
        will_topic: str,
        will_payload: str,
        subscriptions: list[str],
        hooks: Hooks,
        reconnect: tuple[float, float],
    ) -> None:
        self._settings = settings
        self._will = (will_topic, will_payload)
        self._subscriptions = subscriptions
        self._hooks = hooks
        self._reconnect = reconnect
        self._protocol = (
            MQTTProtocolVersion.MQTTv311
            if settings.protocol == "3.1.1"
            else MQTTProtocolVersion.MQTTv5
        )
        self._send_lock = threading.RLock()
        # Held while paho sets up its wake-up socket pair (a loopback listener it connects
        # to), so the privacy guard is never installed between that bind and that connect.
        self.socket_setup = threading.Lock()
        self._session: Session | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._attempt = 0
        self._outage = _Outage()
        self._v5_accepted = False

    # --- the owner's side -------------------------------------------------------------

    @property
    def ready(self) -> bool:
        session = self._session
        return session is not None and session.link is Link.READY

    @contextmanager
    def sending(self) -> Iterator[None]:
        """Hold the send lock across several publishes (keeps their order)."""
        with self._send_lock:
            yield

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._supervise, name="mqtt", daemon=True)
            self._thread.start()

    def publish(
        self, topic: str, payload: str | bytes, *, retain: bool, on_ack: AckHandler | None = None
    ) -> bool:
        """Send at QoS 1 if the link is ready (or being announced); False if not sent."""
        with self._send_lock:
            session = self._session
            if session is None or not self._may_send(session):
                return False
            info = session.client.publish(topic, payload, qos=1, retain=retain)
            if info.rc not in _QUEUED:
                log.debug("publish on %s not queued (%s)", topic, mqtt.error_string(info.rc))
                return False
            with session.lock:
                early = session.early.pop(info.mid, None)
                if early is None:
                    session.waiting[info.mid] = on_ack
        if early is not None and on_ack is not None:
            on_ack(early)
        return True

    def drain(self, timeout: float) -> int:
        """Wait up to `timeout` s for every publish to be answered; how many were not."""
        session = self._session
        if session is None:
            return 0
        deadline = time.monotonic() + timeout
        while session.in_flight() and session.link is not Link.ENDED:
            if time.monotonic() >= deadline:
                break
            session.wake.wait(0.05)
            session.wake.clear()
        return session.in_flight()

    def stop(self) -> None:
        """End the supervisor and the connection (after the owner's last words)."""
        self._stop.set()
        session = self._session
        if session is not None:
            session.wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._send_lock:
            session, self._session = self._session, None
        if session is not None:
            self._end(session)

    def _may_send(self, session: Session) -> bool:
        if session.link is Link.READY:
            return True
        return session.link is Link.UP and threading.current_thread() is self._thread

    # --- the supervisor (its own thread) -------------------------------------------------

    def _supervise(self) -> None:
        while not self._stop.is_set():
            session = self._connect()
            if session is not None:
                self._attend(session)
                if self._stop.is_set():
                    return  # stop() ends the session after the owner's last words
                with self._send_lock:
                    self._session = None
                self._end(session)
                if self._fall_back(session):
                    continue
            delay = backoff_delay(self._attempt, *self._reconnect)
            self._attempt += 1
            self._stop.wait(delay)

    def _attend(self, session: Session) -> None:
        """Wait for the CONNACK, serve a good link, and say what went wrong otherwise."""
        answered = self._wait(session, lambda: session.link is not Link.CONNECTING)
        if session.refusal is not None:
            self._say_refused(session)
        elif session.link is Link.UP and not self._stop.is_set():
            self._serve(session)
        elif (
            not self._stop.is_set()
            and not self._explain(session, answered)
            and not self._probing_v5()
        ):
            self._say_outage("the broker accepted TCP but sent no CONNACK")

    def _wait(self, session: Session, done: Callable[[], bool]) -> bool:
        timeout = self._connack_timeout()
        deadline = time.monotonic() + timeout
        while not done():
            if self._stop.is_set() or time.monotonic() >= deadline:
                return False
            session.wake.wait(0.5)
            session.wake.clear()
        return True

    def _new_session(self) -> Session:
        s = self._settings
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=s.client_id,
            protocol=self._protocol,
            reconnect_on_failure=False,
        )
        client.username_pw_set(s.username, s.password)
        if s.tls is not None:
            client.tls_set_context(s.tls)
            if s.tls_insecure:
                client.tls_insecure_set(True)
        client.will_set(self._will[0], self._will[1], qos=1, retain=True)
        session = Session(client=client, protocol=self._protocol)
        client.on_connect = _bind(session, _on_connect)
        client.on_disconnect = _bind(session, _on_disconnect)
        client.on_publish = _bind(session, _on_publish)
        client.on_message = lambda c, u, message: self._hooks.on_message(message)
        return session

    def _connect(self) -> Session | None:
        """Open the TCP (and TLS) connection and send CONNECT; None if that failed."""
        session = self._new_session()
        s = self._settings
        properties = None
        if self._protocol == MQTTProtocolVersion.MQTTv5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.MaximumPacketSize = MAX_INCOMING_PACKET
        try:
            session.client.connect(s.host, s.port, keepalive=s.keepalive, properties=properties)
        except (OSError, ValueError) as error:
            cause = explain_tls_error(error, has_cert=s.has_cert) if s.tls else None
            self._say_outage(cause or f"cannot reach the broker at {s.host}:{s.port} ({error})")
            return None
        with self._send_lock:
            if self._stop.is_set():
                session.client.disconnect()
                return None
            self._session = session
        with self.socket_setup:
            session.client.loop_start()
        return session

    def _serve(self, session: Session) -> None:
        """Subscribe and announce, then stay until the link ends."""
        self._said_connected(session)
        session.client.subscribe([(topic, 1) for topic in self._subscriptions])
        with self._send_lock:
            self._hooks.on_ready()
            session.move(Link.READY)
        while session.link is Link.READY and not self._stop.is_set():
            session.wake.wait(1.0)
            session.wake.clear()
            if session.link is Link.READY:
                self._hooks.on_idle()
        if session.link is Link.ENDED and not self._stop.is_set():
            self._say_outage(
                "lost the broker connection; buckets stay in the journal until it returns"
            )

    def _said_connected(self, session: Session) -> None:
        s = self._settings
        version = "5" if session.protocol == MQTTProtocolVersion.MQTTv5 else "3.1.1"
        if self._outage.said:
            log.info("reconnected to the broker at %s:%d (MQTT %s)", s.host, s.port, version)
        else:
            log.info("connected to the broker at %s:%d (MQTT %s)", s.host, s.port, version)
        self._outage = _Outage()
        self._attempt = 0
        self._v5_accepted |= session.protocol == MQTTProtocolVersion.MQTTv5

    def _explain(self, session: Session, answered: bool) -> bool:
        """The link ended without a CONNACK: say why if the port tells (True if said)."""
        if answered and session.link is not Link.ENDED:
            return False
        s = self._settings
        cause = probe(s.host, s.port, s.tls, has_cert=s.has_cert)
        if cause is None:
            return False
        self._say_outage(cause, kind=cause)
        return True

    def _end(self, session: Session) -> None:
        if session.link is not Link.ENDED:
            session.client.disconnect()
        session.client.loop_stop()

    def _probing_v5(self) -> bool:
        """Auto mode, still on MQTT 5, and no broker has accepted MQTT 5 yet."""
        return (
            self._settings.protocol == "auto"
            and self._protocol == MQTTProtocolVersion.MQTTv5
            and not self._v5_accepted
        )

    def _connack_timeout(self) -> float:
        # Some 3.1.1-only brokers (amqtt) never answer an MQTT 5 CONNECT: give up sooner.
        return 5.0 if self._probing_v5() else max(10.0, float(self._settings.keepalive))

    def _fall_back(self, session: Session) -> bool:
        """Switch to MQTT 3.1.1 for good if the broker refused MQTT 5, or never answered
        an MQTT 5 CONNECT for no reason a probe could name (auto mode only)."""
        unsupported = session.refusal is not None and session.refusal.value == UNSUPPORTED_PROTOCOL
        silent = session.link in (Link.CONNECTING, Link.ENDED) and not self._outage.causes
        if self._probing_v5() and (unsupported or (silent and session.refusal is None)):
            log.info("the broker does not support MQTT 5; using MQTT 3.1.1")
            self._protocol = MQTTProtocolVersion.MQTTv311
            return True
        return False

    def _say_refused(self, session: Session) -> None:
        refusal = session.refusal
        if refusal is None or (refusal.value == UNSUPPORTED_PROTOCOL and self._probing_v5()):
            return
        if refusal.value not in self._outage.refusals:
            self._outage.refusals.add(refusal.value)
            log.warning(
                "the broker refused the connection (%s); check [mqtt] username, the password, "
                "and the broker's password and ACL files",
                refusal.getName(),
            )
        self._outage.said = True

    def _say_outage(self, message: str, kind: str | None = None) -> None:
        if kind is not None:
            if kind in self._outage.causes:
                return
            self._outage.causes.add(kind)
            log.warning("%s; retrying with backoff", message)
        elif not self._outage.said:
            log.warning("%s; retrying with backoff", message)
        else:
            log.debug(message)
        self._outage.said = True


def _bind(session: Session, callback: Callable[..., None]) -> Callable[..., None]:
    def bound(client: mqtt.Client, userdata: Any, *args: Any) -> None:
        callback(session, *args)

    return bound


# --- paho callbacks (paho's network thread) ------------------------------------------------


def _on_connect(
    session: Session,
    flags: mqtt.ConnectFlags,
    reason: ReasonCode,
    properties: Properties | None,
) -> None:
    if reason.is_failure:
        session.refusal = reason
        session.move(Link.REFUSED)
    else:
        session.move(Link.UP)


def _on_disconnect(
    session: Session,
    flags: mqtt.DisconnectFlags,
    reason: ReasonCode,
    properties: Properties | None,
) -> None:
    log.debug("disconnected (%s)", reason.getName())
    session.move(Link.ENDED)


def _on_publish(
    session: Session, mid: int, reason: ReasonCode, properties: Properties | None
) -> None:
    with session.lock:
        if mid not in session.waiting:
            session.early[mid] = reason
            return
        handler = session.waiting.pop(mid)
    session.wake.set()
    if handler is not None:
        handler(reason)
