"""The MQTT sink: publishes the count contract to a broker without losing a closed bucket.

Delivery design (broker_config/CONTRACT.md has the consumer's view):

- Every closed bucket goes to the store-and-forward `Journal` first and leaves it only when
  the broker acknowledges it (QoS 1 PUBACK). The journal, not paho's memory, is the queue.
- Each connection is a fresh paho client (MQTT 5, or 3.1.1 after a broker refuses 5) run
  by `loop_start`; when it ends, a supervisor thread waits with exponential backoff and
  jitter and builds the next one. After every CONNACK that succeeds: subscribe to
  `cmd/reset`, publish `online`, discovery, `privacy`, the latest `state`, then replay
  every unacknowledged bucket in journal order, then new buckets as they close. A refused
  or failed connect is never treated as connected.
- Last will: `offline` (QoS 1, retained) on `status`; `close()` publishes it itself.

Locks: `client.publish` is only called under `_send_lock`; paho's callbacks never take
`_send_lock` (paho calls `on_publish` while holding its own lock, so that would deadlock).
"""

from __future__ import annotations

import importlib
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import BaseModel, ValidationError

from edge.commands import CommandError, CommandInbox, parse_reset
from edge.config import Config
from edge.journal import Journal, JournalError
from edge.messages import Bucket, Snapshot
from edge.mqtt.discovery import build_discovery
from edge.mqtt.payloads import OFFLINE, ONLINE, basic_manifest
from edge.mqtt.settings import BrokerSettings, MqttConfigError, resolve_settings
from edge.mqtt.topics import Topics

__all__ = ["MqttConfigError", "MqttSink", "backoff_delay"]

log = logging.getLogger(__name__)

UNSUPPORTED_PROTOCOL = 132  # CONNACK reason "Unsupported protocol version" (MQTT 5)
_QUEUED = (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN)


def backoff_delay(
    attempt: int, minimum: float, maximum: float, rng: Callable[[], float] = random.random
) -> float:
    """Wait before reconnect attempt `attempt` (0-based): half the capped exponential
    step, plus a random part up to the other half ("equal jitter"), so a fleet that lost
    the same broker does not reconnect in lockstep."""
    cap = min(max(minimum, maximum), minimum * 2.0 ** min(attempt, 32))
    return cap / 2 + rng() * cap / 2


def default_manifest(config: Config) -> BaseModel:
    """The privacy module's manifest when it exists, else the fields known from config."""
    try:
        module = importlib.import_module("edge.privacy.manifest")
    except ImportError:
        return basic_manifest(config)
    build = getattr(module, "manifest_for_config", None)
    manifest = build(config) if callable(build) else None
    return manifest if isinstance(manifest, BaseModel) else basic_manifest(config)


@dataclass(eq=False)
class _Session:
    """One broker connection: its paho client and what was sent and acknowledged on it."""

    client: mqtt.Client
    protocol: MQTTProtocolVersion
    wake: threading.Event
    connected: bool = False
    ended: bool = False
    ready: bool = False
    refusal: ReasonCode | None = None
    reannounce: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: set[int] = field(default_factory=set)
    mids: dict[int, int | None] = field(default_factory=dict)
    early: dict[int, ReasonCode] = field(default_factory=dict)

    def answered(self) -> bool:
        """The broker accepted or refused the CONNECT, or the connection ended."""
        return self.connected or self.ended or self.refusal is not None


