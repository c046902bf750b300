"""Real people cut out of real photos: RGBA sprites made at run time from the fetched samples.

Each sprite is one person from a photo in a Debian package (fetched by
`seeds/fetch_samples.sh` into `$HEADCOUNT_SAMPLES`), cut out by OpenCV's GrabCut inside a
fixed rectangle and cropped to the person's mask, so the sprite's bottom-centre is the
person's feet. Licences (per each package's `debian/copyright`, `Files: *`):

- darknet 0.0.0+git20180914 `data/person.jpg`, `data/kite.jpg`: GPL-3.0+ or MIT or WTFPL
  (used under MIT).

Nothing is written to disk; the cut is deterministic (OpenCV's RNG is seeded).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge.sources.opencv import import_cv2

Image = npt.NDArray[np.uint8]


class SamplesMissingError(Exception):
    """A photo the pixel scenes need is not in the samples folder; the message says how."""


@dataclass(frozen=True, slots=True)
class Cut:
    """Where one person stands in a sample photo: file name and (x1, y1, x2, y2) pixels."""

    name: str
    file: str
    rect: tuple[int, int, int, int]


CUTS = (
    Cut("woman", "person.jpg", (178, 94, 280, 388)),
    Cut("walker_blue", "kite.jpg", (104, 606, 183, 780)),
    Cut("walker_purple", "kite.jpg", (208, 678, 277, 866)),
)
"""Rectangles found with the shipped fp32 detector (score >= 0.96), widened a little.

basketball1.png's players (a grey photo) are left out: GrabCut keeps a chair with one, and
the detector scores the other's grey cut-out below 0.5 even when he is half the frame high."""

BACKGROUND = "leuvenA.jpg"
"""opencv-doc `examples/data/leuvenA.jpg`: an empty cobbled street between brick houses."""


@dataclass(frozen=True, slots=True, repr=False)
class Sprite:
    """One person: RGB pixels (H, W, 3) and their alpha (H, W) in [0, 1], feet at bottom-centre."""

    name: str
    rgb: Image
    alpha: npt.NDArray[np.float32]

    @property
    def aspect(self) -> float:
        """Width over height."""
        return float(self.rgb.shape[1] / self.rgb.shape[0])


def samples_dir() -> Path:
    """`$HEADCOUNT_SAMPLES`, else ~/.cache/headcount/samples (where `make samples` puts them)."""
    default = Path.home() / ".cache" / "headcount" / "samples"
    return Path(os.environ.get("HEADCOUNT_SAMPLES", default))


def read_rgb(name: str) -> Image:
    """A sample photo as RGB; SamplesMissingError saying to run `make samples`."""
    cv2 = import_cv2()

    path = samples_dir() / name
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SamplesMissingError(
            f"the sample photo {path} is missing; run `make samples` to fetch it"
        )
    rgb: Image = np.ascontiguousarray(bgr[:, :, ::-1])
    return rgb


def cut_out(image: Image, rect: tuple[int, int, int, int], name: str = "person") -> Sprite:
    """GrabCut the person inside `rect`, cropped to the mask's bounding box, edges feathered."""
    cv2 = import_cv2()

    image, rect = _around(image, rect)
    x1, y1, x2, y2 = rect
    mask = np.full(image.shape[:2], cv2.GC_BGD, np.uint8)
    mask[y1:y2, x1:x2] = cv2.GC_PR_FGD
    # The body's axis is surely the person: a thin column down the rectangle's middle.
    cx, half = (x1 + x2) // 2, max(1, (x2 - x1) // 12)
    mask[y1 + (y2 - y1) // 10 : y2 - (y2 - y1) // 8, cx - half : cx + half + 1] = cv2.GC_FGD
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)
    bgr = np.ascontiguousarray(image[:, :, ::-1])
    cv2.grabCut(bgr, mask, None, bgd, fgd, 5, cv2.GC_INIT_WITH_MASK)
    person = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    person = _largest_blob(person)
    ys, xs = np.nonzero(person)
    if len(ys) == 0:
        raise ValueError(f"no person found inside {rect} for sprite {name}")
    top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    alpha = cv2.GaussianBlur(person[top:bottom, left:right].astype(np.float32), (3, 3), 0)
    rgb = np.ascontiguousarray(image[top:bottom, left:right])
    return Sprite(name, rgb, np.asarray(alpha, np.float32))


def _around(
    image: Image, rect: tuple[int, int, int, int]
) -> tuple[Image, tuple[int, int, int, int]]:
    """The photo cropped to `rect` plus a quarter of its size each side (GrabCut's context)."""
    x1, y1, x2, y2 = rect
    mx, my = (x2 - x1) // 4, (y2 - y1) // 4
    left, top = max(0, x1 - mx), max(0, y1 - my)
    right, bottom = min(image.shape[1], x2 + mx), min(image.shape[0], y2 + my)
    crop = np.ascontiguousarray(image[top:bottom, left:right])
    return crop, (x1 - left, y1 - top, x2 - left, y2 - top)


def _largest_blob(mask: Image) -> Image:
    """Keep only the largest 8-connected foreground component (drops stray background)."""
    cv2 = import_cv2()

    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 2:
        return mask
    best = 1 + int(np.argmax(stats[1:, 4]))
    return np.asarray(labels == best, np.uint8)


@lru_cache(maxsize=1)
def people() -> tuple[Sprite, ...]:
    """Every sprite of `CUTS`, each also mirrored (6 in all)."""
    photos: dict[str, Image] = {}
    out: list[Sprite] = []
    for cut in CUTS:
        if cut.file not in photos:
            photos[cut.file] = read_rgb(cut.file)
        sprite = cut_out(photos[cut.file], cut.rect, cut.name)
        out.append(sprite)
        out.append(
            Sprite(
                f"{cut.name}_mirrored",
                np.ascontiguousarray(sprite.rgb[:, ::-1]),
                np.ascontiguousarray(sprite.alpha[:, ::-1]),
            )
        )
    return tuple(out)


@lru_cache(maxsize=1)
def background() -> Image:
    """The empty street, RGB at its own size (751x563)."""
    return read_rgb(BACKGROUND)
