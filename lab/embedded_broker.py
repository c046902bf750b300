"""An MQTT broker inside the demo process (amqtt, MQTT 3.1.1), and a subscriber to watch it.

For the demo only: it listens on a free loopback port, allows anonymous clients and
keeps nothing on disk. Production and the tests use mosquitto (broker_config/).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


class EmbeddedBrokerError(Exception):
    """The embedded broker could not start; the message says what to do."""


@dataclass(frozen=True)
class EmbeddedBroker:
    """A running broker: where to reach it, and how to stop it (idempotent)."""

    host: str
    port: int
    stop: Callable[[], None]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def start_embedded_broker(timeout: float = 10.0) -> EmbeddedBroker:
    """Start amqtt on a free loopback port in a thread with its own event loop."""
    try:
        from amqtt.broker import Broker
    except ImportError:
        raise EmbeddedBrokerError(
            "the demo's embedded broker needs amqtt; install the 'demo' extra "
            "(pip install 'headcount[demo]') or pass --broker HOST:PORT"
        ) from None
    # amqtt logs every refused MQTT 5 probe as a warning; the sink handles those.
    for name in ("amqtt", "transitions"):
        logging.getLogger(name).setLevel(logging.ERROR)

    port = _free_port()
    started = threading.Event()
    failure: list[BaseException] = []
    loop = asyncio.new_event_loop()
    stopping: asyncio.Event | None = None

    async def serve() -> None:
        nonlocal stopping
        stopping = asyncio.Event()
        config: dict[str, Any] = {
            "listeners": {"default": {"type": "tcp", "bind": f"{LOOPBACK}:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        broker = Broker(config)
        try:
            await broker.start()
        except Exception as error:  # amqtt raises its own BrokerError or OSError
            failure.append(error)
            started.set()
            return
        started.set()
        await stopping.wait()
        await broker.shutdown()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(serve())
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="embedded-broker", daemon=True)
    thread.start()
    if not started.wait(timeout) or failure:
        raise EmbeddedBrokerError(
            f"the embedded broker did not start on {LOOPBACK}:{port}; "
            "pass --broker HOST:PORT to use another broker"
        )

    def stop() -> None:
        if stopping is not None and thread.is_alive():
            loop.call_soon_threadsafe(stopping.set)
            thread.join(timeout)

    log.info("embedded MQTT broker (amqtt, demo only) on %s:%d", LOOPBACK, port)
    return EmbeddedBroker(LOOPBACK, port, stop)


MessageHandler = Callable[[str, bytes, bool], None]


def watch(
    host: str,
    port: int,
    on_message: MessageHandler,
    *,
    topic: str = "headcount/#",
    username: str | None = None,
    password: str | None = None,
) -> Callable[[], None]:
    """Subscribe (QoS 1) and call `on_message(topic, payload, retained)` from paho's
    thread for everything a subscriber receives; returns a function that stops it."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="", protocol=MQTTProtocolVersion.MQTTv311
    )
    if username is not None:
        client.username_pw_set(username, password)

    def connected(c: mqtt.Client, u: Any, f: Any, reason: Any, p: Any) -> None:
        if not reason.is_failure:
            c.subscribe(topic, qos=1)

    def received(c: mqtt.Client, u: Any, message: mqtt.MQTTMessage) -> None:
        on_message(message.topic, bytes(message.payload), bool(message.retain))

    client.on_connect = connected
    client.on_message = received
    client.connect_async(host, port, keepalive=30)
    client.loop_start()

    def stop() -> None:
        client.disconnect()
        client.loop_stop()

    return stop
