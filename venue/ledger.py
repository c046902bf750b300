"""Occupancy bookkeeping: per (sensor, boot, line), what the sensors said, and the day's baseline.

Two sources, each a lower bound of the true crossings since a boot began:

- `s`: crossings seen in the retained cumulative `state` messages, summed as increases
  between consecutive states of a boot (a drop is a line reset: the new totals are all
  new crossings). Live, but a state can be missed.
- `b`: the sum of the boot's closed `counts` buckets, each taken once (the caller
  dedupes by boot and seq). Complete in the end, but a bucket behind.

The day's crossings of a boot line are max(s - base_s, b - base_b) per direction; both
bases are taken at the day's start (or a manual reset). Buckets that began before that
instant go to the base, so a bucket replayed late never counts twice. When a sensor
was offline at the reset its state cannot be split at the reset instant, so for that
boot only the buckets count that day (`s_trusted` false); likewise for a boot first seen
after the reset whose buckets show it began before it. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

Pair = tuple[int, int]


@dataclass(frozen=True, slots=True)
class BootLine:
    """One line of one boot of one sensor: its running sums and the day's baselines."""

    sensor: str
    boot: str
    line: str
    s_in: int = 0
    s_out: int = 0
    b_in: int = 0
    b_out: int = 0
    last_in: int = 0
    last_out: int = 0
    last_seq: int = 0
    base_s_in: int = 0
    base_s_out: int = 0
    base_b_in: int = 0
    base_b_out: int = 0
    since: float = 0.0
    s_trusted: bool = True
    anchored: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.sensor, self.boot, self.line)

    def today(self) -> Pair:
        """Crossings (in, out) since the day's baseline."""
        s_in = self.s_in - self.base_s_in if self.s_trusted else 0
        s_out = self.s_out - self.base_s_out if self.s_trusted else 0
        return (max(s_in, self.b_in - self.base_b_in), max(s_out, self.b_out - self.base_b_out))

    def with_state(self, seq: int, totals: Pair) -> BootLine:
        """Apply a newer state's cumulative totals (callers drop older seqs)."""
        new_in, new_out = totals
        if new_in < self.last_in or new_out < self.last_out:
            add_in, add_out = new_in, new_out  # the line was reset: all of it is new
        else:
            add_in, add_out = new_in - self.last_in, new_out - self.last_out
        return replace(
            self,
            s_in=self.s_in + add_in,
            s_out=self.s_out + add_out,
            last_in=new_in,
            last_out=new_out,
            last_seq=seq,
        )

    def with_bucket(self, start: float, counts: Pair) -> BootLine:
        """Add one closed bucket; one that began before the baseline also joins the base."""
        add_in, add_out = counts
        before = start < self.since
        return replace(
            self,
            b_in=self.b_in + add_in,
            b_out=self.b_out + add_out,
            base_b_in=self.base_b_in + (add_in if before else 0),
            base_b_out=self.base_b_out + (add_out if before else 0),
            # A boot first seen after the baseline whose bucket began before it started
            # before the baseline: its state totals hold earlier crossings.
            s_trusted=self.s_trusted and not (before and not self.anchored),
        )

    def rebased(self, since: float, s_trusted: bool) -> BootLine:
        """A new baseline at `since`: from now on only later crossings count."""
        return replace(
            self,
            base_s_in=self.s_in,
            base_s_out=self.s_out,
            base_b_in=self.b_in,
            base_b_out=self.b_out,
            since=since,
            s_trusted=s_trusted,
            anchored=True,
        )


@dataclass(frozen=True, slots=True)
class Entrance:
    """A configured door: a sensor's line, optionally with in and out swapped."""

    sensor: str
    line: str
    reverse: bool = False

    @property
    def key(self) -> str:
        return f"{self.sensor}/{self.line}"


