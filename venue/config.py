"""`venue.toml`, validated: the venue, its entrances and areas, the broker, HTTP, history.

The names in the issue's "fixed for outside checks" list are a contract: `[venue]` name,
site, timezone, capacity, warn, reset_at; `[[entrances]]` sensor, line, reverse; `[http]`
listen, password_file; `[mqtt]` as in the sensor's config. `load_config` turns any problem
into one `VenueConfigError` sentence per field that says what to fix.
"""

from __future__ import annotations

import os
import tomllib
from datetime import time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN, description="letters, digits, '_' and '-'")]
PASSWORD_ENV = "HEADCOUNT_MQTT_PASSWORD"


class Section(BaseModel):
    """Base of every section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _clock_time(value: str, key: str) -> time:
    try:
        hours, minutes = value.split(":")
        if len(hours) != 2 or len(minutes) != 2:
            raise ValueError
        return time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(f'{key} must be a local time "HH:MM" (00:00 to 23:59)') from None


class VenueSection(Section):
    name: Name = Field(description="The venue's name; part of its MQTT topics.")
    site: Name = Field(description="The site its sensors publish under (their [sensor] site).")
    timezone: str = Field("UTC", description="IANA time zone of the venue, e.g. Europe/Berlin.")
    capacity: int = Field(ge=1, le=1_000_000, description="People allowed inside at once.")
    warn: int = Field(ge=1, le=1_000_000, description="Occupancy that turns the page amber.")
    hysteresis: int = Field(
        2, ge=0, le=10_000, description="An alert clears only this far below its threshold."
    )
    reset_at: str = Field("04:00", description='Local time of the daily reset, "HH:MM".')
    empty_at: str | None = Field(
        None, description="Local time when the venue is known empty (closing correction)."
    )
    stale_seconds: float = Field(
        120.0, gt=0, le=86400, description="A sensor silent this long is flagged stale."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin or UTC"
            ) from None
        return value

    @field_validator("reset_at")
    @classmethod
    def _reset_time(cls, value: str) -> str:
        _clock_time(value, "reset_at")
        return value

    @field_validator("empty_at")
    @classmethod
    def _empty_time(cls, value: str | None) -> str | None:
        if value is not None:
            _clock_time(value, "empty_at")
        return value

    @model_validator(mode="after")
    def _warn_below_capacity(self) -> VenueSection:
        if self.warn > self.capacity:
            raise ValueError(f"warn ({self.warn}) must not exceed capacity ({self.capacity})")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def reset_time(self) -> time:
        return _clock_time(self.reset_at, "reset_at")

    @property
    def empty_time(self) -> time | None:
        return None if self.empty_at is None else _clock_time(self.empty_at, "empty_at")


class EntranceConfig(Section):
    sensor: Name = Field(description="The sensor id ([sensor] id) watching this door.")
    line: Name = Field(description="The sensor's line name at this door.")
    reverse: bool = Field(False, description="Swap in and out (the line's inside faces out).")

    @property
    def key(self) -> str:
        return f"{self.sensor}/{self.line}"


class AreaZone(Section):
    sensor: Name
    zone: Name


class AreaConfig(Section):
    name: Name = Field(description="Name of the area on the page.")
    zones: list[AreaZone] = Field(min_length=1, description="Sensor zones summed for this area.")


class TlsConfig(Section):
    ca: Path = Field(description="CA certificate file that signed the broker's certificate.")
    cert: Path | None = Field(None, description="Client certificate file.")
    key: Path | None = Field(None, description="Client private key file.")
    insecure: bool = Field(False, description="Skip hostname verification (lab only).")


class MqttConfig(Section):
    """The same keys as the sensor's `[mqtt]`; the username defaults to `venue`."""

    host: str = Field("localhost", min_length=1, description="Broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="Broker port.")
    username: str | None = Field(None, description="Username; default: venue.")
    password_file: Path | None = Field(
        None, description="File holding the password; or set HEADCOUNT_MQTT_PASSWORD."
    )
    tls: TlsConfig | None = None
    keepalive: int = Field(30, ge=5, le=3600, description="Keepalive seconds.")
    protocol: Literal["auto", "5", "3.1.1"] = Field(
        "auto", description="MQTT version; 'auto' tries 5 then falls back to 3.1.1."
    )
    topic_prefix: Name = Field("headcount", description="First level of every topic.")
    discovery: bool = Field(True, description="Announce the venue to Home Assistant.")
    discovery_prefix: Name = Field("homeassistant", description="Home Assistant's prefix.")
    reconnect_min_seconds: float = Field(1.0, gt=0, le=60, description="First reconnect wait.")
    reconnect_max_seconds: float = Field(
        60.0, gt=0, le=3600, description="Longest wait between reconnect attempts."
    )
    close_timeout_seconds: float = Field(
        5.0, ge=0, le=60, description="At exit, wait this long for the broker's acks."
    )
    session_expiry_seconds: int = Field(
        7 * 86400,
        ge=60,
        le=2**32 - 2,
        description="How long the broker keeps buckets for the venue while it is away.",
    )


class HttpConfig(Section):
    listen: str = Field("127.0.0.1:8080", description='"HOST:PORT" the page and API listen on.')
    password_file: Path | None = Field(
        None, description="File whose first line is the password for changes (none: read-only)."
    )

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError('listen must be "HOST:PORT", e.g. "127.0.0.1:8080"')
        return value

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class HistoryConfig(Section):
    path: Path = Field(
        Path("/var/lib/headcount-venue/history.sqlite"), description="SQLite file (counts only)."
    )
    retention_days: int = Field(400, ge=1, le=36500, description="Days of history kept.")


class VenueConfig(Section):
    venue: VenueSection
    entrances: list[EntranceConfig] = Field(min_length=1)
    areas: list[AreaConfig] = Field(default_factory=list)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    history: HistoryConfig = Field(default_factory=HistoryConfig)

    @field_validator("entrances")
    @classmethod
    def _unique_entrances(cls, items: list[EntranceConfig]) -> list[EntranceConfig]:
        keys = [item.key for item in items]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise ValueError(
                f"each sensor line may be one entrance, repeated: {', '.join(repeated)}"
            )
        return items

    @field_validator("areas")
    @classmethod
    def _unique_areas(cls, items: list[AreaConfig]) -> list[AreaConfig]:
        names = [item.name for item in items]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"area names must be unique, repeated: {', '.join(repeated)}")
        return items

    @property
    def sensors(self) -> list[str]:
        """Every sensor the venue listens to (entrances first), without repeats."""
        ids = [e.sensor for e in self.entrances] + [z.sensor for a in self.areas for z in a.zones]
        return list(dict.fromkeys(ids))


