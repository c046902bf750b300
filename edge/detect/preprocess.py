"""Fit a frame into the model's input tensor: resize (stretch or letterbox), then normalize.

Normalization and quantization are folded into one 256-entry lookup table, so a frame
costs one resize and one table lookup, both vectorized. The input buffer is allocated
once; OpenCV is used for resizing when importable, else a numpy resize.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

ResizeMode = Literal["stretch", "letterbox"]
PAD_PIXEL = 114
"""Grey used around a letterboxed frame (the Ultralytics convention)."""

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a frame of `frame_size` lands inside an input of `input_size` (both w, h).

    `content` is (x, y, w, h) in input pixels: the whole input when stretched, a centred
    box when letterboxed.
    """

    frame_size: tuple[int, int]
    input_size: tuple[int, int]
    content: tuple[int, int, int, int]

    @classmethod
    def fit(
        cls, frame_size: tuple[int, int], input_size: tuple[int, int], mode: ResizeMode
    ) -> Placement:
        in_w, in_h = input_size
        if mode == "stretch":
            return cls(frame_size, input_size, (0, 0, in_w, in_h))
        fw, fh = frame_size
        scale = min(in_w / fw, in_h / fh)
        w = min(in_w, max(1, round(fw * scale)))
        h = min(in_h, max(1, round(fh * scale)))
        return cls(frame_size, input_size, ((in_w - w) // 2, (in_h - h) // 2, w, h))

    def to_frame(self, xyxy: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Map (N, 4) boxes normalized to the input onto the frame (normalized, clipped)."""
        in_w, in_h = self.input_size
        x, y, w, h = self.content
        scale = np.array([in_w / w, in_h / h, in_w / w, in_h / h], np.float32)
        offset = np.array([x / w, y / h, x / w, y / h], np.float32)
        mapped: npt.NDArray[np.float32] = np.clip(xyxy * scale - offset, 0.0, 1.0)
        return mapped.astype(np.float32, copy=False)


def input_lut(
    dtype: np.dtype[Any], scale: float, zero_point: int, mean: float | None, std: float | None
) -> npt.NDArray[Any]:
    """Table from pixel value (0..255) to the value the input tensor stores.

    Float inputs get (pixel - mean) / std. Quantized integer inputs get
    round(((pixel - mean) / std) / scale + zero_point) when mean and std are given; with
    None they take the raw pixel shifted into the type's range (uint8: as is; int8: - 128),
    which is what full-integer exports calibrated on images expect.
    """
    pixels = np.arange(256, dtype=np.float64)
    if np.issubdtype(dtype, np.floating):
        real = (pixels - (0.0 if mean is None else mean)) / (1.0 if std is None else std)
        return real.astype(dtype)
    info = np.iinfo(dtype)
    if mean is None or std is None or scale == 0.0:
        stored = pixels + info.min if info.min < 0 else pixels
    else:
        stored = np.round(((pixels - mean) / std) / scale + zero_point)
    lut = np.clip(stored, info.min, info.max).astype(dtype)
    if len(np.unique(lut)) < 64:
        log.warning(
            "input_mean/input_std squeeze the model's quantized input into %d levels; "
            "check them against the model card",
            len(np.unique(lut)),
        )
    return lut


def _cv2() -> Any | None:
    try:
        import cv2
    except ImportError:
        return None
    return cv2


def resize_numpy(image: Image, width: int, height: int) -> Image:
    """Vectorized separable resize: bilinear when enlarging, averaged taps when shrinking."""
    rows = _resample_rows(image, _taps(image.shape[0], height))
    flat = rows.reshape(height, -1)
    out = np.zeros((height, width * 3), np.float32)
    channel = np.arange(3, dtype=np.intp)
    for cols, weight in _taps(image.shape[1], width):
        index = (cols[:, None] * 3 + channel[None, :]).reshape(-1)
        out += np.take(flat, index, axis=1) * np.repeat(weight, 3)[None, :]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8).reshape(height, width, 3)


Taps = list[tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]]


def _taps(size: int, out: int) -> Taps:
    """Source rows and weights per output row along one axis (pixel centres aligned).

    Enlarging or mild shrinking: two bilinear taps. Shrinking by s >= 2: ceil(s) evenly
    spaced taps inside each output pixel's footprint, averaged (close to area resampling).
    """
    scale = size / out
    if scale < 2.0:
        pos = np.clip((np.arange(out, dtype=np.float32) + 0.5) * scale - 0.5, 0, size - 1)
        lo = np.floor(pos).astype(np.intp)
        hi = np.minimum(lo + 1, size - 1)
        frac = (pos - lo).astype(np.float32)
        return [(lo, 1.0 - frac), (hi, frac)]
    count = int(np.ceil(scale))
    weight = np.full(out, 1.0 / count, np.float32)
    starts = np.arange(out, dtype=np.float32) * scale
    return [
        (np.clip(np.floor(starts + (j + 0.5) * scale / count), 0, size - 1).astype(np.intp), weight)
        for j in range(count)
    ]


def _resample_rows(data: Image, taps: Taps) -> npt.NDArray[np.float32]:
    """Weighted sum of gathered rows (axis 0): one contiguous gather per tap."""
    out = np.zeros((taps[0][0].shape[0], *data.shape[1:]), np.float32)
    for rows, weight in taps:
        out += data[rows] * weight[:, None, None]
    return out


class Preprocessor:
    """Turns RGB frames into the model's input tensor, reusing one preallocated buffer.

    `use_cv2=None` uses OpenCV when importable; False forces the numpy resize.
    """

    def __init__(
        self,
        input_size: tuple[int, int],
        dtype: np.dtype[Any],
        lut: npt.NDArray[Any],
        mode: ResizeMode = "stretch",
        use_cv2: bool | None = None,
    ) -> None:
        self.input_size = input_size
        self.mode: ResizeMode = mode
        self._lut = lut
        # A uint8 model whose input takes raw pixels needs no table: a copy will do.
        self._identity = bool(
            lut.dtype == np.uint8 and np.array_equal(lut, np.arange(256, dtype=np.uint8))
        )
        w, h = input_size
        self.buffer: npt.NDArray[Any] = np.empty((1, h, w, 3), dtype=dtype)
        self._cv2 = None if use_cv2 is False else _cv2()
        if use_cv2 and self._cv2 is None:
            raise ImportError("OpenCV was requested but cv2 is not importable")
        self._placement: Placement | None = None
        self._resized: Image = np.empty((0, 0, 3), np.uint8)

    @property
    def uses_cv2(self) -> bool:
        return self._cv2 is not None

    def __call__(self, image: Image) -> Placement:
        """Fill `self.buffer` from an (H, W, 3) uint8 RGB image; returns where it went."""
        frame_size = (int(image.shape[1]), int(image.shape[0]))
        placement = self._placement
        if placement is None or placement.frame_size != frame_size:
            placement = Placement.fit(frame_size, self.input_size, self.mode)
            self._placement = placement
            _, _, w, h = placement.content
            self._resized = np.empty((h, w, 3), np.uint8)
            self.buffer[...] = self._lut[PAD_PIXEL]
        x, y, w, h = placement.content
        resized = self._resize(image, w, h)
        target = self.buffer[0, y : y + h, x : x + w]
        if self._identity:
            np.copyto(target, resized)
        else:
            np.take(self._lut, resized, out=target, mode="clip")
        return placement

    def _resize(self, image: Image, width: int, height: int) -> Image:
        if image.shape[1] == width and image.shape[0] == height:
            return image
        if self._cv2 is not None:
            cv2 = self._cv2
            strong = image.shape[1] >= 3 * width or image.shape[0] >= 3 * height
            interpolation = cv2.INTER_AREA if strong else cv2.INTER_LINEAR
            out: Image = cv2.resize(
                image, (width, height), dst=self._resized, interpolation=interpolation
            )
            return out
        return resize_numpy(image, width, height)
