"""Ground truth files: `crossings.csv` (time_s,line,direction), `occupancy.csv` (time_s,zone,count).

`time_s` is seconds from the clip's start: a frame index divided by the clip's frame rate.
Rows may come in any order; a header row naming the columns is required; blank lines and
lines starting with `#` are ignored. Line and zone names match the config's names without
regard to case. A bad file raises `TruthError` with one sentence naming file, row and fix.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Direction = Literal["in", "out"]
DIRECTIONS: tuple[Direction, Direction] = ("in", "out")

CROSSINGS_HEADER = ("time_s", "line", "direction")
OCCUPANCY_HEADER = ("time_s", "zone", "count")


class TruthError(Exception):
    """A truth file cannot be used; the message names the file, the row and what to fix."""


@dataclass(frozen=True, order=True)
class Crossing:
    """One crossing of a line at `time_s` seconds from the clip's start."""

    time_s: float
    line: str
    direction: Direction


@dataclass(frozen=True, order=True)
class OccupancySample:
    """The true number of people in a zone at `time_s` seconds from the clip's start."""

    time_s: float
    zone: str
    count: int


def _rows(path: Path, header: Sequence[str]) -> list[tuple[int, list[str]]]:
    """The data rows with their line numbers, after checking the header."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TruthError(
            f"truth file {path} cannot be read ({error}); pass a UTF-8 CSV file"
        ) from None
    rows = [
        (number, [cell.strip() for cell in row])
        for number, row in enumerate(csv.reader(io.StringIO(text)), start=1)
        if row and any(cell.strip() for cell in row) and not row[0].lstrip().startswith("#")
    ]
    if not rows or [cell.lower() for cell in rows[0][1]] != list(header):
        raise TruthError(f"{path} must start with the header row {','.join(header)}")
    return rows[1:]


def _time(path: Path, number: int, cell: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise TruthError(f"{path} row {number}: time_s {cell!r} must be seconds >= 0")
    return value


def _name(path: Path, number: int, cell: str, known: dict[str, str], kind: str) -> str:
    """The config's spelling of a line or zone name (case-insensitive)."""
    if not known:
        return cell
    name = known.get(cell.lower())
    if name is None:
        names = ", ".join(sorted(known.values()))
        raise TruthError(f"{path} row {number}: unknown {kind} {cell!r}; the config has {names}")
    return name


def _width(path: Path, number: int, row: list[str], header: Sequence[str]) -> None:
    if len(row) != len(header):
        raise TruthError(
            f"{path} row {number}: expected {len(header)} columns ({','.join(header)}), "
            f"got {len(row)}"
        )


def read_crossings(path: Path, lines: Iterable[str] = ()) -> list[Crossing]:
    """The crossings of a file, sorted by time; names checked against `lines` when given."""
    known = {name.lower(): name for name in lines}
    out: list[Crossing] = []
    for number, row in _rows(path, CROSSINGS_HEADER):
        _width(path, number, row, CROSSINGS_HEADER)
        direction: Direction = "in" if row[2].lower() == "in" else "out"
        if row[2].lower() not in DIRECTIONS:
            raise TruthError(f"{path} row {number}: direction {row[2]!r} must be in or out")
        line = _name(path, number, row[1], known, "line")
        out.append(Crossing(_time(path, number, row[0]), line, direction))
    return sorted(out)


def read_occupancy(path: Path, zones: Iterable[str] = ()) -> list[OccupancySample]:
    """The occupancy samples of a file, sorted by time; names checked against `zones`."""
    known = {name.lower(): name for name in zones}
    out: list[OccupancySample] = []
    for number, row in _rows(path, OCCUPANCY_HEADER):
        _width(path, number, row, OCCUPANCY_HEADER)
        if not row[2].isdigit():
            raise TruthError(f"{path} row {number}: count {row[2]!r} must be a whole number >= 0")
        zone = _name(path, number, row[1], known, "zone")
        out.append(OccupancySample(_time(path, number, row[0]), zone, int(row[2])))
    return sorted(out)


def write_crossings(path: Path, crossings: Iterable[Crossing]) -> None:
    """Write a crossings file (times to the millisecond)."""
    rows = [(f"{c.time_s:.3f}", c.line, c.direction) for c in sorted(crossings)]
    _write(path, CROSSINGS_HEADER, rows)


def write_occupancy(path: Path, samples: Iterable[OccupancySample]) -> None:
    """Write an occupancy file (times to the millisecond)."""
    rows = [(f"{s.time_s:.3f}", s.zone, str(s.count)) for s in sorted(samples)]
    _write(path, OCCUPANCY_HEADER, rows)


def _write(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