class MqttSink:
    """A `Sink` that publishes snapshots, buckets, status, privacy and discovery over MQTT.

    `start()` returns at once; the sensor keeps counting while the broker is away.
    Raises `MqttConfigError` (one sentence) for settings a user must fix.
    """

    def __init__(
        self,
        config: Config,
        *,
        boot: str,
        inbox: CommandInbox,
        manifest: BaseModel | None = None,
        journal: Journal | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._settings: BrokerSettings = resolve_settings(config, env)
        self._config = config
        self._boot = boot
        self._inbox = inbox
        self._topics = Topics.for_config(config)
        self._manifest = manifest if manifest is not None else default_manifest(config)
        self._discovery = build_discovery(config) if config.mqtt.discovery else None
        try:
            self._journal = (
                journal
                if journal is not None
                else Journal(config.journal.dir, config.journal.max_messages)
            )
        except JournalError as error:
            raise MqttConfigError(str(error)) from None
        self._protocol = (
            MQTTProtocolVersion.MQTTv311
            if self._settings.protocol == "3.1.1"
            else MQTTProtocolVersion.MQTTv5
        )
        self._send_lock = threading.Lock()
        self._session: _Session | None = None
        self._last_state: Snapshot | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._attempt = 0
        self._outage_logged = False
        self._refusals_logged: set[int] = set()
        self._v5_accepted = False

    # --- the Sink boundary --------------------------------------------------------

    @property
    def topics(self) -> Topics:
        return self._topics

    @property
    def dropped(self) -> int:
        """Buckets the full journal dropped since start; also published in `state`."""
        return self._journal.dropped

    @property
    def pending(self) -> int:
        """Buckets in the journal that the broker has not acknowledged yet."""
        return len(self._journal)

    @property
    def connected(self) -> bool:
        session = self._session
        return session is not None and session.ready and not session.ended

    def start(self) -> None:
        """Begin connecting in the background; returns at once."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._supervise, name="mqtt", daemon=True)
        self._thread.start()

    def publish_snapshot(self, snapshot: Snapshot) -> None:
        """Publish `state` (retained) now if connected; the latest is sent on (re)connect."""
        snapshot = snapshot.model_copy(update={"dropped": self._journal.dropped})
        with self._send_lock:
            self._last_state = snapshot
            session = self._session
            if session is not None and session.ready:
                self._publish(session, self._topics.state, snapshot.to_json(), retain=True)

    def publish_bucket(self, bucket: Bucket) -> None:
        """Journal the bucket (durably), then send every unsent bucket in order."""
        payload = bucket.to_json().encode()
        try:
            self._journal.append(payload)
        except JournalError as error:
            log.error("%s; this bucket is sent without a journal copy", error)
            with self._send_lock:
                session = self._session
                if session is not None and session.ready:
                    self._publish(session, self._topics.counts, payload, retain=False)
            return
        with self._send_lock:
            session = self._session
            if session is not None and session.ready:
                self._pump(session)

    def close(self) -> None:
        """Publish `offline`, wait a bounded time for acks, disconnect, close the journal."""
        if self._closed:
            return
        self._closed = True
        with self._send_lock:
            session = self._session
            live = session is not None and session.connected and not session.ended
            if session is not None and live:
                self._publish(session, self._topics.status, OFFLINE, retain=True)
        if session is not None and live:
            deadline = time.monotonic() + self._config.mqtt.close_timeout_seconds
            while time.monotonic() < deadline and not session.ended:
                with session.lock:
                    if not session.mids:
                        break
                time.sleep(0.02)
            with session.lock:
                unacked = sum(1 for jid in session.mids.values() if jid is not None)
            if unacked:
                log.warning(
                    "%d buckets not acknowledged at exit; the journal sends them next run",
                    unacked,
                )
        self._stop.set()
        if session is not None:
            session.wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._send_lock:
            session, self._session = self._session, None
        if session is not None:
            self._end(session, disconnect=True)
        self._journal.close()

    # --- the connection supervisor (its own thread) ---------------------------------

    def _supervise(self) -> None:
        while not self._stop.is_set():
            session = self._connect()
            if session is not None:
                answered = self._wait(session, session.answered, timeout=self._connack_timeout())
                if not answered and not self._stop.is_set() and not self._probing_v5():
                    self._log_outage("the broker accepted TCP but sent no CONNACK")
                if session.connected and not session.ended and not self._stop.is_set():
                    self._serve(session)
                if self._stop.is_set():
                    return  # close() ends the session after publishing `offline`
                with self._send_lock:
                    self._session = None
                self._end(session, disconnect=not session.ended)
                if self._fall_back(session):
                    continue
            delay = backoff_delay(
                self._attempt,
                self._config.mqtt.reconnect_min_seconds,
                self._config.mqtt.reconnect_max_seconds,
            )
            self._attempt += 1
            self._stop.wait(delay)

    def _wait(self, session: _Session, done: Callable[[], bool], timeout: float) -> bool:
        """Wait until `done()`; False after `timeout` seconds or on stop."""
        deadline = time.monotonic() + timeout
        while not done():
            if self._stop.is_set() or time.monotonic() >= deadline:
                return False
            session.wake.wait(0.5)
            session.wake.clear()
        return True

    def _new_client(self, session_wake: threading.Event) -> _Session:
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
        client.will_set(self._topics.status, OFFLINE, qos=1, retain=True)
        session = _Session(client=client, protocol=self._protocol, wake=session_wake)
        client.on_connect = self._callback(session, self._on_connect)
        client.on_disconnect = self._callback(session, self._on_disconnect)
        client.on_publish = self._callback(session, self._on_publish)
        client.on_message = self._callback(session, self._on_message)
        return session

    @staticmethod
    def _callback(session: _Session, method: Callable[..., None]) -> Callable[..., None]:
        def bound(client: mqtt.Client, userdata: Any, *args: Any) -> None:
            method(session, *args)

        return bound

    def _connect(self) -> _Session | None:
        """Open the TCP (and TLS) connection and send CONNECT; None if that failed."""
        session = self._new_client(threading.Event())
        s = self._settings
        try:
            session.client.connect(s.host, s.port, keepalive=s.keepalive)
        except (OSError, ValueError) as error:
            self._log_outage(f"cannot reach the broker at {s.host}:{s.port} ({error})")
            return None
        with self._send_lock:
            if self._stop.is_set():
                session.client.disconnect()
                return None
            self._session = session
        session.client.loop_start()
        return session

    def _serve(self, session: _Session) -> None:
        """Announce, replay the journal, then stay until the connection ends."""
        if self._outage_logged:
            log.info("reconnected to the broker; replaying %d buckets", len(self._journal))
        else:
            log.info(
                "connected to the broker at %s:%d (MQTT %s)",
                self._settings.host,
                self._settings.port,
                "5" if session.protocol == MQTTProtocolVersion.MQTTv5 else "3.1.1",
            )
        self._outage_logged = False
        self._refusals_logged.clear()
        self._attempt = 0
        self._v5_accepted = self._v5_accepted or session.protocol == MQTTProtocolVersion.MQTTv5
        topics = [(self._topics.cmd_reset, 1)]
        if self._discovery is not None:
            topics.append((self._topics.ha_status, 1))
        session.client.subscribe(topics)
        with self._send_lock:
            self._publish(session, self._topics.status, ONLINE, retain=True)
            self._announce(session)
            self._publish(
                session, self._topics.privacy, self._manifest.model_dump_json(), retain=True
            )
            if self._last_state is not None:
                self._publish(session, self._topics.state, self._last_state.to_json(), retain=True)
            session.ready = True
            self._pump(session)
        while not session.ended and not self._stop.is_set():
            session.wake.wait(1.0)
            session.wake.clear()
            if session.reannounce and not session.ended:
                session.reannounce = False
                with self._send_lock:
                    self._announce(session)
                    if self._last_state is not None:
                        self._publish(
                            session, self._topics.state, self._last_state.to_json(), retain=True
                        )
        if session.ended and not self._stop.is_set():
            self._log_outage(
                "lost the broker connection; buckets stay in the journal until it returns"
            )

    def _announce(self, session: _Session) -> None:
        if self._discovery is not None:
            payload = self._discovery.model_dump_json(exclude_none=True)
            self._publish(session, self._topics.discovery, payload, retain=True)

    def _end(self, session: _Session, *, disconnect: bool) -> None:
        if disconnect:
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

    def _fall_back(self, session: _Session) -> bool:
        """Switch to MQTT 3.1.1 for good if the broker refused MQTT 5, or never answered
        an MQTT 5 CONNECT (auto mode only)."""
        unsupported = session.refusal is not None and session.refusal.value == UNSUPPORTED_PROTOCOL
        silent = session.refusal is None and not session.connected
        if self._probing_v5() and (unsupported or silent):
            log.info("the broker does not support MQTT 5; using MQTT 3.1.1")
            self._protocol = MQTTProtocolVersion.MQTTv311
            return True
        if session.refusal is not None and session.refusal.value not in self._refusals_logged:
            self._refusals_logged.add(session.refusal.value)
            log.warning(
                "the broker refused the connection (%s); check [mqtt] username, the password, "
                "and the broker's password and ACL files",
                session.refusal.getName(),
            )
        return False

    def _log_outage(self, message: str) -> None:
        if not self._outage_logged:
            log.warning("%s; retrying with backoff", message)
            self._outage_logged = True
        else:
            log.debug(message)

    # --- sending (always under _send_lock) --------------------------------------------

    def _pump(self, session: _Session) -> None:
        """Send every journal entry not yet sent on this connection, oldest first."""
        for entry in self._journal.pending():
            if entry.id in session.sent:
                continue
            try:
                Bucket.model_validate_json(entry.payload)
            except ValidationError:
                log.warning("journal: discarded an entry that is not a counts bucket")
                self._journal.ack(entry.id)
                continue
            session.sent.add(entry.id)
            self._publish(session, self._topics.counts, entry.payload, retain=False, entry=entry.id)

    def _publish(
        self,
        session: _Session,
        topic: str,
        payload: str | bytes,
        *,
        retain: bool,
        entry: int | None = None,
    ) -> None:
        info = session.client.publish(topic, payload, qos=1, retain=retain)
        if info.rc not in _QUEUED:
            log.debug("publish on %s not queued (%s)", topic, mqtt.error_string(info.rc))
            return
        with session.lock:
            early = session.early.pop(info.mid, None)
            if early is None:
                session.mids[info.mid] = entry
        if early is not None:
            self._acknowledged(entry, early)

    # --- paho callbacks (paho's network thread) -----------------------------------------

    def _on_connect(
        self,
        session: _Session,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            session.refusal = reason
        else:
            session.connected = True
        session.wake.set()

    def _on_disconnect(
        self,
        session: _Session,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        session.ended = True
        session.wake.set()

    def _on_publish(
        self, session: _Session, mid: int, reason: ReasonCode, properties: Properties | None
    ) -> None:
        with session.lock:
            if mid not in session.mids:
                session.early[mid] = reason
                return
            entry = session.mids.pop(mid)
        self._acknowledged(entry, reason)

    def _acknowledged(self, entry: int | None, reason: ReasonCode) -> None:
        if reason.is_failure:
            # The broker answered but did not accept (MQTT 5, e.g. "Not authorized"): the
            # bucket stays in the journal and is sent again on the next connection.
            log.warning(
                "the broker refused a publish (%s); check its ACL lets this sensor write "
                "its topics",
                reason.getName(),
            )
            return
        if entry is not None:
            self._journal.ack(entry)

    def _on_message(self, session: _Session, message: mqtt.MQTTMessage) -> None:
        if message.topic == self._topics.cmd_reset:
            self._on_reset(message)
        elif message.topic == self._topics.ha_status and message.payload.strip() == b"online":
            session.reannounce = True
            session.wake.set()

    def _on_reset(self, message: mqtt.MQTTMessage) -> None:
        if message.retain:
            log.warning("ignored a retained reset command; publish resets without retain")
            return
        try:
            command = parse_reset(bytes(message.payload))
        except CommandError as error:
            log.warning("ignored a reset command: %s", error)
            return
        log.info("reset command accepted")
        self._inbox.put(command)
