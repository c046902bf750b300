"""verify's tests reuse the real mosquitto of tests/mqtt (its lab users, ACL and ports)."""

from __future__ import annotations

from tests.mqtt.conftest import broker, lab

__all__ = ["broker", "lab"]
