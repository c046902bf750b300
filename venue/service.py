"""The venue's state machine: sensor messages and commands in, one venue figure out.

Single-threaded and clock-injected: the server calls it from its event loop, tests call
it directly with a fake clock. Every change is written to the store in the caller's
transaction before the broker is acknowledged, so a restart resumes exactly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from edge.messages import iso_ms
from venue import days
from venue.alerts import Thresholds, next_level
from venue.config import VenueConfig
from venue.ingest import MessageError, Route, epoch, parse_bucket, parse_state, parse_status
from venue.ledger import BootLine, Entrance, Ledger
from venue.messages import (
    AdjustCommand,
    CommandError,
    Level,
    VenueAlert,
    VenueState,
    parse_command,
)
from venue.store import BucketRow, DayRow, MinuteRow, Store

log = logging.getLogger(__name__)


class Clock(Protocol):
    def __call__(self) -> float: ...


@dataclass
class SensorSeen:
    """What the venue knows of one sensor (not persisted: the broker's retained
    `status` and `state` rebuild it at every connection)."""

    online: bool = False
    boot: str | None = None
    seq: int = 0
    last_seen: float | None = None
    zones: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What handling one message did: `changed` the figure; `rejected` a reason label."""

    changed: bool = False
    rejected: str | None = None
    duplicate: bool = False


