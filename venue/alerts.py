"""Capacity levels with hysteresis: ok -> warn at `warn`, -> full at `capacity`.

A level is entered when the occupancy reaches its threshold and left only when the
occupancy falls `hysteresis` below it, so a crowd hovering at a threshold does not make
the page and the alert topic flicker.
"""

from __future__ import annotations

from dataclasses import dataclass

from venue.messages import Level


@dataclass(frozen=True)
class Thresholds:
    capacity: int
    warn: int
    hysteresis: int


def next_level(current: Level, occupancy: int, limits: Thresholds) -> Level:
    """The level after seeing `occupancy`, given the level it was at."""
    if occupancy >= limits.capacity:
        return "full"
    if current == "full" and occupancy > limits.capacity - 1 - limits.hysteresis:
        return "full"
    if occupancy >= limits.warn:
        return "warn"
    if current in ("warn", "full") and occupancy > limits.warn - 1 - limits.hysteresis:
        return "warn"
    return "ok"
