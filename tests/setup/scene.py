"""Composed footage with a known truth: real people walking over a real empty street.

The street is OpenCV's leuvenA.jpg (opencv-doc), in which the detector finds nobody even
at a score of 0.05; the people are cut out of darknet's person.jpg and OpenCV's
basketball1.png by rectangles around their detector boxes. Frames are rendered here,
so the true background is known to the pixel.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

SIZE = (640, 480)
FRAME_SECONDS = 0.25

# (file, normalized x1, y1, x2, y2, mirrored): each person's detector box, a little widened.
# The basketball player is hard for the detector at this size (found in few frames): the
# median must remove a walker it misses, too.
PEOPLE = (
    ("person.jpg", 0.28, 0.22, 0.44, 0.91, False),
    ("basketball1.png", 0.04, 0.16, 0.26, 1.0, False),
    ("person.jpg", 0.28, 0.22, 0.44, 0.91, True),
)


def samples_dir() -> Path:
    return Path(os.environ.get("HEADCOUNT_SAMPLES", Path.home() / ".cache/headcount/samples"))


def sample_rgb(name: str) -> np.ndarray:
    path = samples_dir() / name
    image = cv2.imread(str(path))
    if image is None:
        pytest.fail(f"{path} is missing: run `make samples` (sh seeds/fetch_samples.sh)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def street() -> np.ndarray:
    """The true background at page size."""
    return cv2.resize(sample_rgb("leuvenA.jpg"), SIZE, interpolation=cv2.INTER_AREA)


def cutouts(height: int) -> list[np.ndarray]:
    """Each person as an RGB patch `height` pixels tall."""
    out = []
    for name, x1, y1, x2, y2, mirrored in PEOPLE:
        photo = sample_rgb(name)
        h, w = photo.shape[:2]
        patch = photo[int(y1 * h) : int(y2 * h), int(x1 * w) : int(x2 * w)]
        if mirrored:
            patch = patch[:, ::-1]
        scale = height / patch.shape[0]
        size = (max(1, round(patch.shape[1] * scale)), height)
        out.append(cv2.resize(patch, size, interpolation=cv2.INTER_AREA))
    return out


@dataclass(frozen=True)
class Walker:
    """A person walking from x0 to x1 (left edge, pixels) with feet at `ground` (pixels)."""

    person: int
    x0: float
    x1: float
    ground: int
    height: int
    start: int  # first frame
    frames: int  # frames to walk the distance


def paste(canvas: np.ndarray, patch: np.ndarray, left: int, ground: int) -> None:
    top = ground - patch.shape[0]
    h, w = patch.shape[:2]
    x0, y0 = max(0, left), max(0, top)
    x1, y1 = min(canvas.shape[1], left + w), min(canvas.shape[0], top + h)
    if x1 > x0 and y1 > y0:
        canvas[y0:y1, x0:x1] = patch[y0 - top : y1 - top, x0 - left : x1 - left]


WALKERS = (
    Walker(0, -120, 700, ground=430, height=190, start=0, frames=60),
    Walker(1, 660, -160, ground=470, height=230, start=20, frames=60),
    Walker(2, 660, -160, ground=400, height=170, start=45, frames=50),
)
STILL = Walker(0, 470, 470, ground=380, height=170, start=0, frames=1)
"""A person standing at one spot for the whole footage."""


def still_box() -> tuple[int, int, int, int]:
    """(left, top, right, bottom) pixels of the standing person's patch."""
    patch = cutouts(STILL.height)[STILL.person]
    left = round(STILL.x0)
    return left, STILL.ground - STILL.height, left + patch.shape[1], STILL.ground


def _left(walker: Walker, index: int) -> int | None:
    step = index - walker.start
    if walker is not STILL and not 0 <= step <= walker.frames:
        return None
    share = min(1.0, max(0.0, step / walker.frames))
    return round(walker.x0 + (walker.x1 - walker.x0) * share)


def feet(index: int) -> list[tuple[float, float]]:
    """Normalized true feet (bottom centre of the part in view) of the walkers at `index`."""
    out = []
    for walker in WALKERS:
        left = _left(walker, index)
        width = cutouts(walker.height)[walker.person].shape[1]
        if left is None or left + width <= 0 or left >= SIZE[0]:
            continue
        seen = (max(0, left) + min(SIZE[0], left + width)) / 2
        out.append((seen / SIZE[0], walker.ground / SIZE[1]))
    return out


def frames(count: int = 100, still: bool = False) -> list[np.ndarray]:
    """The composed footage: RGB frames at SIZE, FRAME_SECONDS apart."""
    background = street()
    walkers = (*WALKERS, STILL) if still else WALKERS
    patches = {(w.person, w.height): cutouts(w.height)[w.person] for w in walkers}
    out = []
    for index in range(count):
        canvas = background.copy()
        for walker in walkers:
            left = _left(walker, index)
            if left is None:
                continue
            paste(canvas, patches[(walker.person, walker.height)], left, walker.ground)
        out.append(canvas)
    return out
