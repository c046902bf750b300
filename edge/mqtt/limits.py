"""Size limits of every message, checked against the config at start-up.

The broker refuses packets over `max_packet_size` (broker_config/mosquitto.conf) and the
journal refuses records over `MAX_PAYLOAD`; a config with so many or such long line and
zone names that a message could pass either limit is refused before the first frame.
"""

from __future__ import annotations

from pydantic import BaseModel

from edge.config import Config
from edge.journal import MAX_PAYLOAD
from edge.messages import Bucket, LineTotals, Snapshot, ZoneNow, ZoneStats
from edge.mqtt.settings import MqttConfigError

BROKER_MAX_PACKET = 256 * 1024  # `max_packet_size` in broker_config/mosquitto.conf
MAX_DISCOVERY_BYTES = BROKER_MAX_PACKET - 1024  # room for the topic and the header
MAX_STATE_BYTES = MAX_PAYLOAD  # `counts` and `state`: what the journal can hold
_BIG = 10**12  # larger than any count, sequence number or frame index of a real run
_MEAN = 123456.78901234567


def worst_bucket(config: Config) -> Bucket:
    return Bucket(
        site=config.sensor.site,
        sensor=config.sensor.id,
        boot="f" * 8,
        seq=_BIG,
        start="2026-11-28T15:00:00Z",
        end="2026-11-28T15:01:00Z",
        lines={line.name: LineTotals(in_=_BIG, out=_BIG) for line in config.lines},
        zones={z.name: ZoneStats(mean=_MEAN, max=_BIG, suppressed=True) for z in config.zones},
        noise=True,
    )


def worst_snapshot(config: Config) -> Snapshot:
    return Snapshot(
        site=config.sensor.site,
        sensor=config.sensor.id,
        ts="2026-11-28T15:00:00.000Z",
        boot="f" * 8,
        seq=_BIG,
        frame=_BIG,
        zones={z.name: ZoneNow(occupancy=_BIG, suppressed=True) for z in config.zones},
        lines={line.name: LineTotals(in_=_BIG, out=_BIG) for line in config.lines},
        resets=_BIG,
        dropped=_BIG,
    )


def _too_big(what: str, size: int, limit: int, config: Config) -> MqttConfigError:
    return MqttConfigError(
        f"with {len(config.lines)} lines and {len(config.zones)} zones a {what} message can "
        f"reach {size} bytes, over the limit of {limit}: use fewer lines and zones or "
        "shorter names" + (", or set [mqtt] discovery = false" if what == "discovery" else "")
    )


def check_message_sizes(config: Config, discovery: BaseModel | None) -> None:
    """Raise MqttConfigError (one sentence) if a message of this config could be too big."""
    for what, message in (("counts", worst_bucket(config)), ("state", worst_snapshot(config))):
        size = len(message.to_json().encode())
        if size > MAX_STATE_BYTES:
            raise _too_big(what, size, MAX_STATE_BYTES, config)
    if discovery is not None:
        size = len(discovery.model_dump_json(exclude_none=True).encode())
        if size > MAX_DISCOVERY_BYTES:
            raise _too_big("discovery", size, MAX_DISCOVERY_BYTES, config)
