"""Motion gating: run the detector only when the picture changed (or a keep-alive is due).

A frame is shrunk to a small grey thumbnail by block means (vectorized, no per-pixel
loop) and compared with the thumbnail of the last frame the detector ran on. If more than
`threshold` of the thumbnail's cells changed by more than `pixel_delta` grey levels, the
detector runs. After motion it keeps running for `hold_seconds`, so tracks of people who
just left are seen to go; on a still scene it runs only every `keepalive_seconds`.
Time is the frame's own clock, so a replay gates exactly like the live run.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from edge.config import DetectorConfig
from edge.frames import Frame

# ITU-R BT.601 luma weights, applied to block means (linear, so the order does not matter).
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def thumbnail(image: npt.NDArray[np.uint8], size: tuple[int, int]) -> npt.NDArray[np.float32]:
    """(h, w) grey block means of an (H, W, 3) image, `size` = (w, h) cells.

    Rows and columns that do not fill a whole block at the right and bottom are dropped;
    an image smaller than `size` gives one cell per pixel.
    """
    width, height = size
    rows, cols = image.shape[0], image.shape[1]
    h = min(height, rows)
    w = min(width, cols)
    by, bx = rows // h, cols // w
    # Sum whole rows of blocks first (contiguous, fast), then the columns within each block.
    strips = image[: h * by, : w * bx].reshape(h, by, w * bx * 3).sum(axis=1, dtype=np.uint32)
    sums = strips.reshape(h, w, bx, 3).sum(axis=2, dtype=np.uint32)
    means = sums.astype(np.float32) / np.float32(by * bx)
    return np.asarray(means @ _LUMA, np.float32)


class MotionGate:
    """`gate(frame) -> bool`: True when the detector should run on this frame.

    `threshold` is the fraction of thumbnail cells that must change (0..1);
    `keepalive_seconds` the longest time between detector runs on a still scene (both
    default to the config's `[detector]` defaults, their one source);
    `downscale` the thumbnail size (w, h); `pixel_delta` the grey-level change that
    counts a cell as changed (above sensor noise after averaging); `hold_seconds` how
    long the detector keeps running after the last motion.
    """

    def __init__(
        self,
        threshold: float | None = None,
        keepalive_seconds: float | None = None,
        downscale: tuple[int, int] = (32, 24),
        *,
        pixel_delta: float = 6.0,
        hold_seconds: float = 1.0,
    ) -> None:
        defaults = DetectorConfig()
        threshold = defaults.motion_threshold if threshold is None else threshold
        if keepalive_seconds is None:
            keepalive_seconds = defaults.keepalive_seconds
        if not 0.0 <= threshold < 1.0:
            raise ValueError(f"threshold must lie in [0, 1), got {threshold}")
        if keepalive_seconds <= 0:
            raise ValueError(f"keepalive_seconds must be > 0, got {keepalive_seconds}")
        if downscale[0] < 1 or downscale[1] < 1:
            raise ValueError(f"downscale must be at least 1x1 cells, got {downscale}")
        if pixel_delta < 0 or hold_seconds < 0:
            raise ValueError("pixel_delta and hold_seconds must be >= 0")
        self.threshold = threshold
        self.keepalive_seconds = keepalive_seconds
        self.downscale = downscale
        self.pixel_delta = pixel_delta
        self.hold_seconds = hold_seconds
        self._reference: npt.NDArray[np.float32] | None = None
        self._last_run: float | None = None
        self._last_motion: float | None = None
        self.runs = 0
        self.skips = 0

    def changed_fraction(self, frame: Frame) -> float:
        """Share of thumbnail cells that differ from the reference (1.0 with no reference)."""
        return self._fraction(thumbnail(frame.image, self.downscale))

    def _fraction(self, thumb: npt.NDArray[np.float32]) -> float:
        reference = self._reference
        if reference is None or reference.shape != thumb.shape:
            return 1.0
        return float(np.mean(np.abs(thumb - reference) > self.pixel_delta))

    def __call__(self, frame: Frame) -> bool:
        thumb = thumbnail(frame.image, self.downscale)
        now = frame.timestamp
        moved = self._reference is not None and self._fraction(thumb) > self.threshold
        if moved:
            self._last_motion = now
        held = self._last_motion is not None and now - self._last_motion <= self.hold_seconds
        due = self._last_run is None or now - self._last_run >= self.keepalive_seconds
        # A clock that goes back (a re-opened camera) restarts the keep-alive.
        due = due or (self._last_run is not None and now < self._last_run)
        run = moved or held or due
        if run:
            self._reference = thumb
            self._last_run = now
            self.runs += 1
        else:
            self.skips += 1
        return run

    def reset(self) -> None:
        """Forget the reference, so the next frame runs the detector."""
        self._reference = None
        self._last_run = None
        self._last_motion = None


def gate_from_config(config: DetectorConfig) -> MotionGate | None:
    """The sensor's gate when `motion_gate` is on, else None (the detector runs every frame)."""
    if not config.motion_gate:
        return None
    return MotionGate(config.motion_threshold, config.keepalive_seconds)
