"""End-to-end tests reuse the MQTT tests' real mosquitto fixtures (`lab`, `broker`)."""

from tests.mqtt.conftest import broker, lab  # noqa: F401 - imported fixtures register here
