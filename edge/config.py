"""The sensor's TOML configuration, validated; see DESIGN.md section 4.1 for the contract.

Coordinates are normalized: x 0 (left) to 1 (right), y 0 (top) to 1 (bottom). Every
section but `[sensor]` has defaults. `load_config` turns any problem into a ConfigError
whose message names the field and what is allowed.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

# Strict scalars: TOML has real types, so a quoted number, a true as a coordinate or an
# inf is a mistake to name, never a value to coerce.
Number = Annotated[float, Strict(), AllowInfNan(False)]
"""A finite int or float; never a bool, a string, inf or nan."""
Integer = StrictInt
Flag = StrictBool
Text = StrictStr

NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"
Name = Annotated[Text, Field(pattern=NAME_PATTERN, description="letters, digits, '_' and '-'")]
Unit = Annotated[Number, Field(ge=0.0, le=1.0)]
Point = tuple[Unit, Unit]

AREA_EPSILON = 1e-6
"""Least polygon area (normalized units): a zone must enclose some of the image."""


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SensorConfig(Section):
    id: Name = Field(description="This sensor's id; part of every MQTT topic.")
    site: Name = Field("site", description="The venue or site; part of every MQTT topic.")


class LineConfig(Section):
    name: Name = Field(description="Name of the door line in published counts.")
    points: tuple[Point, Point] = Field(description="The segment's two end points.")
    inside: Point = Field(description="Any point on the side that counts as 'in'.")
    hysteresis: Number = Field(
        0.15,
        ge=0.0,
        le=2.0,
        description="Half-width of the dead band around the line, as a fraction of the "
        "person's box extent across the line (its height for a level line, its width for "
        "an upright one); feet must leave the band on the far side to count.",
    )
    confirm_frames: Integer = Field(
        2, ge=1, le=30, description="Detections in a row beyond the band that confirm a crossing."
    )
    min_band: Number = Field(
        0.01, ge=0.0, le=0.2, description="Smallest half-width of the dead band (normalized)."
    )

    @model_validator(mode="after")
    def _check_geometry(self) -> LineConfig:
        (x1, y1), (x2, y2) = self.points
        if (x1 - x2) ** 2 + (y1 - y2) ** 2 < 1e-8:
            raise ValueError("the two points of a line must differ")
        px, py = self.inside
        cross = (x2 - x1) * (py - y1) - (y2 - y1) * (px - x1)
        if abs(cross) < 1e-6:
            raise ValueError("'inside' must lie off the line, on the side that counts as in")
        return self


class ZoneConfig(Section):
    name: Name = Field(description="Name of the zone in published counts.")
    polygon: list[Point] = Field(min_length=3, description="Polygon vertices, in order.")

    @field_validator("polygon")
    @classmethod
    def _simple_polygon(cls, polygon: list[tuple[float, float]]) -> list[tuple[float, float]]:
        problem = polygon_problem(polygon)
        if problem is not None:
            raise ValueError(problem)
        return polygon


def polygon_problem(polygon: list[tuple[float, float]]) -> str | None:
    """Why this polygon cannot be a zone (repeated corners, no area, crossing edges), or None."""
    n = len(polygon)
    for i in range(n):
        if polygon[i] == polygon[(i + 1) % n]:
            return f"corner {(i + 1) % n + 1} repeats corner {i + 1}; give distinct corners"
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue  # neighbours through the closing edge
            if _segments_touch(polygon[i], polygon[i + 1], polygon[j], polygon[(j + 1) % n]):
                return (
                    f"edges {i + 1} and {j + 1} of the polygon cross; list the corners "
                    "in order around the zone"
                )
    rolled = polygon[1:] + polygon[:1]
    area = sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(polygon, rolled, strict=True))
    if abs(area) / 2 < AREA_EPSILON:
        return "the polygon encloses no area; give at least 3 corners not on one line"
    return None


def _orientation(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> int:
    cross = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
    return (cross > 0) - (cross < 0)


def _on_segment(a: tuple[float, float], b: tuple[float, float], p: tuple[float, float]) -> bool:
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def _segments_touch(
    a: tuple[float, float], b: tuple[float, float], c: tuple[float, float], d: tuple[float, float]
) -> bool:
    """Whether segments ab and cd share a point (crossing, touching or overlapping)."""
    o1, o2, o3, o4 = (
        _orientation(a, b, c),
        _orientation(a, b, d),
        _orientation(c, d, a),
        _orientation(c, d, b),
    )
    if o1 != o2 and o3 != o4:
        return True
    return (
        (o1 == 0 and _on_segment(a, b, c))
        or (o2 == 0 and _on_segment(a, b, d))
        or (o3 == 0 and _on_segment(c, d, a))
        or (o4 == 0 and _on_segment(c, d, b))
    )


class SourceConfig(Section):
    uri: Text = Field(
        "picamera2",
        min_length=1,
        description="'picamera2', a webcam index like '0', a video file path, "
        "'rtsp://...', or 'synthetic:<scene>'.",
    )
    realtime: Flag = Field(False, description="Pace a video file at its own frame rate.")
    fps: Number | None = Field(None, gt=0, le=120, description="Camera frame rate to request.")
    reopen_seconds: Number = Field(
        2.0, gt=0, le=300, description="First wait before reopening a failed camera."
    )


class TilingConfig(Section):
    rows: Integer = Field(1, ge=1, le=4, description="Tile rows; 1x1 disables tiling.")
    cols: Integer = Field(1, ge=1, le=4, description="Tile columns; 1x1 disables tiling.")
    overlap: Number = Field(0.2, ge=0.0, lt=0.5, description="Overlap between adjacent tiles.")


class DetectorConfig(Section):
    model: Text = Field(
        "default",
        min_length=1,
        description="'default' (shipped uint8 model), 'default-fp32', or a .tflite path.",
    )
    threads: Integer = Field(4, ge=1, le=64, description="Interpreter threads.")
    score_threshold: Number = Field(
        0.5, gt=0.0, le=1.0, description="Detections at or above start and confirm tracks."
    )
    low_score_threshold: Number = Field(
        0.2,
        gt=0.0,
        le=1.0,
        description="Detections between this and score_threshold only extend existing tracks.",
    )
    layout: Literal["auto", "ssd", "yolo"] = Field(
        "auto", description="Output tensor layout; 'auto' recognises it from the shapes."
    )
    person_class: Integer | None = Field(
        None, ge=0, description="Class id of 'person'; default 0 (ours, COCO SSD, YOLO)."
    )
    resize: Literal["stretch", "letterbox"] = Field("stretch", description="How frames fit.")
    input_mean: Number = Field(127.5, description="Float models: (pixel - mean) / std.")
    input_std: Number = Field(127.5, gt=0, description="Float models: (pixel - mean) / std.")
    nms_iou: Number = Field(0.5, gt=0.0, lt=1.0, description="IoU above which boxes merge.")
    tiles: TilingConfig = Field(default_factory=TilingConfig)
    motion_gate: Flag = Field(
        False, description="Skip the detector on frames without motion (keep-alive runs)."
    )
    motion_threshold: Number = Field(
        0.005,
        ge=0.0,
        lt=1.0,
        description="Motion gate: share of 32x24 thumbnail cells that must change to run.",
    )
    keepalive_seconds: Number = Field(
        2.0, gt=0, le=600, description="Motion gate: run the detector at least this often."
    )

    @model_validator(mode="after")
    def _check_thresholds(self) -> DetectorConfig:
        if self.low_score_threshold > self.score_threshold:
            raise ValueError("low_score_threshold must not exceed score_threshold")
        return self


class TrackerConfig(Section):
    max_age_seconds: Number = Field(
        2.0, gt=0, le=30, description="How long a lost track may be re-found by motion."
    )
    min_hits: Integer = Field(2, ge=1, le=30, description="Matches before a track is counted.")
    match_iou: Number = Field(0.2, gt=0.0, lt=1.0, description="Least IoU to match a track.")
    coast_seconds: Number = Field(
        1.0, ge=0, le=10, description="A lost track still counts in zones for this long."
    )


class TlsConfig(Section):
    ca: Path = Field(description="CA certificate file that signed the broker's certificate.")
    cert: Path | None = Field(None, description="Client certificate file.")
    key: Path | None = Field(None, description="Client private key file.")
    insecure: Flag = Field(False, description="Skip hostname verification (lab only).")


class MqttConfig(Section):
    host: Text = Field("localhost", min_length=1, description="Broker host name or address.")
    port: Integer = Field(1883, ge=1, le=65535, description="Broker port.")
    username: Text | None = Field(None, description="Username; default: the sensor id.")
    password_file: Path | None = Field(
        None, description="File holding the password; or set HEADCOUNT_MQTT_PASSWORD."
    )
    tls: TlsConfig | None = None
    keepalive: Integer = Field(30, ge=5, le=3600, description="Keepalive seconds.")
    protocol: Literal["auto", "5", "3.1.1"] = Field(
        "auto", description="MQTT version; 'auto' tries 5 then falls back to 3.1.1."
    )
    topic_prefix: Name = Field("headcount", description="First level of every topic.")
    discovery: Flag = Field(True, description="Announce to Home Assistant.")
    discovery_prefix: Name = Field("homeassistant", description="Home Assistant's prefix.")
    reconnect_min_seconds: Number = Field(
        1.0, gt=0, le=60, description="First wait before reconnecting; doubles, with jitter."
    )
    reconnect_max_seconds: Number = Field(
        60.0, gt=0, le=3600, description="Longest wait between reconnect attempts."
    )
    close_timeout_seconds: Number = Field(
        5.0, ge=0, le=60, description="At exit, wait this long for the broker's acks."
    )


class PublishConfig(Section):
    bucket_seconds: Integer = Field(60, ge=1, le=86400, description="Length of a counts bucket.")
    heartbeat_seconds: Number = Field(
        30.0, gt=0, le=3600, description="Re-publish state at least this often."
    )


class JournalConfig(Section):
    dir: Path = Field(
        Path("/var/lib/headcount/journal"), description="Store-and-forward journal folder."
    )
    max_messages: Integer = Field(
        10_000, ge=10, le=10_000_000, description="Oldest messages are dropped beyond this."
    )


class PrivacyConfig(Section):
    guard: Literal["enforce", "warn", "off"] = Field(
        "enforce", description="Runtime guard against writes, connections and subprocesses."
    )
    k: Integer = Field(0, ge=0, le=100, description="Counts below k are published as 0 (0: off).")
    epsilon: Number | None = Field(
        None, gt=0, le=10, description="Per-bucket differential privacy budget (None: off)."
    )


class Config(Section):
    sensor: SensorConfig
    lines: list[LineConfig] = Field(default_factory=list)
    zones: list[ZoneConfig] = Field(default_factory=list)
    source: SourceConfig = Field(default_factory=SourceConfig)
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    tracker: TrackerConfig = Field(default_factory=TrackerConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    publish: PublishConfig = Field(default_factory=PublishConfig)
    journal: JournalConfig = Field(default_factory=JournalConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)

    @field_validator("lines", "zones")
    @classmethod
    def _unique_names(
        cls, items: list[LineConfig] | list[ZoneConfig]
    ) -> list[LineConfig] | list[ZoneConfig]:
        names = [item.name for item in items]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"names must be unique, repeated: {', '.join(duplicates)}")
        return items

    @model_validator(mode="after")
    def _something_to_count(self) -> Config:
        if not self.lines and not self.zones:
            raise ValueError("add at least one [[lines]] or [[zones]] entry to count anything")
        return self


class ConfigError(Exception):
    """A config problem, told in sentences that name the field and what to do."""


def _location(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
        else:
            parts.append(str(item))
    return ".".join(parts) or "(top level)"


_TYPE_HINTS = {
    "int_type": "use a whole number",
    "float_type": "use a number",
    "finite_number": "use a finite number (not inf or nan)",
    "bool_type": "use true or false",
    "string_type": "use text in quotes",
}


def _type_hint(kind: str, got: object) -> str:
    """What to write instead of a value of the wrong TOML type."""
    hint = _TYPE_HINTS[kind]
    if isinstance(got, bool) and kind != "bool_type":
        return f"{hint}, not true or false"
    if isinstance(got, str) and kind != "string_type":
        return f"{hint}, without quotes"
    return hint


def format_validation_error(error: ValidationError, origin: str) -> str:
    """One line per problem: `origin: field: what is wrong (got value)`."""
    lines = []
    for item in error.errors():
        where = _location(tuple(item["loc"]))
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key; check the spelling against the documented keys"
        elif item["type"] == "missing":
            message = "required but missing"
        elif item["type"] == "string_pattern_mismatch":
            message = "use 1 to 64 letters, digits, '_' or '-'"
        elif item["type"] in _TYPE_HINTS:
            message = _type_hint(item["type"], item.get("input"))
        elif item["type"] == "too_short":
            message = f"give at least {item.get('ctx', {}).get('min_length')} entries"
        got = item.get("input")
        shown = (
            ""
            if item["type"] in ("missing", "extra_forbidden") or isinstance(got, dict)
            else f" (got {got!r})"
        )
        lines.append(f"{origin}: {where}: {message}{shown}")
    return "\n".join(lines)


def parse_config(data: dict[str, object], origin: str = "config") -> Config:
    """Validate an already-parsed TOML document."""
    try:
        return Config.model_validate(data)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, origin)) from None


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a TOML config file, or raise ConfigError saying what to fix."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")  # a byte order mark is harmless
    except FileNotFoundError:
        raise ConfigError(
            f"{file}: no such config file; pass --config with an existing file"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(
            f"{file}: cannot read the config file ({error.__class__.__name__})"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{file}: not valid TOML: {error}") from None
    return parse_config(data, str(file))
