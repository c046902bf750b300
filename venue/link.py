"""The venue server's one broker connection: a persistent session that misses no bucket.

- A fixed client id (`headcount-venue-<site>-<venue>`) and a persistent session (MQTT 5
  clean_start false with a session expiry, or 3.1.1 clean_session false): while the
  server is down the broker queues the sensors' QoS 1 `counts` for it.
- `counts` are subscribed at QoS 1 and acknowledged by hand (`ack`), only after the
  caller has committed them to the store; a crash before that makes the broker send the
  bucket again, and dedupe by (boot, seq) absorbs it.
- `state` and `status` are subscribed at QoS 0: the retained message on every
  (re)subscribe makes the live part whole; no queue of old states builds up.
- Last will: `offline` (retained) on the venue's `status`; `online` after each connect.

paho's network thread calls `on_message`; the caller hands messages to its own thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from venue.config import PASSWORD_ENV, MqttConfig, VenueConfigError, read_secret
from venue.ingest import Topics

log = logging.getLogger(__name__)

UNSUPPORTED_PROTOCOL = 132


@dataclass(frozen=True)
class Inbound:
    """One received message and what is needed to acknowledge it later."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    session: int


def tls_context(config: MqttConfig) -> ssl.SSLContext | None:
    tls = config.tls
    if tls is None:
        return None
    if (tls.cert is None) != (tls.key is None):
        raise VenueConfigError(
            "[mqtt] tls needs both cert and key for a client certificate, or neither"
        )
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    try:
        context.load_verify_locations(cafile=str(tls.ca))
        if tls.cert is not None and tls.key is not None:
            context.load_cert_chain(certfile=str(tls.cert), keyfile=str(tls.key))
    except (OSError, ssl.SSLError) as error:
        raise VenueConfigError(
            f"cannot use the TLS files in [mqtt] tls ({error.__class__.__name__}); "
            "point ca, cert and key at readable PEM files"
        ) from None
    if tls.insecure:
        context.check_hostname = False
    return context


def resolve_password(config: MqttConfig, env: Mapping[str, str]) -> str | None:
    if config.password_file is not None:
        return read_secret(config.password_file, "[mqtt] password_file")
    return env.get(PASSWORD_ENV) or None


class Link:
    """Connects, subscribes, publishes; `on_message(Inbound)` runs on paho's thread."""

    def __init__(
        self,
        config: MqttConfig,
        *,
        topics: Topics,
        client_id: str,
        on_message: Callable[[Inbound], None],
        on_connected: Callable[[], None],
        env: Mapping[str, str] | None = None,
        extra_topics: tuple[str, ...] = (),
    ) -> None:
        self._config = config
        self._topics = topics
        self._client_id = client_id
        self._on_message_cb = on_message
        self._on_connected_cb = on_connected
        self._extra = extra_topics
        self._password = resolve_password(config, os.environ if env is None else env)
        self._tls = tls_context(config)
        self._protocol = (
            MQTTProtocolVersion.MQTTv311
            if config.protocol == "3.1.1"
            else MQTTProtocolVersion.MQTTv5
        )
        self._session = 0
        self._lock = threading.Lock()
        self.connected = threading.Event()
        self._client = self._build()

    def _build(self) -> mqtt.Client:
        v5 = self._protocol == MQTTProtocolVersion.MQTTv5
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self._client_id,
            clean_session=None if v5 else False,
            protocol=self._protocol,
            manual_ack=True,
        )
        client.username_pw_set(self._config.username or "venue", self._password)
        if self._tls is not None:
            client.tls_set_context(self._tls)
        client.will_set(self._topics.status, "offline", qos=1, retain=True)
        client.reconnect_delay_set(
            max(1, int(self._config.reconnect_min_seconds)),
            max(1, int(self._config.reconnect_max_seconds)),
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def start(self) -> None:
        kwargs: dict[str, object] = {}
        if self._protocol == MQTTProtocolVersion.MQTTv5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = self._config.session_expiry_seconds
            kwargs = {"clean_start": False, "properties": props}
        self._client.connect_async(
            self._config.host,
            self._config.port,
            self._config.keepalive,
            **kwargs,  # type: ignore[arg-type]
        )
        self._client.loop_start()

    def _restart(self) -> None:
        old = self._client
        old.disconnect()
        old.loop_stop()
        self._client = self._build()
        self.start()

    def stop(self) -> None:
        """Publish `offline`, wait briefly for it, disconnect."""
        if self.connected.is_set():
            info = self._client.publish(self._topics.status, "offline", qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(self._config.close_timeout_seconds)
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(
        self, client: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object
    ) -> None:
        if rc.is_failure:
            log.warning(
                "the broker refused the venue server (%s); check [mqtt] username and "
                "password_file, and the broker's ACL for that user",
                rc,
            )
            if (
                self._config.protocol == "auto"
                and self._protocol == MQTTProtocolVersion.MQTTv5
                and rc.value == UNSUPPORTED_PROTOCOL
            ):
                log.info("the broker does not speak MQTT 5; using 3.1.1")
                self._protocol = MQTTProtocolVersion.MQTTv311
                threading.Thread(target=self._restart, name="venue-mqtt-fallback").start()
            return
        with self._lock:
            self._session += 1
        log.info("connected to the broker %s:%d", self._config.host, self._config.port)
        for topic in self._topics.sensor_filters():
            client.subscribe(topic, qos=1 if topic.endswith("/counts") else 0)
        client.subscribe(self._topics.commands, qos=1)
        for topic in self._extra:
            client.subscribe(topic, qos=0)
        client.publish(self._topics.status, "online", qos=1, retain=True)
        self.connected.set()
        self._on_connected_cb()

    def _on_disconnect(
        self, _c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object
    ) -> None:
        if self.connected.is_set():
            log.warning("lost the broker (%s); reconnecting", rc)
        self.connected.clear()

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            session = self._session
        self._on_message_cb(
            Inbound(message.topic, bytes(message.payload), message.mid, message.qos, session)
        )

    def ack(self, message: Inbound) -> None:
        """Acknowledge a QoS 1 message once it is committed (skipped if its connection is gone:
        the broker will send it again)."""
        if message.qos == 0:
            return
        with self._lock:
            current = self._session
        if message.session == current:
            self._client.ack(message.mid, message.qos)

    def publish(self, topic: str, payload: str, *, retain: bool = True) -> None:
        """QoS 1; while disconnected the publish is dropped (the next state replaces it)."""
        if self.connected.is_set():
            self._client.publish(topic, payload, qos=1, retain=retain)
