"""SQLite (WAL) persistence: the ledger, the venue's day, and the counts-only history.

Tables: `boot_line` (the ledger's records, so a restart of the venue server is exact),
`bucket_seen` (the (sensor, boot, seq) of every bucket taken, for dedupe),
`entrance_bucket` (per entrance per bucket: in, out), `occupancy_minute` (the venue's
occupancy per minute), `venue_day` (the day's start, adjustments, capacity) and `events`
(resets, adjustments, corrections). Nothing but counts, times and configured names.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

from venue.ledger import BootLine

SCHEMA = """
CREATE TABLE IF NOT EXISTS boot_line (
    sensor TEXT NOT NULL, boot TEXT NOT NULL, line TEXT NOT NULL,
    s_in INTEGER, s_out INTEGER, b_in INTEGER, b_out INTEGER,
    last_in INTEGER, last_out INTEGER, last_seq INTEGER,
    base_s_in INTEGER, base_s_out INTEGER, base_b_in INTEGER, base_b_out INTEGER,
    since REAL, s_trusted INTEGER, anchored INTEGER,
    PRIMARY KEY (sensor, boot, line));
CREATE TABLE IF NOT EXISTS bucket_seen (
    sensor TEXT NOT NULL, boot TEXT NOT NULL, seq INTEGER NOT NULL, received REAL NOT NULL,
    PRIMARY KEY (sensor, boot, seq));
CREATE TABLE IF NOT EXISTS entrance_bucket (
    entrance TEXT NOT NULL, start REAL NOT NULL, end REAL NOT NULL,
    n_in INTEGER NOT NULL, n_out INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS entrance_bucket_start ON entrance_bucket (start);
CREATE TABLE IF NOT EXISTS occupancy_minute (
    minute INTEGER PRIMARY KEY, occupancy INTEGER NOT NULL, raw INTEGER NOT NULL,
    uncertain INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS venue_day (
    id INTEGER PRIMARY KEY CHECK (id = 1), day_start REAL NOT NULL, adjust INTEGER NOT NULL,
    capacity INTEGER, warn INTEGER, empty_done REAL);
CREATE TABLE IF NOT EXISTS events (ts REAL NOT NULL, kind TEXT NOT NULL, value INTEGER);
"""

_RECORD_FIELDS = [f.name for f in fields(BootLine)]


class StoreError(Exception):
    """The history file cannot be opened; the message says what to fix."""


@dataclass(frozen=True)
class DayRow:
    day_start: float
    adjust: int
    capacity: int | None
    warn: int | None
    empty_done: float | None


@dataclass(frozen=True)
class MinuteRow:
    minute: int
    occupancy: int
    raw: int
    uncertain: bool


@dataclass(frozen=True)
class BucketRow:
    entrance: str
    start: float
    end: float
    n_in: int
    n_out: int


class Store:
    """One SQLite connection, used from one thread; `transaction()` groups a batch."""

    def __init__(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise StoreError(
                f"cannot open the history file {path} ({error}); fix [history] path or its "
                "folder's permissions"
            ) from None
        self.path = path

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- the ledger -----------------------------------------------------------------

    def load_records(self) -> list[BootLine]:
        rows = self._db.execute(f"SELECT {', '.join(_RECORD_FIELDS)} FROM boot_line").fetchall()
        records = []
        for row in rows:
            values = dict(zip(_RECORD_FIELDS, row, strict=True))
            values["s_trusted"] = bool(values["s_trusted"])
            values["anchored"] = bool(values["anchored"])
            records.append(BootLine(**values))
        return records

    def save_records(self, records: Iterable[BootLine]) -> None:
        marks = ", ".join("?" for _ in _RECORD_FIELDS)
        self._db.executemany(
            f"INSERT OR REPLACE INTO boot_line ({', '.join(_RECORD_FIELDS)}) VALUES ({marks})",
            [tuple(getattr(r, name) for name in _RECORD_FIELDS) for r in records],
        )

    def claim_bucket(self, sensor: str, boot: str, seq: int, received: float) -> bool:
        """Record a bucket as taken; False if it was taken before (a duplicate)."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO bucket_seen VALUES (?, ?, ?, ?)", (sensor, boot, seq, received)
        )
        return cursor.rowcount == 1

    # --- the day --------------------------------------------------------------------

    def load_day(self) -> DayRow | None:
        row = self._db.execute(
            "SELECT day_start, adjust, capacity, warn, empty_done FROM venue_day WHERE id = 1"
        ).fetchone()
        return None if row is None else DayRow(*row)

    def save_day(self, day: DayRow) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO venue_day VALUES (1, ?, ?, ?, ?, ?)",
            (day.day_start, day.adjust, day.capacity, day.warn, day.empty_done),
        )

    def add_event(self, ts: float, kind: str, value: int | None) -> None:
        self._db.execute("INSERT INTO events VALUES (?, ?, ?)", (ts, kind, value))

    # --- history --------------------------------------------------------------------

    def add_entrance_bucket(self, row: BucketRow) -> None:
        self._db.execute(
            "INSERT INTO entrance_bucket VALUES (?, ?, ?, ?, ?)",
            (row.entrance, row.start, row.end, row.n_in, row.n_out),
        )

    def put_minute(self, row: MinuteRow) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO occupancy_minute VALUES (?, ?, ?, ?)",
            (row.minute, row.occupancy, row.raw, int(row.uncertain)),
        )

    def minutes(self, start: float, end: float) -> list[MinuteRow]:
        rows = self._db.execute(
            "SELECT minute, occupancy, raw, uncertain FROM occupancy_minute "
            "WHERE minute >= ? AND minute < ? ORDER BY minute",
            (int(start // 60), int(-(-end // 60))),
        ).fetchall()
        return [MinuteRow(m, o, r, bool(u)) for m, o, r, u in rows]

    def buckets(self, start: float, end: float) -> list[BucketRow]:
        rows = self._db.execute(
            "SELECT entrance, start, end, n_in, n_out FROM entrance_bucket "
            "WHERE start >= ? AND start < ? ORDER BY start, entrance",
            (start, end),
        ).fetchall()
        return [BucketRow(*row) for row in rows]

    def prune(self, before: float) -> None:
        """Drop history older than `before` (the ledger and the day are kept)."""
        self._db.execute("DELETE FROM entrance_bucket WHERE start < ?", (before,))
        self._db.execute("DELETE FROM occupancy_minute WHERE minute < ?", (int(before // 60),))
        self._db.execute("DELETE FROM bucket_seen WHERE received < ?", (before,))
        self._db.execute("DELETE FROM events WHERE ts < ?", (before,))
