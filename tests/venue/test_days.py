"""The daily reset at a local time, across both DST changes, with a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge.messages import LineTotals, Snapshot, iso_ms
from venue import days
from venue.config import parse_config
from venue.ingest import Route
from venue.service import VenueService
from venue.store import Store

BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str) -> float:
    """Epoch of a UTC time like 2026-03-29T01:00."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("local_date", "expected_utc"),
    [
        ("2026-03-28", "2026-03-28T01:30"),  # CET
        ("2026-03-29", "2026-03-29T01:00"),  # 02:30 does not exist: the gap's end, 03:00 CEST
        ("2026-03-30", "2026-03-30T00:30"),  # CEST
        ("2026-10-25", "2026-10-25T00:30"),  # 02:30 happens twice: the first, CEST
        ("2026-10-26", "2026-10-26T01:30"),  # CET
    ],
)
def test_one_reset_instant_per_local_date(local_date: str, expected_utc: str) -> None:
    day = datetime.fromisoformat(local_date).date()
    assert days.instant(day, time(2, 30), BERLIN) == at(expected_utc)


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def service(tmp_path: Path, clock: FakeClock, **venue: object) -> VenueService:
    config = parse_config(
        {
            "venue": {
                "name": "main",
                "site": "hq",
                "timezone": "Europe/Berlin",
                "capacity": 50,
                "warn": 40,
                "reset_at": "02:30",
                "stale_seconds": 86400,
                **venue,
            },
            "entrances": [{"sensor": "s1", "line": "door"}],
            "history": {"path": str(tmp_path / "h.sqlite")},
        }
    )
    return VenueService(config, Store(tmp_path / "h.sqlite"), clock)


class Door:
    """Feeds the service a sensor's state messages."""

    def __init__(self, venue: VenueService, clock: FakeClock) -> None:
        self.venue, self.clock = venue, clock
        self.seq, self.n_in, self.n_out = 0, 0, 0

    def cross(self, n_in: int, n_out: int) -> None:
        self.seq += 1
        self.n_in += n_in
        self.n_out += n_out
        message = Snapshot(
            site="hq",
            sensor="s1",
            ts=iso_ms(self.clock.now),
            boot="b",
            seq=self.seq,
            frame=self.seq,
            zones={},
            lines={"door": LineTotals(in_=self.n_in, out=self.n_out)},
        )
        with self.venue.store.transaction():
            self.venue.handle(Route("status", "s1"), b"online")
            self.venue.handle(Route("state", "s1"), message.to_json().encode())
            self.venue.flush()


def run_until(venue: VenueService, clock: FakeClock, end: float, step: float = 60.0) -> list[str]:
    """Tick the service minute by minute up to `end`; the days it began."""
    began = []
    while clock.now < end:
        clock.now = min(end, clock.now + step)
        before = venue.day.day_start
        with venue.store.transaction():
            venue.tick()
        if venue.day.day_start != before:
            began.append(
                venue.state().day
                + " at "
                + datetime.fromtimestamp(clock.now, UTC).strftime("%H:%M UTC")
            )
    return began


@pytest.mark.parametrize(
    ("start", "end", "reset_utc", "day", "hours"),
    [
        ("2026-03-28T20:00", "2026-03-29T10:00", "2026-03-29T01:00", "2026-03-29", 23.5),
        ("2026-10-24T20:00", "2026-10-25T10:00", "2026-10-25T00:30", "2026-10-25", 25.0),
    ],
)
def test_the_daily_reset_across_a_dst_change(tmp_path, start, end, reset_utc, day, hours) -> None:
    clock = FakeClock(at(start))
    venue = service(tmp_path, clock)
    door = Door(venue, clock)
    door.cross(5, 1)  # first sight: counts from here
    door.cross(7, 2)
    assert venue.raw_occupancy() == 5
    began = run_until(venue, clock, at(reset_utc) - 60)
    assert began == []
    door.cross(1, 0)
    began = run_until(venue, clock, at(end))
    assert began == [f"{day} at {reset_utc[-5:]} UTC"]  # exactly once, at the right instant
    assert venue.raw_occupancy() == 0  # people still inside at the reset are forgotten
    door.cross(3, 1)
    assert venue.raw_occupancy() == 2
    # The next reset: after a 23.5 h (spring, from the gap's end to 02:30 CEST) or 25 h day.
    following = days.next_instant(venue.day.day_start, time(2, 30), BERLIN)
    assert following - venue.day.day_start == hours * 3600


def test_a_venue_restart_across_the_reset_catches_up(tmp_path) -> None:
    clock = FakeClock(at("2026-10-24T20:00"))
    venue = service(tmp_path, clock)
    door = Door(venue, clock)
    door.cross(0, 0)
    door.cross(4, 0)
    assert venue.raw_occupancy() == 4
    venue.store.close()
    clock.now = at("2026-10-25T09:00")  # down across the reset
    again = service(tmp_path, clock)
    with again.store.transaction():
        again.tick()
    assert again.state().day == "2026-10-25"
    assert again.raw_occupancy() == 0


def test_the_closing_correction_sets_the_figure_to_0_once_a_day(tmp_path) -> None:
    clock = FakeClock(at("2026-12-02T18:00"))  # 19:00 in Berlin
    venue = service(tmp_path, clock, empty_at="23:30")
    door = Door(venue, clock)
    door.cross(0, 0)
    door.cross(9, 6)  # three never seen leaving: drift
    assert venue.raw_occupancy() == 3
    run_until(venue, clock, at("2026-12-02T22:29"))
    assert venue.raw_occupancy() == 3
    run_until(venue, clock, at("2026-12-02T22:31"))  # 23:31 local: the venue is empty
    assert venue.raw_occupancy() == 0 and venue.day.adjust == -3
    door.cross(1, 0)  # a cleaner comes in: counted, and not corrected again
    run_until(venue, clock, at("2026-12-03T01:00"))
    assert venue.raw_occupancy() == 1
    run_until(venue, clock, at("2026-12-03T02:00"))  # the daily reset at 02:30 local
    assert venue.raw_occupancy() == 0 and venue.day.adjust == 0


def test_a_silent_sensor_turns_stale_and_old_history_is_pruned(tmp_path) -> None:
    clock = FakeClock(at("2026-12-02T10:00"))
    venue = service(tmp_path, clock, stale_seconds=120)
    door = Door(venue, clock)
    door.cross(0, 0)
    with venue.store.transaction():
        venue.tick()
    assert venue.state().sensor_status["s1"].stale is False and venue.state().uncertain is False
    clock.now += 121
    state = venue.state()
    assert state.sensors["s1"] is True and state.sensor_status["s1"].stale is True
    assert state.uncertain is True
    door.cross(1, 0)  # it speaks again
    assert venue.state().uncertain is False
    assert venue.store.minutes(at("2026-12-02T09:00"), at("2026-12-02T11:00"))
    clock.now = at("2026-12-02T10:00") + 401 * 86400  # a daily reset 401 days later prunes
    with venue.store.transaction():
        venue.tick()
    assert venue.store.minutes(at("2026-12-02T09:00"), at("2026-12-02T11:00")) == []
