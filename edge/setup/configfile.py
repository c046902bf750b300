"""The drawing the page sends, checked as the CLI checks a config, and written in place.

Save re-reads the file, replaces only `[[lines]]` and `[[zones]]` (a line or zone that
keeps its name keeps its other keys and its comments), validates the whole document with
`edge.config.parse_config` (so the page shows the CLI's own messages), copies the file
to `<name>.bak`, then writes the new text over the file. Nothing else is written.
"""

from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any

import tomlkit
from pydantic import BaseModel, ConfigDict, Field
from tomlkit.items import AoT, Table

from edge.config import Config, ConfigError, parse_config

log = logging.getLogger(__name__)

DECIMALS = 4
"""Coordinates are stored to 1/10000 of the image."""
SERVICE_RESTART = "sudo systemctl restart headcount"

Pair = Annotated[list[float], Field(max_length=3)]


class _Draft(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LineDraft(_Draft):
    """A door line as drawn: its name, two points and a point on the 'in' side."""

    name: str = Field(max_length=200)
    points: list[Pair] = Field(max_length=4)
    inside: Pair


class ZoneDraft(_Draft):
    """A zone as drawn: its name and its polygon's vertices in order."""

    name: str = Field(max_length=200)
    polygon: list[Pair] = Field(max_length=64)


class Drawing(_Draft):
    """What the page sends: every line and zone of the sensor, in order."""

    lines: list[LineDraft] = Field(default_factory=list, max_length=32)
    zones: list[ZoneDraft] = Field(default_factory=list, max_length=32)


def drawing_of(config: Config) -> Drawing:
    """The lines and zones of a config, as the page draws them."""
    return Drawing(
        lines=[
            LineDraft(
                name=line.name, points=[list(p) for p in line.points], inside=list(line.inside)
            )
            for line in config.lines
        ],
        zones=[
            ZoneDraft(name=zone.name, polygon=[list(p) for p in zone.polygon])
            for zone in config.zones
        ],
    )


class ConfigFile:
    """The config file `headcount setup` edits, and its backup next to it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(os.path.realpath(path))
        self.backup = self.path.with_name(self.path.name + ".bak")

    def load(self) -> Config:
        """The config as `headcount run` reads it, except that it may have no line or zone
        yet: drawing the first ones is what setup is for. Raises ConfigError otherwise."""
        text = self._read()
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{self.path}: not valid TOML: {error}") from None
        if data.get("lines") or data.get("zones"):
            return parse_config(data, str(self.path))
        placeholder = {"name": "setup", "polygon": [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]}
        config = parse_config({**data, "zones": [placeholder]}, str(self.path))
        return config.model_copy(update={"lines": [], "zones": []})

    def _read(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(
                f"{self.path}: cannot read the config file ({error.__class__.__name__})"
            ) from None

    def render(self, drawing: Drawing) -> tuple[str, Config]:
        """The file's new text with this drawing, and its validated Config; or ConfigError."""
        try:
            document = tomlkit.parse(self._read())
        except tomlkit.exceptions.ParseError as error:
            raise ConfigError(f"{self.path}: not valid TOML: {error}") from None
        _replace(document, "lines", [_line_fields(line) for line in drawing.lines])
        _replace(document, "zones", [_zone_fields(zone) for zone in drawing.zones])
        text = tomlkit.dumps(document)
        config = parse_config(tomllib.loads(text), str(self.path))
        return text, config

    def save(self, drawing: Drawing) -> Config:
        """Validate, back the file up, write the new text in place; ConfigError if invalid."""
        text, config = self.render(drawing)
        original = self.path.read_bytes()
        mode = self.path.stat().st_mode & 0o777
        _write(self.backup, original, mode)
        _write(self.path, text.encode("utf-8"), mode)
        log.info(
            "saved %d lines and %d zones to %s", len(config.lines), len(config.zones), self.path
        )
        return config

    def saved_message(self, config: Config) -> str:
        return (
            f"Saved {len(config.lines)} line(s) and {len(config.zones)} zone(s) to {self.path} "
            f"(the previous file is {self.backup.name}). Restart the sensor to use them: "
            f"{SERVICE_RESTART}"
        )


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _rounded(points: list[list[float]]) -> list[list[float]]:
    return [[round(float(v), DECIMALS) for v in point] for point in points]


def _line_fields(line: LineDraft) -> dict[str, Any]:
    return {
        "name": line.name,
        "points": _rounded(line.points),
        "inside": _rounded([line.inside])[0],
    }


def _zone_fields(zone: ZoneDraft) -> dict[str, Any]:
    return {"name": zone.name, "polygon": _rounded(zone.polygon)}


def _replace(document: tomlkit.TOMLDocument, key: str, entries: list[dict[str, Any]]) -> None:
    """Set `key` to these tables; one that keeps its name keeps its other keys and comments."""
    current = document.get(key)
    kept: dict[str, Table] = {}
    if isinstance(current, AoT):
        kept = {str(table.get("name")): table for table in current}
    tables = tomlkit.aot()
    for fields in entries:
        table = kept.pop(fields["name"], None)
        if table is None:
            table = tomlkit.table()
            for name, value in fields.items():
                table[name] = value
            table.add(tomlkit.nl())
        else:
            for name, value in fields.items():
                table[name] = value
        tables.append(table)
    if entries:
        document[key] = tables
    elif key in document:
        del document[key]
