"""Turns the sensor's published snapshots (the `state` message) into counted crossings.

Line totals are cumulative per `boot`, so the crossings between two snapshots of a boot are
the growth of its totals; a boot seen for the first time starts from zero, unless it was
already running when recording began (its first, retained, snapshot is the baseline). A
total that shrinks (a reset command) becomes the new baseline. Line names match the
config's without regard to case. Only the message contract (`edge.messages.Snapshot`) is
read, never the sensor's internals.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from edge.messages import Snapshot
from lab.verify.score import Counted, Observed, OccupancyReading
from lab.verify.truth import DIRECTIONS

log = logging.getLogger(__name__)


@dataclass
class CountLog:
    """Collects snapshots, in the order received, as counted crossings and occupancy."""

    lines: tuple[str, ...]
    zones: tuple[str, ...]
    crossings: list[Counted] = field(default_factory=list)
    occupancy: list[OccupancyReading] = field(default_factory=list)
    snapshots: int = 0
    _totals: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(
        self,
        snapshot: Snapshot,
        time_s: float,
        *,
        arrival_s: float | None = None,
        baseline: bool = False,
    ) -> None:
        """Record one snapshot of clip time `time_s` that arrived at clip time `arrival_s`.

        `arrival_s` is known where arrivals are measured (MQTT); the scorer's latency of a
        matched crossing is its arrival minus the true crossing's time. `baseline` marks a
        snapshot from before recording began (a retained message).
        """
        with self._lock:
            self.snapshots += 1
            known = self._totals.get(snapshot.boot)
            now = {
                self.config_name(name): {"in": totals.in_, "out": totals.out}
                for name, totals in snapshot.lines.items()
            }
            self._totals[snapshot.boot] = now
            occupancy = {name: zone.occupancy for name, zone in snapshot.zones.items()}
            self.occupancy.append(OccupancyReading(time_s, occupancy))
            if known is None and baseline:
                return
            before = known if known is not None else {}
            self._grow(before, now, time_s, arrival_s)

    def _grow(
        self,
        before: dict[str, dict[str, int]],
        now: dict[str, dict[str, int]],
        time_s: float,
        arrival_s: float | None,
    ) -> None:
        for name, totals in now.items():
            for direction in DIRECTIONS:
                grown = totals[direction] - before.get(name, {}).get(direction, 0)
                if grown < 0:
                    log.warning(
                        "line %s %s total went down (a reset); new baseline", name, direction
                    )
                for _ in range(max(grown, 0)):
                    self.crossings.append(Counted(time_s, name, direction, arrival_s))

    def restart(self) -> None:
        """Forget what was recorded; the totals seen so far are the baseline of what follows."""
        with self._lock:
            self.crossings.clear()
            self.occupancy.clear()

    def config_name(self, published: str) -> str:
        """The config's spelling of a published line name (names match without case)."""
        return next((name for name in self.lines if name.lower() == published.lower()), published)

    def boot_totals(self) -> dict[str, dict[str, dict[str, int]]]:
        """The latest cumulative totals of each boot seen."""
        with self._lock:
            return {
                boot: {k: dict(v) for k, v in lines.items()} for boot, lines in self._totals.items()
            }

    def observed(self) -> Observed:
        """A frozen copy of what was recorded; totals summed over every boot's growth."""
        with self._lock:
            totals = {name: {"in": 0, "out": 0} for name in self.lines}
            for c in self.crossings:
                totals.setdefault(c.line, {"in": 0, "out": 0})[c.direction] += 1
            return Observed(
                lines=self.lines,
                zones=self.zones,
                crossings=tuple(self.crossings),
                occupancy=tuple(self.occupancy),
                totals=totals,
            )