class VenueService:
    """Ledger + store + sensor status + alert level for one venue."""

    def __init__(
        self,
        config: VenueConfig,
        store: Store,
        clock: Clock = time.time,
        on_reject: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self._on_reject = on_reject
        self.entrances = [Entrance(e.sensor, e.line, e.reverse) for e in config.entrances]
        self.ledger = Ledger(self.entrances, store.load_records())
        self._dirty: dict[tuple[str, str, str], BootLine] = {}
        self._iso: dict[str, tuple[float, str]] = {}
        self._entrance_sensors = {e.sensor for e in self.entrances}
        self.sensors: dict[str, SensorSeen] = {s: SensorSeen() for s in config.sensors}
        venue = config.venue
        now = clock()
        day = store.load_day()
        if day is None:
            day = DayRow(days.day_start(now, venue.reset_time, venue.zone), 0, None, None, None)
            with store.transaction():
                store.save_day(day)
        self.day = day
        self.level: Level = "ok"
        self.level = next_level("ok", self.occupancy(), self.thresholds)

    # --- figures --------------------------------------------------------------------

    @property
    def thresholds(self) -> Thresholds:
        venue = self.config.venue
        capacity = self.day.capacity if self.day.capacity is not None else venue.capacity
        warn = self.day.warn if self.day.warn is not None else venue.warn
        return Thresholds(capacity, min(warn, capacity), venue.hysteresis)

    def raw_occupancy(self) -> int:
        return self.ledger.raw_occupancy() + self.day.adjust

    def occupancy(self) -> int:
        return max(0, self.raw_occupancy())

    def is_fresh(self, sensor: str, now: float) -> bool:
        seen = self.sensors.get(sensor)
        return bool(
            seen
            and seen.online
            and seen.last_seen is not None
            and now - seen.last_seen <= self.config.venue.stale_seconds
        )

    def uncertain(self, now: float) -> bool:
        return any(not self.is_fresh(e.sensor, now) for e in self.entrances)

    def _iso_ms(self, sensor: str, moment: float) -> str:
        cached = self._iso.get(sensor)
        if cached is None or cached[0] != moment:
            cached = (moment, iso_ms(moment))
            self._iso[sensor] = cached
        return cached[1]

    def figure(self) -> dict[str, Any]:
        """The venue's figure now as plain data, keyed as `VenueState` (built without
        pydantic: a venue of 1,000 doors rebuilds it many times a second)."""
        now = self.clock()
        limits = self.thresholds
        entrances = {}
        raw = self.day.adjust
        for entrance in self.entrances:
            n_in, n_out = self.ledger.entrance_today(entrance)
            raw += n_in - n_out
            entrances[entrance.key] = {
                "sensor": entrance.sensor,
                "line": entrance.line,
                "in": n_in,
                "out": n_out,
            }
        areas = {
            area.name: {
                "occupancy": sum(self.sensors[z.sensor].zones.get(z.zone, 0) for z in area.zones)
            }
            for area in self.config.areas
        }
        sensors: dict[str, dict[str, Any]] = {}
        uncertain = False
        for sensor, seen in self.sensors.items():
            fresh = self.is_fresh(sensor, now)
            uncertain |= sensor in self._entrance_sensors and not fresh
            status: dict[str, Any] = {"online": seen.online, "stale": seen.online and not fresh}
            if seen.last_seen is not None:
                status["last_seen"] = self._iso_ms(sensor, seen.last_seen)
            sensors[sensor] = status
        return {
            "v": 1,
            "site": self.config.venue.site,
            "venue": self.config.venue.name,
            "ts": iso_ms(now),
            "day": days.label(self.day.day_start, self.config.venue.zone),
            "occupancy": max(0, raw),
            "raw_occupancy": raw,
            "adjust": self.day.adjust,
            "capacity": limits.capacity,
            "warn": limits.warn,
            "level": self.level,
            "uncertain": uncertain,
            "entrances": entrances,
            "areas": areas,
            "sensors": {sensor: status["online"] for sensor, status in sensors.items()},
            "sensor_status": sensors,
        }

    def state(self) -> VenueState:
        """The figure as the contract's model (validated)."""
        return VenueState.model_validate(self.figure())

    # --- messages -------------------------------------------------------------------

    def _mark(self, records: list[BootLine]) -> None:
        for record in records:
            self._dirty[record.key] = record

    @property
    def dirty(self) -> bool:
        return bool(self._dirty)

    def flush(self) -> None:
        """Write the changed ledger records; call inside the batch's transaction, before
        acknowledging its buckets."""
        if self._dirty:
            self.store.save_records(self._dirty.values())
            self._dirty.clear()

    def handle(self, route: Route, payload: bytes) -> Outcome:
        """Apply one message; never raises for bad input (the outcome says what happened)."""
        try:
            if route.kind == "cmd":
                return self._command(route.name, payload)
            if route.sensor not in self.sensors:
                return Outcome()
            if route.kind == "status":
                return self._status(route.sensor, parse_status(payload))
            if route.kind == "state":
                return self._state(route.sensor, payload)
            return self._bucket(route.sensor, payload)
        except MessageError as error:
            log.warning("ignored a %s message from %s: %s", route.kind, route.sensor or "?", error)
            if self._on_reject is not None:
                self._on_reject(error.reason)
            return Outcome(rejected=error.reason)

    def _status(self, sensor: str, online: bool) -> Outcome:
        seen = self.sensors[sensor]
        changed = seen.online != online
        seen.online = online
        if online:
            seen.last_seen = self.clock()
        if changed:
            log.info("sensor %s is %s", sensor, "online" if online else "offline")
        return Outcome(changed=True)

    def _state(self, sensor: str, payload: bytes) -> Outcome:
        message = parse_state(payload, sensor, self.config.venue.site)
        seen = self.sensors[sensor]
        seen.last_seen = self.clock()
        zones_moved = False
        if message.boot != seen.boot or message.seq > seen.seq:
            seen.boot, seen.seq = message.boot, message.seq
            zones = {name: zone.occupancy for name, zone in message.zones.items()}
            zones_moved, seen.zones = zones != seen.zones, zones
        lines = {name: (t.in_, t.out) for name, t in message.lines.items()}
        records = self.ledger.apply_state(sensor, message.boot, message.seq, lines)
        self._mark(records)
        # A heartbeat with the same counts changes no figure (its time shows with the next).
        return Outcome(changed=bool(records) or zones_moved)

    def _bucket(self, sensor: str, payload: bytes) -> Outcome:
        message = parse_bucket(payload, sensor, self.config.venue.site)
        now = self.clock()
        self.sensors[sensor].last_seen = now
        if not self.store.claim_bucket(sensor, message.boot, message.seq, now):
            return Outcome(duplicate=True)
        start, end = epoch(message.start), epoch(message.end)
        lines = {name: (t.in_, t.out) for name, t in message.lines.items()}
        records = self.ledger.apply_bucket(sensor, message.boot, start, lines)
        self._mark(records)
        for entrance in self.entrances:
            counts = lines.get(entrance.line) if entrance.sensor == sensor else None
            if counts is not None:
                n_in, n_out = counts[::-1] if entrance.reverse else counts
                self.store.add_entrance_bucket(BucketRow(entrance.key, start, end, n_in, n_out))
        return Outcome(changed=bool(records))

    def _command(self, name: str, payload: bytes) -> Outcome:
        try:
            command = parse_command(name, payload)
        except CommandError as error:
            raise MessageError("bad_command", str(error)) from None
        if isinstance(command, AdjustCommand):
            self.adjust(command.delta)
        else:
            self.reset()
        return Outcome(changed=True)

    # --- actions --------------------------------------------------------------------

    def _rebase(self, since: float) -> None:
        now = self.clock()
        current = {s: seen.boot for s, seen in self.sensors.items() if seen.boot is not None}
        fresh = {s for s in self.sensors if self.is_fresh(s, now)}
        self._mark(self.ledger.rebase(since, current, fresh))
        self.flush()

    def reset(self) -> None:
        """Occupancy starts again from 0 now (MQTT `cmd/reset` or the page)."""
        now = self.clock()
        self._rebase(now)
        self.day = replace(self.day, adjust=0)
        self.store.save_day(self.day)
        self.store.add_event(now, "reset", None)
        log.info("venue reset by command: occupancy 0")

    def adjust(self, delta: int) -> None:
        """Add `delta` people to the figure (a manual correction)."""
        self.day = replace(self.day, adjust=self.day.adjust + delta)
        self.store.save_day(self.day)
        self.store.add_event(self.clock(), "adjust", delta)
        log.info("venue adjusted by %+d", delta)

    def set_capacity(self, capacity: int, warn: int) -> None:
        self.day = replace(self.day, capacity=capacity, warn=warn)
        self.store.save_day(self.day)
        self.store.add_event(self.clock(), "capacity", capacity)

    # --- time -----------------------------------------------------------------------

    def tick(self) -> bool:
        """Daily reset, closing correction, minute history; True if the figure changed."""
        now = self.clock()
        venue = self.config.venue
        changed = False
        start = days.day_start(now, venue.reset_time, venue.zone)
        if start > self.day.day_start:
            self._rebase(start)
            self.day = replace(self.day, day_start=start, adjust=0, empty_done=None)
            self.store.save_day(self.day)
            self.store.add_event(now, "daily_reset", None)
            self.store.prune(now - self.config.history.retention_days * 86400.0)
            log.info("a new day %s began", days.label(start, venue.zone))
            changed = True
        changed |= self._closing_correction(now)
        self.store.put_minute(
            MinuteRow(int(now // 60), self.occupancy(), self.raw_occupancy(), self.uncertain(now))
        )
        return changed

    def _closing_correction(self, now: float) -> bool:
        at = self.config.venue.empty_time
        if at is None or self.day.empty_done is not None:
            return False
        empty = days.next_instant(self.day.day_start, at, self.config.venue.zone)
        if now < empty:
            return False
        drift = self.raw_occupancy()
        self.day = replace(self.day, adjust=self.day.adjust - drift, empty_done=now)
        self.store.save_day(self.day)
        self.store.add_event(now, "empty_correction", -drift)
        log.info("closing correction at %s: %+d (the venue is empty)", at, -drift)
        return drift != 0

    def update_level(self) -> VenueAlert | None:
        """Move the alert level with the occupancy; the alert to publish when it changed."""
        level = next_level(self.level, self.occupancy(), self.thresholds)
        if level == self.level:
            return None
        previous, self.level = self.level, level
        limits = self.thresholds
        log.info("capacity level %s -> %s at %d", previous, level, self.occupancy())
        return VenueAlert(
            site=self.config.venue.site,
            venue=self.config.venue.name,
            ts=iso_ms(self.clock()),
            level=level,
            previous=previous,
            occupancy=self.occupancy(),
            capacity=limits.capacity,
            warn=limits.warn,
        )
