"""Prometheus metrics of one venue server, in their own registry (served on /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from venue.messages import VenueState

LEVELS = {"ok": 0, "warn": 1, "full": 2}


class Metrics:
    """Gauges follow the published venue state; counters count what was received."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.occupancy = Gauge(
            "headcount_venue_occupancy", "People inside (never below 0).", registry=r
        )
        self.raw = Gauge("headcount_venue_raw_occupancy", "Σ(in - out) + adjustments.", registry=r)
        self.capacity = Gauge("headcount_venue_capacity", "People allowed inside.", registry=r)
        self.level = Gauge(
            "headcount_venue_level", "Alert level: 0 ok, 1 warn, 2 full.", registry=r
        )
        self.uncertain = Gauge(
            "headcount_venue_uncertain", "1 while an entrance's sensor is offline.", registry=r
        )
        self.entrance_in = Gauge(
            "headcount_venue_entrance_in_today",
            "People in through a door today.",
            ["entrance"],
            registry=r,
        )
        self.entrance_out = Gauge(
            "headcount_venue_entrance_out_today",
            "People out through a door today.",
            ["entrance"],
            registry=r,
        )
        self.sensor_up = Gauge(
            "headcount_venue_sensor_up", "1 while the sensor is online.", ["sensor"], registry=r
        )
        self.sensor_last_seen = Gauge(
            "headcount_venue_sensor_last_seen_timestamp_seconds",
            "When the sensor's last message arrived.",
            ["sensor"],
            registry=r,
        )
        self.messages = Counter(
            "headcount_venue_messages", "Messages taken, by kind.", ["kind"], registry=r
        )
        self.rejected = Counter(
            "headcount_venue_rejected_messages",
            "Messages ignored (oversized, invalid, wrong_origin, bad_command).",
            ["reason"],
            registry=r,
        )
        self.duplicates = Counter(
            "headcount_venue_duplicate_buckets", "Buckets received again (deduped).", registry=r
        )

    def observe(self, state: VenueState, last_seen: dict[str, float | None]) -> None:
        self.occupancy.set(state.occupancy)
        self.raw.set(state.raw_occupancy)
        self.capacity.set(state.capacity)
        self.level.set(LEVELS[state.level])
        self.uncertain.set(int(state.uncertain))
        for key, entrance in state.entrances.items():
            self.entrance_in.labels(key).set(entrance.in_)
            self.entrance_out.labels(key).set(entrance.out)
        for sensor, online in state.sensors.items():
            self.sensor_up.labels(sensor).set(int(online))
            seen = last_seen.get(sensor)
            if seen is not None:
                self.sensor_last_seen.labels(sensor).set(seen)

    def render(self) -> bytes:
        return generate_latest(self.registry)
