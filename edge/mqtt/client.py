"""The MQTT sink: publishes the count contract to a broker without losing a closed bucket.

Composed of small parts, each with one job (broker_config/CONTRACT.md has the consumer's
view):

- `Connection` (connection.py): the link state machine, reconnects, one-sentence errors;
- `JournalPump` (pump.py): closed buckets go to the `Journal` first and leave it only
  when the broker acknowledges them, replayed in order after every reconnect and restart;
- `CommandIntake` (intake.py): `cmd/reset` checked, de-duplicated and rate-limited;
- `DiscoveryAnnouncer` (below): Home Assistant discovery, again when HA says `online`.

After every accepted CONNACK: subscribe, publish `online`, discovery, `privacy`, the
latest `state`, then every unacknowledged bucket. Last will: `offline` (QoS 1, retained);
`close()` publishes it itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import BaseModel

from edge.commands import CommandInbox, Reset
from edge.config import Config
from edge.journal import Journal, JournalError
from edge.messages import Bucket, Snapshot, iso_ms
from edge.mqtt.connection import Connection, Hooks, backoff_delay
from edge.mqtt.discovery import build_discovery
from edge.mqtt.intake import CommandIntake
from edge.mqtt.limits import check_message_sizes
from edge.mqtt.payloads import OFFLINE, ONLINE, ResetDone
from edge.mqtt.pump import JournalPump
from edge.mqtt.settings import MqttConfigError, resolve_settings
from edge.mqtt.throttle import ThrottledLog
from edge.mqtt.topics import Topics
from edge.privacy.manifest import PrivacyManifest, manifest_for_config

__all__ = ["MqttConfigError", "MqttSink", "backoff_delay"]

log = logging.getLogger(__name__)


def _json(model: BaseModel) -> str:
    to_json = getattr(model, "to_json", None)
    return str(to_json()) if callable(to_json) else model.model_dump_json()


class DiscoveryAnnouncer:
    """Home Assistant discovery: announced on each link, and again when HA says `online`."""

    def __init__(self, topic: str, payload: str) -> None:
        self.topic = topic
        self._payload = payload
        self._wanted = threading.Event()

    def on_ha_status(self, payload: bytes) -> None:
        if payload.strip() == b"online":
            self._wanted.set()

    def due(self) -> bool:
        """True once after Home Assistant asked (then False until it asks again)."""
        if self._wanted.is_set():
            self._wanted.clear()
            return True
        return False

    def announce(self, connection: Connection) -> None:
        connection.publish(self.topic, self._payload, retain=True)


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
        manifest: PrivacyManifest | None = None,
        journal: Journal | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        settings = resolve_settings(config, env)
        discovery = build_discovery(config) if config.mqtt.discovery else None
        check_message_sizes(config, discovery)
        self._config = config
        self._boot = boot
        self._topics = Topics.for_config(config)
        self._manifest = _json(manifest if manifest is not None else manifest_for_config(config))
        self._journal = journal if journal is not None else _open_journal(config)
        self._announcer = (
            DiscoveryAnnouncer(self._topics.discovery, discovery.model_dump_json(exclude_none=True))
            if discovery is not None
            else None
        )
        self._refusals = ThrottledLog(log, interval=60.0)
        self._intake = CommandIntake(inbox, [line.name for line in config.lines])
        inbox.subscribe(self._reset_applied)
        subscriptions = [self._topics.cmd_reset]
        if self._announcer is not None:
            subscriptions.append(self._topics.ha_status)
        self._connection = Connection(
            settings,
            will_topic=self._topics.status,
            will_payload=OFFLINE,
            subscriptions=subscriptions,
            hooks=Hooks(on_ready=self._on_ready, on_message=self._on_message, on_idle=self._idle),
            reconnect=(config.mqtt.reconnect_min_seconds, config.mqtt.reconnect_max_seconds),
        )
        self._pump = JournalPump(
            self._journal, self._topics.counts, self._connection, self._refusals
        )
        self._last_state: Snapshot | None = None
        self._state_lock = threading.Lock()
        self._closed = False

    # --- the Sink boundary --------------------------------------------------------

    @property
    def topics(self) -> Topics:
        return self._topics

    @property
    def journal(self) -> Journal:
        return self._journal

    @property
    def pending(self) -> int:
        """Buckets in the journal that the broker has not acknowledged yet."""
        return len(self._journal)

    @property
    def connected(self) -> bool:
        return self._connection.ready

    @property
    def refused(self) -> int:
        """Publishes the broker answered with a refusal (e.g. not allowed by its ACL)."""
        return self._refusals.total("refused")

    @property
    def socket_setup(self) -> threading.Lock:
        """Held while the client sets up its own sockets (see `Connection.socket_setup`)."""
        return self._connection.socket_setup

    def start(self) -> None:
        """Begin connecting in the background; returns at once."""
        self._connection.start()

    def publish_snapshot(self, snapshot: Snapshot) -> None:
        """Publish `state` (retained) now if connected; the latest is sent on (re)connect."""
        with self._state_lock:
            self._last_state = snapshot
        self._send_state(snapshot)

    def publish_bucket(self, bucket: Bucket) -> None:
        """Journal the bucket (durably when the disk allows), then send what is unsent."""
        self._journal.append(bucket.to_json().encode())
        if self._connection.ready:
            self._pump.pump()

    def close(self) -> None:
        """Publish `offline`, wait a bounded time for acks, disconnect, close the journal."""
        if self._closed:
            return
        self._closed = True
        if self._connection.publish(self._topics.status, OFFLINE, retain=True):
            self._connection.drain(self._config.mqtt.close_timeout_seconds)
            unacked = self._pump.unacknowledged
            if unacked:
                log.warning(
                    "%d buckets not acknowledged at exit; the journal sends them next run",
                    unacked,
                )
        self._connection.stop()
        self._journal.close()

    # --- on each link (the connection's thread, send lock held) ---------------------

    def _on_ready(self) -> None:
        self._pump.restart()
        self._connection.publish(self._topics.status, ONLINE, retain=True)
        if self._announcer is not None:
            self._announcer.announce(self._connection)
        self._connection.publish(self._topics.privacy, self._manifest, retain=True)
        with self._state_lock:
            state = self._last_state
        if state is not None:
            self._send_state(state)
        self._pump.pump()

    def _idle(self) -> None:
        if self._announcer is not None and self._announcer.due():
            with self._connection.sending():
                self._announcer.announce(self._connection)
                with self._state_lock:
                    state = self._last_state
                if state is not None:
                    self._send_state(state)

    def _send_state(self, snapshot: Snapshot) -> None:
        dropped = snapshot.dropped
        self._connection.publish(
            self._topics.state,
            snapshot.to_json(),
            retain=True,
            on_ack=None if not dropped else lambda reason: self._state_answered(dropped, reason),
        )

    def _state_answered(self, dropped: int, reason: ReasonCode) -> None:
        if not reason.is_failure:
            self._journal.reported(dropped)

    # --- messages in (paho's thread) --------------------------------------------------

    def _on_message(self, message: mqtt.MQTTMessage) -> None:
        if message.topic == self._topics.cmd_reset:
            self._intake.on_reset(bytes(message.payload), retained=bool(message.retain))
        elif message.topic == self._topics.ha_status and self._announcer is not None:
            self._announcer.on_ha_status(bytes(message.payload))

    def _reset_applied(self, reset: Reset) -> None:
        """The pipeline took a reset (its thread): say what was reset."""
        lines = reset.lines if reset.lines is not None else [x.name for x in self._config.lines]
        done = ResetDone(
            site=self._config.sensor.site,
            sensor=self._config.sensor.id,
            boot=self._boot,
            id=reset.id,
            lines=lines,
            ts=iso_ms(time.time()),
        )
        self._connection.publish(self._topics.reset_done, done.model_dump_json(), retain=False)


def _open_journal(config: Config) -> Journal:
    try:
        return Journal(config.journal.dir, config.journal.max_messages)
    except JournalError as error:
        raise MqttConfigError(str(error)) from None
