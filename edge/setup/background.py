"""The scene without its people: a masked temporal median, then blanked where a person remains.

Every `sample_seconds` of frame time one frame enters a ring buffer together with a mask
of where the detector saw people in it (their boxes, grown by `margin`). A pixel's
background is the median of its unmasked samples, so a person who moves vanishes. A pixel
with unmasked samples in fewer than `min_share` of the buffered frames (somebody stood
there most of the time) is blanked, and so is every region where the detector still
finds a person in the result at `blank_score`. The image lives in memory only.

Memory: the buffer holds `frames` images at page size plus one mask byte a pixel,
`frames * width * height * 4` bytes, at most 24 x 640 x 480 x 4 = 29.5 MB (a square
detector's page is 480x480: 22.1 MB); the median works in
bands of `BAND_ROWS` rows (24 x 32 x 640 x 3 bytes, twice: 2.9 MB of temporaries).
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.detections import Detections, Detector
from edge.frames import Frame

log = logging.getLogger(__name__)

Image = npt.NDArray[np.uint8]
BLANK = 128
"""Grey level of blanked pixels: neither a person nor the scene."""
BAND_ROWS = 32
MAX_CLEAN_PASSES = 3


@dataclass(frozen=True)
class BackgroundSettings:
    """How the background is gathered and cleaned."""

    width: int = 640  # page resolution: frames are captured at this size in setup mode
    height: int = 480
    frames: int = 24  # ring buffer depth
    sample_seconds: float = 0.5  # frame time between buffered frames: 24 x 0.5 s = 12 s window
    margin: float = 0.15  # a person's box grows by this share of its width/height per side
    min_share: float = 0.25  # fewer unmasked samples than this share of the buffer: blanked
    blank_score: float = 0.2  # a person at or above this score in the result is blanked

    def __post_init__(self) -> None:
        if self.width < 16 or self.height < 16 or self.frames < 3:
            raise ValueError("the background needs at least 16x16 pixels and 3 frames")
        if not 0.0 < self.blank_score <= 1.0 or not 0.0 < self.min_share <= 1.0:
            raise ValueError("blank_score and min_share must lie in (0, 1]")

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    @property
    def memory_bytes(self) -> int:
        """Bytes held by the frame buffer and its masks."""
        return self.frames * self.width * self.height * 4


PAGE_BOX = (640, 480)
"""The background is as large as fits in this box with the detector's aspect ratio."""


def page_size(input_size: tuple[int, int], box: tuple[int, int] = PAGE_BOX) -> tuple[int, int]:
    """(width, height) with the aspect ratio of `input_size`, as large as fits in `box`.

    The same aspect as the sensor's own capture means the same field of view from a Pi
    camera (whose ISP crops to the output's aspect); a square detector gets 480x480.
    """
    width, height = input_size
    scale = min(box[0] / width, box[1] / height)
    return max(16, round(width * scale)), max(16, round(height * scale))


@dataclass(frozen=True)
class CleanBackground:
    """A background ready to serve: its pixels, and how many regions were blanked."""

    image: Image
    blanked_regions: int
    unseen_share: float  # share of pixels blanked because they were never seen free


def box_mask(
    boxes: npt.NDArray[np.float32], size: tuple[int, int], margin: float
) -> npt.NDArray[np.bool_]:
    """(H, W) True inside any normalized box grown by `margin` of its size on each side."""
    width, height = size
    mask = np.zeros((height, width), dtype=bool)
    for x1, y1, x2, y2 in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
        dx, dy = (x2 - x1) * margin, (y2 - y1) * margin
        left = max(0, math.floor((x1 - dx) * width))
        right = min(width, math.ceil((x2 + dx) * width))
        top = max(0, math.floor((y1 - dy) * height))
        bottom = min(height, math.ceil((y2 + dy) * height))
        mask[top:bottom, left:right] = True
    return mask