class VenueConfigError(Exception):
    """A venue.toml problem, told in sentences that name the field and what to do."""


def _location(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
        else:
            parts.append(str(item))
    return ".".join(parts) or "(top level)"


def format_validation_error(error: ValidationError, origin: str) -> str:
    """One line per problem: `origin: field: what is wrong (got value)`."""
    lines = []
    for item in error.errors():
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key; check the spelling against the documented keys"
        elif item["type"] == "missing":
            message = "required but missing"
        elif item["type"] == "string_pattern_mismatch":
            message = "use 1 to 64 letters, digits, '_' or '-'"
        got = item.get("input")
        shown = (
            ""
            if item["type"] in ("missing", "extra_forbidden") or isinstance(got, dict | list)
            else f" (got {got!r})"
        )
        lines.append(f"{origin}: {_location(tuple(item['loc']))}: {message}{shown}")
    return "\n".join(lines)


def parse_config(data: dict[str, object], origin: str = "venue.toml") -> VenueConfig:
    """Validate an already-parsed TOML document."""
    try:
        return VenueConfig.model_validate(data)
    except ValidationError as error:
        raise VenueConfigError(format_validation_error(error, origin)) from None


def load_config(path: str | os.PathLike[str]) -> VenueConfig:
    """Read and validate venue.toml, or raise VenueConfigError saying what to fix."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise VenueConfigError(
            f"{file}: no such file; pass --config with an existing venue.toml"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise VenueConfigError(f"{file}: cannot read it ({error.__class__.__name__})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise VenueConfigError(f"{file}: not valid TOML: {error}") from None
    return parse_config(data, str(file))


def read_secret(path: Path, key: str) -> str:
    """The first line of a password file, or VenueConfigError naming the key to fix."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise VenueConfigError(f"the password file {path} does not exist; fix {key}") from None
    except PermissionError:
        raise VenueConfigError(
            f"the password file {path} is not readable by this user; fix its permissions"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise VenueConfigError(
            f"cannot read the password file {path} ({error.__class__.__name__}); fix {key}"
        ) from None
    password = text.splitlines()[0].strip() if text.strip() else ""
    if not password:
        raise VenueConfigError(
            f"the password file {path} is empty; write the password on its first line"
        )
    return password
