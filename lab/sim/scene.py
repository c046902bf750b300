"""Seeded synthetic scenes: people on known feet trajectories, with exact ground truth.

A scene is a TOML file (see `lab/sim/scenes/README.md`): fps, duration, seed, the door
lines and zones in the config's own form, explicit people as waypoint trajectories, and
generators that expand into people with the scene's seed. Loading is deterministic.

Ground truth semantics (the contract the benchmark scores against):

- Frame i shows time t_i = i / fps; the scene has `frames` frames, t in [0, (frames-1)/fps].
- A person exists from their first waypoint time to their last; between waypoints the
  feet move in straight lines at constant speed (a repeated point is a pause).
- The box is `feet.x +- height*aspect/2`, `feet.y - height .. feet.y`. `truth_boxes`
  lists the people that exist at the frame and whose box keeps at least
  `MIN_VISIBLE` of its area inside the image, clipped to the image.
- A line crossing is counted on the exact continuous feet path within the scene's time
  span: the path passes from one strict side of the infinite line to the other, and the
  point where it reaches the other side lies on the segment (ends included). Touching
  the line, or standing on it, and going back is no crossing; going on is one. `in`
  goes from the side without `inside` to the side with it, `out` the other way. The
  crossing belongs to the first frame at or after its time.
- Zone occupancy at a frame counts the existing people whose feet are inside the
  polygon (even-odd rule of `edge.geometry.points_in_polygon`), visible or not.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edge.config import (
    Config,
    LineConfig,
    ZoneConfig,
    format_validation_error,
)
from edge.geometry import points_in_polygon

MIN_VISIBLE = 0.25
"""Least fraction of a box's area inside the image for the person to be visible."""

_EPS = 1e-9

FloatArray = npt.NDArray[np.float64]


