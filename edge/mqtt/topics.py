"""The topic names of one sensor (DESIGN.md 4.2): `<prefix>/<site>/<sensor>/...`."""

from __future__ import annotations

from dataclasses import dataclass

from edge.config import Config


@dataclass(frozen=True)
class Topics:
    """Every topic the sensor publishes to or subscribes to."""

    base: str
    discovery: str
    ha_status: str

    @classmethod
    def for_config(cls, config: Config) -> Topics:
        prefix = config.mqtt.discovery_prefix
        return cls(
            base=f"{config.mqtt.topic_prefix}/{config.sensor.site}/{config.sensor.id}",
            discovery=f"{prefix}/device/{config.sensor.site}/{config.sensor.id}/config",
            ha_status=f"{prefix}/status",
        )

    @property
    def status(self) -> str:
        return f"{self.base}/status"

    @property
    def state(self) -> str:
        return f"{self.base}/state"

    @property
    def counts(self) -> str:
        return f"{self.base}/counts"

    @property
    def privacy(self) -> str:
        return f"{self.base}/privacy"

    @property
    def reset_done(self) -> str:
        """What a reset command reset (the sensor may not write under `cmd/`)."""
        return f"{self.base}/reset"

    @property
    def cmd_reset(self) -> str:
        return f"{self.base}/cmd/reset"
