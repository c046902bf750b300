"""The venue's day: when its daily reset (and the optional closing correction) falls.

A local wall time such as 04:00 names one instant per local date. On a spring-forward
date a time inside the gap (02:30 in Europe/Berlin) falls at the end of the gap, the
first instant whose local time is past it; on a fall-back date a repeated time falls at
its first occurrence. So every local date has exactly one reset, and a day lasts 23, 24
or 25 hours.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def instant(day: date, at: time, zone: ZoneInfo) -> float:
    """Epoch seconds of local time `at` on local date `day` (DST gaps and folds resolved)."""
    local = datetime.combine(day, at, tzinfo=zone)
    utc = local.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return utc.timestamp()  # an existing wall time; fold=0 is its first occurrence
    # In a gap: step back to the gap's end, the first instant whose local time is past `at`.
    step = timedelta(minutes=1)
    while True:
        earlier = (utc - step).astimezone(zone)
        if earlier.date() != day or earlier.time() < at:
            return utc.timestamp()
        utc -= step


def day_start(now: float, at: time, zone: ZoneInfo) -> float:
    """The latest reset instant at or before `now`: when the venue's current day began."""
    today = datetime.fromtimestamp(now, zone).date()
    start = instant(today, at, zone)
    return start if start <= now else instant(today - timedelta(days=1), at, zone)


def next_instant(now: float, at: time, zone: ZoneInfo) -> float:
    """The first instant of local time `at` strictly after `now`."""
    today = datetime.fromtimestamp(now, zone).date()
    for offset in range(3):
        candidate = instant(today + timedelta(days=offset), at, zone)
        if candidate > now:
            return candidate
    raise AssertionError("unreachable: a local time recurs within two days")


def label(start: float, zone: ZoneInfo) -> str:
    """The local date a day is named by (the date its reset fell on), e.g. 2026-03-29."""
    return datetime.fromtimestamp(start, zone).date().isoformat()
