"""Renders a seeded scene to pixels: real people walking its feet trajectories over a real street.

A pixel scene is a TOML file in `lab/pixels/scenes/`: a seeded scene (`lab/sim/scene.py`'s
format: lines, zones, people, generators; its ground truth is the scene's own, exact) plus a
`[render]` table: the perspective, static occluders (signposts) and the lighting over time.

What a frame holds, back to front: the street photo, then people and occluders in the order
of their base's y (farther first), so a person whose feet are behind a post's foot is hidden
by it. A person is a sprite (`lab/pixels/sprites.py`) scaled so its height is the scene
person's height times the perspective factor at the feet's y, bottom-centre on the feet; it
faces the way it walks and its width swings a little with its stride. The frame is then
multiplied by the lighting gain and gets sensor noise that grows as the light falls.

Ground truth (crossings per line and direction, occupancy per zone and frame) depends on the
feet alone, so it is exactly the seeded scene's.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edge.config import format_validation_error
from edge.sources.opencv import import_cv2
from lab.pixels.sprites import Image, Sprite, background, people
from lab.sim.scene import MIN_VISIBLE, Scene, SceneError, scene_from_dict

Unit = Annotated[float, Field(ge=0.0, le=1.0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Occluder(_Model):
    """A signpost standing on the ground: a pole with a sign on top."""

    x: Unit = Field(description="Centre of the pole's foot, normalized.")
    y: Unit = Field(description="Where the pole stands (its foot), normalized.")
    height: float = Field(0.35, gt=0, le=1, description="Pole height, normalized.")
    width: float = Field(0.02, gt=0, le=0.3, description="Pole width, normalized.")
    sign: tuple[float, float] = Field((0.09, 0.07), description="Sign width, height.")


class RenderSpec(_Model):
    """How a scene is drawn; nothing here changes its ground truth."""

    size: tuple[int, int] = Field((640, 480), description="Frame width, height in pixels.")
    horizon: float = Field(
        0.6, ge=-1.0, lt=1.0, description="Image y where people shrink to nothing."
    )
    reference_y: float = Field(
        1.0, gt=0.0, le=1.5, description="Feet y at which a person has the scene's height."
    )
    min_height: float = Field(0.03, gt=0, le=1, description="Least drawn height, normalized.")
    occluders: list[Occluder] = Field(default_factory=list)
    lighting: list[tuple[float, float]] = Field(
        default_factory=lambda: [(0.0, 1.0)],
        min_length=1,
        description="(seconds, gain) points, linear between them; 1.0 is the photo.",
    )
    noise: float = Field(2.0, ge=0, le=50, description="Sensor noise std at gain 1 (0-255).")
    seed: int = Field(0, ge=0, description="Sprite choice and noise.")

    @model_validator(mode="after")
    def _order(self) -> RenderSpec:
        if self.reference_y <= self.horizon:
            raise ValueError("reference_y must lie below the horizon (larger y)")
        times = [t for t, _ in self.lighting]
        if times != sorted(times):
            raise ValueError("lighting times must not decrease")
        return self


@dataclass(frozen=True)
class PixelScene:
    """A seeded scene and how to draw it."""

    scene: Scene
    render: RenderSpec

    @property
    def name(self) -> str:
        return self.scene.name


def scenes_dir() -> Path:
    """The pixel scenes shipped as package data beside this module."""
    return Path(__file__).resolve().parent / "scenes"


def pixel_scene_names() -> list[str]:
    return sorted(p.stem for p in scenes_dir().glob("*.toml"))


def load_pixel_scene(name_or_path: str | Path) -> PixelScene:
    """A pixel scene by name (from `lab/pixels/scenes`) or .toml path; SceneError if invalid."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = scenes_dir() / f"{name_or_path}.toml"
        if not path.is_file():
            known = ", ".join(pixel_scene_names())
            raise SceneError(f"unknown pixel scene {name_or_path!r}; use one of: {known}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise SceneError(f"pixel scene {path} cannot be read as TOML: {error}") from None
    render = data.pop("render", {})
    try:
        spec = RenderSpec.model_validate(render)
    except ValidationError as error:
        raise SceneError(format_validation_error(error, f"{path} [render]")) from None
    return PixelScene(scene_from_dict(data, path.stem, str(path)), spec)


class Renderer:
    """Draws the frames of a pixel scene, one at a time, deterministically."""

    def __init__(self, pixel_scene: PixelScene) -> None:
        cv2 = import_cv2()

        self._cv2 = cv2
        self.scene = pixel_scene.scene
        self.spec = pixel_scene.render
        width, height = self.spec.size
        street = cv2.resize(background(), (width, height), interpolation=cv2.INTER_AREA)
        self._background = street.astype(np.float32)
        self._sprites = people()
        rng = np.random.default_rng(self.spec.seed)
        # One person per sprite pair (a person and its mirror image), chosen by id.
        self._choice = rng.integers(0, len(self._sprites) // 2, len(self.scene.people))
        self._phase = rng.uniform(0, 2 * np.pi, len(self.scene.people))
        self._noise_seed = self.spec.seed

    def height_at(self, feet_y: float, base_height: float) -> float:
        """Drawn height (normalized) of a person of scene height `base_height` at `feet_y`."""
        s = self.spec
        factor = (feet_y - s.horizon) / (s.reference_y - s.horizon)
        return float(max(s.min_height, base_height * factor))

    def boxes(self, index: int) -> npt.NDArray[np.float32]:
        """The drawn people's boxes (N, 4) at a frame, normalized and clipped (occluders ignored).

        Only boxes keeping `MIN_VISIBLE` of their area inside the frame are listed.
        """
        ids, feet = self.scene.present(index)
        out = []
        for person, (fx, fy) in zip(ids.tolist(), feet.tolist(), strict=True):
            who = self.scene.people[person]
            sprite = self._sprites[2 * int(self._choice[person])]
            h = self.height_at(fy, who.height)
            w = h * sprite.aspect * self.spec.size[1] / self.spec.size[0]
            box = np.array([fx - w / 2, fy - h, fx + w / 2, fy])
            clipped = np.clip(box, 0.0, 1.0)
            area = max(0.0, clipped[2] - clipped[0]) * max(0.0, clipped[3] - clipped[1])
            if area >= MIN_VISIBLE * w * h:
                out.append(clipped)
        return np.asarray(out, np.float32).reshape(-1, 4)

    def frames(self, count: int | None = None) -> Iterator[Image]:
        """RGB frames 0 .. count-1 (all of the scene's when None)."""
        last = self.scene.frames if count is None else min(count, self.scene.frames)
        for index in range(last):
            yield self.frame(index)

    def frame(self, index: int) -> Image:
        """Frame `index` as RGB uint8 (H, W, 3)."""
        canvas = self._background.copy()
        for _, kind, item in sorted(self._layers(index), key=lambda layer: layer[0]):
            if kind == 0:
                self._draw_person(canvas, index, int(item))
            else:
                self._draw_post(canvas, self.spec.occluders[int(item)])
        return self._expose(canvas, index)

    def _layers(self, index: int) -> list[tuple[float, int, int]]:
        ids, feet = self.scene.present(index)
        layers = [(float(f[1]), 0, int(i)) for i, f in zip(ids, feet, strict=True)]
        layers += [(post.y, 1, k) for k, post in enumerate(self.spec.occluders)]
        return layers

    def _velocity_x(self, person: int, t: float) -> float:
        who = self.scene.people[person]
        x0 = float(np.interp(t - 0.05, who.times, who.path[:, 0]))
        x1 = float(np.interp(t + 0.05, who.times, who.path[:, 0]))
        return x1 - x0

    def _draw_person(self, canvas: npt.NDArray[np.float32], index: int, person: int) -> None:
        t = self.scene.time(index)
        who = self.scene.people[person]
        fx = float(np.interp(t, who.times, who.path[:, 0]))
        fy = float(np.interp(t, who.times, who.path[:, 1]))
        pair = int(self._choice[person])
        sprite = self._sprites[2 * pair + (1 if self._velocity_x(person, t) < 0 else 0)]
        width, height = self.spec.size
        h_px = self.height_at(fy, who.height) * height
        stride = 1.0 + 0.06 * np.sin(2 * np.pi * 1.8 * t + self._phase[person])
        w_px = h_px * sprite.aspect * stride
        self._paste(canvas, sprite, (fx * width, fy * height), (w_px, h_px))

    def _paste(
        self,
        canvas: npt.NDArray[np.float32],
        sprite: Sprite,
        feet: tuple[float, float],
        size: tuple[float, float],
    ) -> None:
        """Alpha-blend `sprite` scaled to `size` pixels with its bottom-centre on `feet`."""
        w, h = max(1, round(size[0])), max(2, round(size[1]))
        x0, y0 = round(feet[0] - w / 2), round(feet[1] - h)
        rows, cols = canvas.shape[:2]
        left, top = max(0, x0), max(0, y0)
        right, low = min(cols, x0 + w), min(rows, y0 + h)
        if right <= left or low <= top:
            return
        cv2 = self._cv2
        shrink = w < sprite.rgb.shape[1]
        interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        rgb = cv2.resize(sprite.rgb, (w, h), interpolation=interp).astype(np.float32)
        alpha = cv2.resize(sprite.alpha, (w, h), interpolation=interp)[:, :, None]
        sy, sx = slice(top - y0, low - y0), slice(left - x0, right - x0)
        region = canvas[top:low, left:right]
        a = alpha[sy, sx]
        region *= 1.0 - a
        region += a * rgb[sy, sx]

    def _draw_post(self, canvas: npt.NDArray[np.float32], post: Occluder) -> None:
        width, height = self.spec.size
        cx, foot = post.x * width, post.y * height
        half = max(1.0, post.width * width / 2)
        top = foot - post.height * height
        x1, x2 = round(cx - half), round(cx + half)
        pole = np.linspace(70.0, 150.0, max(1, x2 - x1), dtype=np.float32)[None, :, None]
        canvas[max(0, round(top)) : round(foot), max(0, x1) : x2] = pole[:, : x2 - max(0, x1)]
        sw, sh = post.sign[0] * width, post.sign[1] * height
        sx1, sy1 = round(cx - sw / 2), round(top)
        sx2, sy2 = round(cx + sw / 2), round(top + sh)
        canvas[max(0, sy1) : sy2, max(0, sx1) : sx2] = (235.0, 235.0, 235.0)
        canvas[max(0, sy1 + 3) : sy2 - 3, max(0, sx1 + 3) : sx2 - 3] = (25.0, 80.0, 160.0)

    def gain(self, t: float) -> float:
        """The lighting gain at scene time `t`."""
        times = [p[0] for p in self.spec.lighting]
        gains = [p[1] for p in self.spec.lighting]
        return float(np.interp(t, times, gains))

    def _expose(self, canvas: npt.NDArray[np.float32], index: int) -> Image:
        gain = self.gain(self.scene.time(index))
        canvas *= gain
        if self.spec.noise > 0:
            rng = np.random.default_rng([self._noise_seed, index])
            sigma = self.spec.noise / max(gain, 0.2)
            canvas += rng.normal(0.0, sigma, canvas.shape).astype(np.float32)
        return np.clip(canvas, 0, 255).astype(np.uint8)


def write_video(renderer: Renderer, path: Path, count: int | None = None) -> int:
    """Render to an MJPG AVI at the scene's fps (what a file source reads); frames written."""
    cv2 = renderer._cv2
    width, height = renderer.spec.size
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*"MJPG"), renderer.scene.fps, (width, height)
    )
    if not writer.isOpened():
        raise SceneError(f"cannot write a video to {path}; check the folder is writable")
    written = 0
    try:
        for image in renderer.frames(count):
            writer.write(np.ascontiguousarray(image[:, :, ::-1]))
            written += 1
    finally:
        writer.release()
    return written