class SceneError(Exception):
    """A scene cannot be found or is invalid; the message says what to fix."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Coord = Annotated[float, Field(ge=-0.5, le=1.5)]
XY = tuple[Coord, Coord]
Segment = tuple[XY, XY]
Range = tuple[float, float]
IntRange = tuple[int, int]


def _check_range(value: tuple[float, float], name: str) -> None:
    if value[0] > value[1]:
        raise ValueError(f"{name} must be [min, max] with min <= max")


class Faults(_Model):
    """Fault rates of the simulated detector; every rate 0 gives perfect detections."""

    miss_rate: float = Field(0.0, ge=0, le=1, description="Chance a visible box is dropped.")
    false_positive_rate: float = Field(
        0.0, ge=0, le=50, description="Mean random spurious boxes per frame (Poisson)."
    )
    static_false_positives: int = Field(
        0, ge=0, le=20, description="Fixed spurious boxes standing near the lines."
    )
    static_on_rate: float = Field(
        0.5, ge=0, le=1, description="Chance a static spurious box shows in a frame (flicker)."
    )
    jitter: float = Field(
        0.0, ge=0, le=0.5, description="Std of box-edge noise, as a fraction of box size."
    )
    occlusion_rate: float = Field(
        0.0, ge=0, le=10, description="Occlusion gaps started per person per second."
    )
    occlusion_frames: IntRange = Field((3, 8), description="Length of an occlusion gap.")
    line_gap_rate: float = Field(
        0.0, ge=0, le=1, description="Chance a crossing person is undetected around the line."
    )
    line_gap_frames: int = Field(4, ge=1, le=100, description="Frames of a gap at the line.")
    partial_rate: float = Field(
        0.1, ge=0, le=1, description="Share of detections partly occluded (score 0.2-0.5)."
    )
    score: Range = Field((0.6, 0.95), description="Score range of clear detections.")

    @model_validator(mode="after")
    def _ranges(self) -> Faults:
        _check_range(self.occlusion_frames, "occlusion_frames")
        _check_range(self.score, "score")
        return self


class PersonSpec(_Model):
    times: list[float] = Field(min_length=1, description="Seconds, non-decreasing.")
    path: list[XY] = Field(min_length=1, description="Feet positions at those times.")
    height: float = Field(0.25, gt=0, le=1, description="Box height (normalized).")
    aspect: float = Field(0.4, gt=0, le=2, description="Box width / height.")

    @model_validator(mode="after")
    def _same_length(self) -> PersonSpec:
        if len(self.times) != len(self.path):
            raise ValueError("times and path must have the same length")
        if any(b < a for a, b in zip(self.times, self.times[1:], strict=False)):
            raise ValueError("times must not decrease")
        return self


class _Generator(_Model):
    count: int = Field(ge=1, le=5000, description="People (walk) or loiterers (wander).")
    start: float = Field(0.0, ge=0, description="Seconds at which the first one starts.")
    interval: Range = Field((2.0, 4.0), description="Seconds between consecutive starts.")
    speed: Range = Field((0.08, 0.14), description="Walking speed, normalized units/s.")
    height: Range = Field((0.2, 0.28), description="Box height range.")
    aspect: Range = Field((0.35, 0.45), description="Box width/height range.")
    pause: Range = Field((0.0, 0.0), description="Seconds paused at each intermediate point.")

    @model_validator(mode="after")
    def _ranges(self) -> _Generator:
        for name in ("interval", "speed", "height", "aspect", "pause"):
            _check_range(getattr(self, name), name)
        if self.speed[0] <= 0 or self.height[0] <= 0:
            raise ValueError("speed and height must be positive")
        return self


class WalkGenerator(_Generator):
    """People walking from a point on `from` through points on each `via` to `to`."""

    kind: Literal["walk"]
    from_: Segment = Field(alias="from", description="Start points are drawn on this segment.")
    via: list[Segment] = Field(default_factory=list, description="Intermediate segments.")
    to: Segment = Field(description="End points are drawn on this segment.")
    group: IntRange = Field((1, 1), description="People walking side by side.")
    spacing: float = Field(0.06, ge=0, le=0.5, description="Side-by-side distance in a group.")
    reverse: float = Field(0.0, ge=0, le=1, description="Chance a group walks to -> from.")

    @model_validator(mode="after")
    def _group(self) -> WalkGenerator:
        if not 1 <= self.group[0] <= self.group[1]:
            raise ValueError("group must be [min, max] with 1 <= min <= max")
        return self


class WanderGenerator(_Generator):
    """Loiterers: enter on `from`, wander between random points of `region`, leave on `to`."""

    kind: Literal["wander"]
    region: tuple[Coord, Coord, Coord, Coord] = Field(description="x1, y1, x2, y2.")
    steps: IntRange = Field((3, 6), description="Wander points visited.")
    from_: Segment | None = Field(None, alias="from", description="Entry segment (optional).")
    to: Segment | None = Field(None, description="Exit segment (optional).")


GeneratorSpec = Annotated[WalkGenerator | WanderGenerator, Field(discriminator="kind")]


class SceneSpec(_Model):
    """The TOML document of a scene."""

    description: str = ""
    fps: float = Field(10.0, gt=0, le=120)
    duration: float = Field(gt=0, le=86400, description="Seconds of footage.")
    seed: int = Field(0, ge=0)
    size: tuple[int, int] = Field((320, 240), description="Frame width, height in pixels.")
    lines: list[LineConfig] = Field(default_factory=list)
    zones: list[ZoneConfig] = Field(default_factory=list)
    faults: Faults = Field(default_factory=lambda: Faults.model_validate({}))
    people: list[PersonSpec] = Field(default_factory=list)
    generators: list[GeneratorSpec] = Field(default_factory=list)
    expected: dict[str, dict[Literal["in", "out"], int]] | None = Field(
        None, description="Ground truth by design; loading fails if it differs."
    )


@dataclass(frozen=True, slots=True)
class Person:
    """One trajectory: waypoint times (K,), feet (K, 2), a box height and aspect."""

    times: FloatArray
    path: FloatArray
    height: float
    aspect: float


@dataclass(frozen=True, slots=True)
class Crossing:
    """One true crossing of a line by a person."""

    line: str
    direction: Literal["in", "out"]
    time: float
    frame: int
    person: int


@dataclass(frozen=True, slots=True, repr=False)
class Samples:
    """Every (frame, person) pair where the person exists, sorted by frame (CSR rows)."""

    frame: npt.NDArray[np.int64]
    person: npt.NDArray[np.int64]
    feet: FloatArray
    xyxy: FloatArray
    visible: npt.NDArray[np.bool_]
    offsets: npt.NDArray[np.int64]


class Scene:
    """A loaded scene: per-frame true boxes, zone occupancy and line crossings."""

    def __init__(self, spec: SceneSpec, name: str = "scene") -> None:
        self.name = name
        self.spec = spec
        self.fps = float(spec.fps)
        self.frames = max(1, round(spec.duration * spec.fps))
        self.seed = spec.seed
        self.size = spec.size
        self.lines: list[LineConfig] = list(spec.lines)
        self.zones: list[ZoneConfig] = list(spec.zones)
        self.faults = spec.faults
        self.people: list[Person] = _expand(spec)
        self.samples = _sample(self.people, self.frames, self.fps)
        self.crossings: list[Crossing] = _crossings(
            self.people, self.lines, self.fps, self.end_time
        )
        if spec.expected is not None:
            self._check_expected(spec.expected)

    @property
    def end_time(self) -> float:
        return (self.frames - 1) / self.fps

    def time(self, frame_index: int) -> float:
        return frame_index / self.fps

    def rows(self, frame_index: int) -> slice:
        """The rows of `samples` at a frame (empty outside the scene)."""
        if not 0 <= frame_index < self.frames:
            return slice(0, 0)
        return slice(
            int(self.samples.offsets[frame_index]), int(self.samples.offsets[frame_index + 1])
        )

    def truth_boxes(
        self, frame_index: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """(ids (N,), xyxy (N, 4) clipped to the image) of the people visible in a frame."""
        rows = self.rows(frame_index)
        keep = self.samples.visible[rows]
        ids = self.samples.person[rows][keep]
        boxes = np.clip(self.samples.xyxy[rows][keep], 0.0, 1.0).astype(np.float32)
        return ids, boxes

    def present(self, frame_index: int) -> tuple[npt.NDArray[np.int64], FloatArray]:
        """(ids, true unclipped feet (N, 2)) of everyone existing at a frame."""
        rows = self.rows(frame_index)
        return self.samples.person[rows], self.samples.feet[rows]

    def occupancy(self, frame_index: int) -> dict[str, int]:
        """True number of people with feet inside each zone at a frame."""
        _, feet = self.present(frame_index)
        return {
            zone.name: int(
                np.count_nonzero(points_in_polygon(feet.astype(np.float32), zone.polygon))
            )
            if len(feet)
            else 0
            for zone in self.zones
        }

    def ground_truth(self, until_frame: int | None = None) -> dict[str, dict[str, int]]:
        """Per line {"in": n, "out": n}: crossings up to and including `until_frame`."""
        last = self.frames - 1 if until_frame is None else until_frame
        totals = {line.name: {"in": 0, "out": 0} for line in self.lines}
        for crossing in self.crossings:
            if crossing.frame <= last:
                totals[crossing.line][crossing.direction] += 1
        return totals

    def config(self, sensor_id: str = "sim", **sections: object) -> Config:
        """A full sensor Config counting this scene's lines and zones from `synthetic:`."""
        data: dict[str, object] = {
            "sensor": {"id": sensor_id, "site": "sim"},
            "lines": [line.model_dump() for line in self.lines],
            "zones": [zone.model_dump() for zone in self.zones],
            "source": {"uri": f"synthetic:{self.name}"},
        }
        data.update(sections)
        return Config.model_validate(data)

    def _check_expected(self, expected: dict[str, dict[Literal["in", "out"], int]]) -> None:
        truth = self.ground_truth()
        for line, counts in expected.items():
            if line not in truth:
                raise SceneError(f"scene {self.name}: expected names an unknown line {line!r}")
            for key, value in counts.items():
                if truth[line][key] != value:
                    raise SceneError(
                        f"scene {self.name}: line {line} has {truth[line][key]} true "
                        f"'{key}' crossings but the file expects {value}; fix the scene"
                    )

    def __repr__(self) -> str:
        return (
            f"Scene({self.name!r}, frames={self.frames}, fps={self.fps}, people={len(self.people)})"
        )