class Ledger:
    """Every boot line of the venue's entrances; the day's figures are derived from it."""

    def __init__(self, entrances: Iterable[Entrance], records: Iterable[BootLine] = ()) -> None:
        self.entrances = tuple(entrances)
        self._lines: dict[str, set[str]] = {}
        for entrance in self.entrances:
            self._lines.setdefault(entrance.sensor, set()).add(entrance.line)
        self._records: dict[tuple[str, str, str], BootLine] = {}
        self._boots: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
        for record in records:
            self._put(record)
        self._known = {r.sensor for r in self._records.values()}
        self._since = max((r.since for r in self._records.values()), default=0.0)

    @property
    def since(self) -> float:
        return self._since

    def records(self) -> list[BootLine]:
        return list(self._records.values())

    def watches(self, sensor: str) -> bool:
        return sensor in self._lines

    def _put(self, record: BootLine) -> None:
        if record.key not in self._records:
            self._boots.setdefault((record.sensor, record.line), []).append(record.key)
        self._records[record.key] = record

    def _record(self, sensor: str, boot: str, line: str) -> BootLine:
        record = self._records.get((sensor, boot, line))
        if record is None:
            record = BootLine(sensor, boot, line, since=self._since)
        return record

    def apply_state(
        self, sensor: str, boot: str, seq: int, lines: Mapping[str, Pair]
    ) -> list[BootLine]:
        """A `state` message; returns the records whose counts it changed (a heartbeat
        that only moves `last_seq` is applied but not returned: nothing to write)."""
        first_sight = sensor not in self._known
        changed: list[BootLine] = []
        for line in sorted(self._lines.get(sensor, ())):
            totals = lines.get(line)
            if totals is None:
                continue
            record = self._record(sensor, boot, line)
            if record.last_seq and seq <= record.last_seq:
                continue
            if first_sight and record.last_seq == 0:
                # Never seen before (a new venue, a new sensor): count from now on.
                record = replace(
                    record.with_state(seq, totals),
                    base_s_in=totals[0],
                    base_s_out=totals[1],
                    anchored=True,
                )
            else:
                record = record.with_state(seq, totals)
            previous = self._records.get(record.key)
            self._put(record)
            if previous is None or (
                previous.s_in,
                previous.s_out,
                previous.last_in,
                previous.last_out,
            ) != (record.s_in, record.s_out, record.last_in, record.last_out):
                changed.append(record)
        self._known.add(sensor)
        return changed

    def apply_bucket(
        self, sensor: str, boot: str, start: float, lines: Mapping[str, Pair]
    ) -> list[BootLine]:
        """A new (deduped) `counts` bucket; returns the records it changed."""
        changed: list[BootLine] = []
        for line in sorted(self._lines.get(sensor, ())):
            counts = lines.get(line)
            if counts is None:
                continue
            record = self._record(sensor, boot, line).with_bucket(start, counts)
            self._put(record)
            changed.append(record)
        if changed:
            self._known.add(sensor)
        return changed

    def rebase(self, since: float, current: Mapping[str, str], fresh: set[str]) -> list[BootLine]:
        """Start a new day (or a manual reset) at `since`.

        `current` maps each sensor to its current boot. A boot that may still be running
        (the current one, or any when the current one is unknown) of a sensor not in
        `fresh` (offline, silent, or not heard from since the server started) cannot be
        split at `since`: its state is not trusted for the new day, only its buckets.
        """
        self._since = since
        for key, record in list(self._records.items()):
            ended = record.sensor in current and current[record.sensor] != record.boot
            trusted = record.sensor in fresh or ended
            self._records[key] = record.rebased(since, trusted)
        return self.records()

    def entrance_today(self, entrance: Entrance) -> Pair:
        """(in, out) through this door since the day's baseline, after `reverse`."""
        total_in = total_out = 0
        for key in self._boots.get((entrance.sensor, entrance.line), ()):
            day_in, day_out = self._records[key].today()
            total_in += day_in
            total_out += day_out
        return (total_out, total_in) if entrance.reverse else (total_in, total_out)

    def raw_occupancy(self) -> int:
        """Σ over entrances of (in - out) since the baseline (may be negative)."""
        total = 0
        for entrance in self.entrances:
            day_in, day_out = self.entrance_today(entrance)
            total += day_in - day_out
        return total
