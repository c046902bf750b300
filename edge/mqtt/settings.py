"""Broker connection settings resolved and checked at start-up: credentials and TLS files.

Every problem a user can cause (missing or unreadable password file, CA, certificate or
key; a key without a certificate; files that are not PEM) becomes one `MqttConfigError`
sentence that says what to fix. The password never comes from the command line.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from edge.config import Config, TlsConfig

PASSWORD_ENV = "HEADCOUNT_MQTT_PASSWORD"


class MqttConfigError(Exception):
    """A broker setting cannot work; the message is one sentence saying what to do."""


@dataclass(frozen=True)
class BrokerSettings:
    """Everything needed to connect, already validated."""

    host: str
    port: int
    client_id: str
    username: str
    keepalive: int
    protocol: str
    password: str | None = field(default=None, repr=False)
    tls: ssl.SSLContext | None = field(default=None, repr=False)
    tls_insecure: bool = False
    has_cert: bool = False


def _read_text(path: Path, what: str, key: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MqttConfigError(f"the {what} {path} does not exist; fix [mqtt] {key}") from None
    except IsADirectoryError:
        raise MqttConfigError(
            f"the {what} {path} is a folder; point [mqtt] {key} at a file"
        ) from None
    except PermissionError:
        raise MqttConfigError(
            f"the {what} {path} is not readable by this user; fix its permissions"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise MqttConfigError(
            f"cannot read the {what} {path} ({error.__class__.__name__}); fix [mqtt] {key}"
        ) from None


def resolve_password(config: Config, env: Mapping[str, str]) -> str | None:
    """The password from `[mqtt] password_file` if set, else `$HEADCOUNT_MQTT_PASSWORD`."""
    path = config.mqtt.password_file
    if path is not None:
        text = _read_text(path, "password file", "password_file")
        password = text.splitlines()[0] if text.strip() else ""
        if not password:
            raise MqttConfigError(
                f"the password file {path} is empty; write the password on its first line"
            )
        return password
    value = env.get(PASSWORD_ENV)
    return value if value else None


def tls_context(tls: TlsConfig) -> ssl.SSLContext:
    """A client TLS context from the CA (and optional client certificate and key)."""
    _read_text(tls.ca, "CA file", "tls.ca")
    if (tls.cert is None) != (tls.key is None):
        raise MqttConfigError(
            "[mqtt] tls needs both cert and key for a client certificate, or neither"
        )
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    try:
        context.load_verify_locations(cafile=str(tls.ca))
    except ssl.SSLError:
        raise MqttConfigError(
            f"the CA file {tls.ca} is not a PEM certificate; fix [mqtt] tls.ca"
        ) from None
    if tls.cert is not None and tls.key is not None:
        _read_text(tls.cert, "client certificate", "tls.cert")
        _read_text(tls.key, "client key", "tls.key")
        try:
            context.load_cert_chain(certfile=str(tls.cert), keyfile=str(tls.key))
        except ssl.SSLError:
            raise MqttConfigError(
                f"the client certificate {tls.cert} and key {tls.key} are not a matching "
                "PEM pair; fix [mqtt] tls.cert and tls.key"
            ) from None
    if tls.insecure:
        context.check_hostname = False
    return context


def resolve_settings(config: Config, env: Mapping[str, str] | None = None) -> BrokerSettings:
    """Validate the `[mqtt]` section against the files and environment it names."""
    env = os.environ if env is None else env
    mqtt = config.mqtt
    return BrokerSettings(
        host=mqtt.host,
        port=mqtt.port,
        client_id=f"headcount-{config.sensor.site}-{config.sensor.id}",
        username=mqtt.username if mqtt.username else config.sensor.id,
        keepalive=mqtt.keepalive,
        protocol=mqtt.protocol,
        password=resolve_password(config, env),
        tls=tls_context(mqtt.tls) if mqtt.tls is not None else None,
        tls_insecure=mqtt.tls.insecure if mqtt.tls is not None else False,
        has_cert=mqtt.tls is not None and mqtt.tls.cert is not None,
    )