class MaskedMedian:
    """A ring buffer of frames with person masks, and their per-pixel median."""

    def __init__(self, settings: BackgroundSettings) -> None:
        self.settings = settings
        n, w, h = settings.frames, settings.width, settings.height
        self._pixels = np.zeros((n, h, w, 3), dtype=np.uint8)
        self._free = np.zeros((n, h, w), dtype=bool)
        self._count = 0
        self._next = 0
        self._last_sample: float | None = None
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        """Frames buffered so far (at most `settings.frames`)."""
        return self._count

    def offer(self, image: Image, people: Detections, timestamp: float) -> bool:
        """Buffer this frame if a sample is due; `people` are masked out. True if taken."""
        due = self._last_sample is None or timestamp - self._last_sample >= (
            self.settings.sample_seconds
        )
        if not due:
            return False
        if image.shape != (self.settings.height, self.settings.width, 3):
            raise ValueError(f"expected a {self.settings.size} RGB image, got {image.shape}")
        free = ~box_mask(people.xyxy, self.settings.size, self.settings.margin)
        with self._lock:
            slot = self._next
            self._pixels[slot] = image
            self._free[slot] = free
            self._next = (slot + 1) % self.settings.frames
            self._count = min(self._count + 1, self.settings.frames)
        self._last_sample = timestamp
        return True

    def median(self) -> tuple[Image, npt.NDArray[np.bool_]]:
        """The median of each pixel's free samples, and where too few samples were free.

        Works band by band, holding the buffer's lock for one band at a time, so a
        frame thread calling `offer` waits at most one band.
        """
        h, w = self.settings.height, self.settings.width
        out = np.full((h, w, 3), BLANK, dtype=np.uint8)
        unseen = np.ones((h, w), dtype=bool)
        for top in range(0, h, BAND_ROWS):
            rows = slice(top, min(h, top + BAND_ROWS))
            with self._lock:
                n = self._count
                if n == 0:
                    break
                least = max(1, math.ceil(self.settings.min_share * n))
                out[rows], unseen[rows] = _band_median(
                    self._pixels[:n, rows], self._free[:n, rows], least
                )
        return out, unseen


def _band_median(
    pixels: Image, free: npt.NDArray[np.bool_], least: int
) -> tuple[Image, npt.NDArray[np.bool_]]:
    """Lower median over axis 0 of the free samples, by selecting its bits from the top.

    Masked samples count as 255, so they rank after every free sample (a free 255 ties
    with them at the same value); the median's rank lies among the free ones.
    """
    values = pixels.copy()
    values[~free] = 255
    free_count = free.sum(axis=0, dtype=np.int32)
    rank = ((np.maximum(free_count, 1) - 1) // 2)[..., None]
    result = np.zeros(values.shape[1:], dtype=np.uint8)
    below = np.empty(values.shape, dtype=bool)
    for bit in range(7, -1, -1):
        candidate = result | np.uint8(1 << bit)
        np.less(values, candidate, out=below)
        result = np.where(below.sum(axis=0, dtype=np.int32) <= rank, candidate, result)
    unseen = free_count < least
    result[unseen] = BLANK
    return result, unseen


def clean(
    image: Image, unseen: npt.NDArray[np.bool_], detector: Detector, settings: BackgroundSettings
) -> CleanBackground:
    """Blank what the detector still takes for a person; all grey if it keeps finding one."""
    result = image.copy()
    regions = 0
    for _ in range(MAX_CLEAN_PASSES):
        people = _people(detector, result, settings.blank_score)
        if len(people) == 0:
            return CleanBackground(result, regions, float(unseen.mean()))
        regions += len(people)
        result[box_mask(people.xyxy, settings.size, settings.margin)] = BLANK
    if len(_people(detector, result, settings.blank_score)) == 0:
        return CleanBackground(result, regions, float(unseen.mean()))
    log.warning("the detector still sees a person in the background; serving a blank one")
    result[:] = BLANK
    return CleanBackground(result, regions + 1, 1.0)


def _people(detector: Detector, image: Image, threshold: float) -> Detections:
    found = detector.detect(Frame(image, index=0, timestamp=0.0))
    return found[found.score >= threshold]
