"""Why a connection to the broker failed, in one sentence a user can act on.

Plain MQTT sent to a TLS port, TLS sent to a plain port, a missing client certificate
or a CA that does not match look alike from paho (the connection just ends). These
helpers name the cause, from the TLS error when there is one, else by a short probe of
the port (only ever the configured broker).
"""

from __future__ import annotations

import socket
import ssl

_PROBE_SECONDS = 3.0


def explain_tls_error(error: BaseException, *, has_cert: bool) -> str | None:
    """One sentence for a TLS failure of the connection, or None if it is not one."""
    text = str(error).upper()
    if "CERTIFICATE_REQUIRED" in text or ("HANDSHAKE_FAILURE" in text and not has_cert):
        return (
            "the broker requires a client certificate: set [mqtt] tls.cert and tls.key "
            "(broker_config/make_lab.sh makes one per sensor)"
        )
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return (
            "the broker's certificate is not signed by [mqtt] tls.ca or does not name "
            "[mqtt] host; use the broker's CA file and the host name its certificate names"
        )
    if "WRONG_VERSION_NUMBER" in text or "UNKNOWN_PROTOCOL" in text:
        return "this port speaks plain MQTT, not TLS: remove [mqtt] tls or use the TLS port"
    if "UNKNOWN_CA" in text or "BAD_CERTIFICATE" in text or "EXPIRED" in text:
        return (
            "the broker refused this sensor's client certificate: use one signed by the "
            "broker's CA (tls.cert and tls.key)"
        )
    return None


def probe(host: str, port: int, tls: ssl.SSLContext | None, *, has_cert: bool) -> str | None:
    """After a connection ended without a CONNACK: say why, if the port tells."""
    if tls is None:
        return _speaks_tls(host, port)
    try:
        with (
            socket.create_connection((host, port), timeout=_PROBE_SECONDS) as raw,
            tls.wrap_socket(raw, server_hostname=host) as conn,
        ):
            conn.settimeout(_PROBE_SECONDS)
            conn.recv(1)  # TLS 1.3 reports a refused or missing certificate here
    except (ssl.SSLError, ssl.CertificateError) as error:
        return explain_tls_error(error, has_cert=has_cert)
    except OSError:
        return None
    return None


def _speaks_tls(host: str, port: int) -> str | None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, port), timeout=_PROBE_SECONDS) as raw,
            context.wrap_socket(raw, server_hostname=host),
        ):
            pass
    except (OSError, ssl.SSLError):
        return None
    return (
        f"port {port} of {host} expects TLS, and this sensor sends plain MQTT: set [mqtt] "
        "tls (with the broker's CA file) or use the broker's plain port"
    )