def scenes_dir() -> Path:
    """The seeded scenes, shipped as package data beside this module."""
    return Path(__file__).resolve().parent / "scenes"


def scene_names() -> list[str]:
    """Names of the scenes shipped in `lab/sim/scenes`."""
    return sorted(p.stem for p in scenes_dir().glob("*.toml"))


def load_scene(name_or_path: str | Path) -> Scene:
    """Load a scene by name from `lab/sim/scenes`, or from an explicit .toml path."""
    text_name = str(name_or_path)
    if isinstance(name_or_path, Path) or text_name.endswith(".toml") or "/" in text_name:
        path = Path(name_or_path)
        if not path.is_file():
            raise SceneError(f"scene file {path} does not exist; pass an existing .toml path")
    else:
        path = scenes_dir() / f"{text_name}.toml"
        if not path.is_file():
            known = ", ".join(scene_names()) or "none"
            raise SceneError(f"unknown scene {text_name!r}; use one of: {known}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise SceneError(f"scene file {path} cannot be read as TOML: {error}") from None
    return scene_from_dict(data, path.stem, str(path))


def scene_from_dict(data: dict[str, object], name: str = "scene", origin: str = "scene") -> Scene:
    """Validate a parsed scene document and expand it."""
    try:
        spec = SceneSpec.model_validate(data)
    except ValidationError as error:
        raise SceneError(format_validation_error(error, origin)) from None
    return Scene(spec, name)


# --- expansion of generators -------------------------------------------------------------


def _on(segment: Segment, rng: np.random.Generator) -> FloatArray:
    a = np.asarray(segment[0], np.float64)
    b = np.asarray(segment[1], np.float64)
    return np.asarray(a + (b - a) * rng.uniform(0.0, 1.0))


def _uniform(r: Range, rng: np.random.Generator) -> float:
    return float(rng.uniform(r[0], r[1])) if r[1] > r[0] else float(r[0])


def _timed(points: list[FloatArray], start: float, speed: float, pauses: list[float]) -> Person:
    """Times for a polyline walked at `speed`, pausing `pauses[k]` at inner point k+1."""
    times = [start]
    path = [points[0]]
    t = start
    for k in range(1, len(points)):
        t += float(np.hypot(*(points[k] - points[k - 1]))) / speed
        times.append(t)
        path.append(points[k])
        if k < len(points) - 1 and pauses[k - 1] > 0:
            t += pauses[k - 1]
            times.append(t)
            path.append(points[k])
    return Person(np.asarray(times), np.asarray(path), 0.0, 0.0)


def _expand_walk(gen: WalkGenerator, rng: np.random.Generator) -> list[Person]:
    people: list[Person] = []
    start = gen.start
    while len(people) < gen.count:
        size = min(int(rng.integers(gen.group[0], gen.group[1] + 1)), gen.count - len(people))
        points = [_on(gen.from_, rng), *[_on(s, rng) for s in gen.via], _on(gen.to, rng)]
        if rng.uniform() < gen.reverse:
            points.reverse()
        speed = _uniform(gen.speed, rng)
        pauses = [_uniform(gen.pause, rng) for _ in points[1:-1]]
        heading = points[1] - points[0]
        norm = float(np.hypot(*heading)) or 1.0
        side = np.array([-heading[1], heading[0]]) / norm
        for member in range(size):
            offset = (member - (size - 1) / 2.0) * gen.spacing
            shifted = [p + side * offset for p in points]
            delay = float(rng.uniform(0.0, 0.3)) if size > 1 else 0.0
            base = _timed(shifted, start + delay, speed, pauses)
            people.append(
                Person(base.times, base.path, _uniform(gen.height, rng), _uniform(gen.aspect, rng))
            )
        start += _uniform(gen.interval, rng)
    return people


def _expand_wander(gen: WanderGenerator, rng: np.random.Generator) -> list[Person]:
    people: list[Person] = []
    start = gen.start
    x1, y1, x2, y2 = gen.region
    for _ in range(gen.count):
        steps = int(rng.integers(gen.steps[0], gen.steps[1] + 1))
        inner = [np.array([rng.uniform(x1, x2), rng.uniform(y1, y2)]) for _ in range(steps)]
        points = [
            *([_on(gen.from_, rng)] if gen.from_ else []),
            *inner,
            *([_on(gen.to, rng)] if gen.to else []),
        ]
        if len(points) == 1:
            points.append(points[0].copy())
        speed = _uniform(gen.speed, rng)
        pauses = [_uniform(gen.pause, rng) for _ in points[1:-1]]
        base = _timed(points, start, speed, pauses)
        people.append(
            Person(base.times, base.path, _uniform(gen.height, rng), _uniform(gen.aspect, rng))
        )
        start += _uniform(gen.interval, rng)
    return people


def _expand(spec: SceneSpec) -> list[Person]:
    people = [
        Person(
            np.asarray(p.times, np.float64),
            np.asarray(p.path, np.float64).reshape(-1, 2),
            p.height,
            p.aspect,
        )
        for p in spec.people
    ]
    for k, gen in enumerate(spec.generators):
        rng = np.random.default_rng([spec.seed, k])
        if isinstance(gen, WalkGenerator):
            people.extend(_expand_walk(gen, rng))
        else:
            people.extend(_expand_wander(gen, rng))
    return people


# --- sampling and ground truth -----------------------------------------------------------


def _sample(people: list[Person], frames: int, fps: float) -> Samples:
    frame_parts: list[npt.NDArray[np.int64]] = []
    person_parts: list[npt.NDArray[np.int64]] = []
    feet_parts: list[FloatArray] = []
    size_parts: list[FloatArray] = []
    for pid, who in enumerate(people):
        first = max(0, math.ceil(who.times[0] * fps - _EPS))
        last = min(frames - 1, math.floor(who.times[-1] * fps + _EPS))
        if last < first:
            continue
        idx = np.arange(first, last + 1, dtype=np.int64)
        t = idx / fps
        feet = np.stack(
            [
                np.interp(t, who.times, who.path[:, 0]),
                np.interp(t, who.times, who.path[:, 1]),
            ],
            axis=1,
        )
        frame_parts.append(idx)
        person_parts.append(np.full(idx.shape, pid, np.int64))
        feet_parts.append(feet)
        size_parts.append(np.tile([who.height, who.aspect], (len(idx), 1)))
    if frame_parts:
        frame = np.concatenate(frame_parts)
        person = np.concatenate(person_parts)
        feet = np.concatenate(feet_parts)
        sizes = np.concatenate(size_parts)
    else:
        frame = np.zeros(0, np.int64)
        person = np.zeros(0, np.int64)
        feet = np.zeros((0, 2))
        sizes = np.zeros((0, 2))
    order = np.argsort(frame, kind="stable")
    frame, person, feet, sizes = frame[order], person[order], feet[order], sizes[order]
    h = sizes[:, 0]
    w = h * sizes[:, 1]
    xyxy = np.stack([feet[:, 0] - w / 2, feet[:, 1] - h, feet[:, 0] + w / 2, feet[:, 1]], axis=1)
    clipped = np.clip(xyxy, 0.0, 1.0)
    area = np.clip(clipped[:, 2] - clipped[:, 0], 0, None) * np.clip(
        clipped[:, 3] - clipped[:, 1], 0, None
    )
    visible = area >= MIN_VISIBLE * (w * h)
    offsets = np.searchsorted(frame, np.arange(frames + 1), side="left").astype(np.int64)
    return Samples(frame, person, feet, xyxy, visible, offsets)


def _clip_path(person: Person, end_time: float) -> tuple[FloatArray, FloatArray]:
    """The waypoints of the part of the path inside [0, end_time]."""
    t = person.times
    lo, hi = max(0.0, float(t[0])), min(end_time, float(t[-1]))
    if hi < lo:
        return np.zeros(0), np.zeros((0, 2))
    inner = (t > lo) & (t < hi)
    times = np.concatenate([[lo], t[inner], [hi]])
    path = np.stack(
        [np.interp(times, t, person.path[:, 0]), np.interp(times, t, person.path[:, 1])], axis=1
    )
    return times, path


def _line_crossings(
    times: FloatArray, path: FloatArray, line: LineConfig
) -> list[tuple[float, Literal["in", "out"]]]:
    a, b = np.asarray(line.points[0], np.float64), np.asarray(line.points[1], np.float64)
    d = b - a

    def side(p: npt.ArrayLike) -> FloatArray:
        q = np.asarray(p, np.float64).reshape(-1, 2) - a
        return np.asarray(d[0] * q[:, 1] - d[1] * q[:, 0])

    inside_sign = float(np.sign(side(line.inside)[0]))
    dist = side(path)
    sign = np.where(np.abs(dist) < _EPS, 0.0, np.sign(dist))
    events: list[tuple[float, Literal["in", "out"]]] = []
    last = 0.0
    for k in range(len(times)):
        s = float(sign[k])
        if s == 0.0:
            continue
        if last not in (0.0, s):
            # The path reaches side s on piece k-1 -> k: where it leaves the line (or the
            # zero-crossing of a straight pass), found on the last waypoint before k.
            if sign[k - 1] == 0.0:
                point, when = path[k - 1], float(times[k - 1])
            else:
                f = dist[k - 1] / (dist[k - 1] - dist[k])
                point = path[k - 1] + f * (path[k] - path[k - 1])
                when = float(times[k - 1] + f * (times[k] - times[k - 1]))
            u = float(np.dot(point - a, d) / np.dot(d, d))
            if -_EPS <= u <= 1 + _EPS:
                events.append((when, "in" if s == inside_sign else "out"))
        last = s
    return events


def _crossings(
    people: list[Person], lines: list[LineConfig], fps: float, end_time: float
) -> list[Crossing]:
    found: list[Crossing] = []
    for pid, person in enumerate(people):
        times, path = _clip_path(person, end_time)
        if len(times) < 2:
            continue
        for line in lines:
            for when, direction in _line_crossings(times, path, line):
                frame = max(0, math.ceil(when * fps - 1e-6))
                found.append(Crossing(line.name, direction, when, frame, pid))
    found.sort(key=lambda c: (c.time, c.person, c.line))
    return found
