"""Fit a frame into the model's input tensor: resize (stretch or letterbox), then normalize.

Normalization and quantization are folded into one 256-entry lookup table. The table is
applied in one vectorized pass: a plain copy for raw uint8 pixels, a fused multiply-add
when the table is affine (float inputs: (pixel - mean) / std), else a table lookup.
OpenCV does the resizing and these passes when importable, numpy otherwise. The target
is any [1, H, W, 3] array that keeps its contents between frames (the interpreter's own
input tensor, or `Preprocessor.buffer`), so letterbox padding is written only when needed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

ResizeMode = Literal["stretch", "letterbox"]
PAD_PIXEL = 114
"""Grey used around a letterboxed frame (the Ultralytics convention)."""

Image = npt.NDArray[np.uint8]
Convert = Callable[[Image, npt.NDArray[Any]], object]
"""Writes a converted (H, W, 3) uint8 image into an (H, W, 3) view of the input tensor."""
_ZERO, _ONE = np.float32(0.0), np.float32(1.0)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a frame of `frame_size` lands inside an input of `input_size` (both w, h).

    `content` is (x, y, w, h) in input pixels: the whole input when stretched, a centred
    box when letterboxed. A point normalized to the input lands on the frame at
    input * frame_scale - frame_offset (both (x, y), derived from the above).
    """

    frame_size: tuple[int, int]
    input_size: tuple[int, int]
    content: tuple[int, int, int, int]
    frame_scale: tuple[float, float] = field(init=False, compare=False)
    frame_offset: tuple[float, float] = field(init=False, compare=False)
    padded: bool = field(init=False, compare=False)
    """Whether the content leaves part of the input uncovered (letterbox padding)."""
    _scale: npt.NDArray[np.float32] = field(init=False, repr=False, compare=False)
    _offset: npt.NDArray[np.float32] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        in_w, in_h = self.input_size
        x, y, w, h = self.content
        sx, sy, ox, oy = in_w / w, in_h / h, x / w, y / h
        object.__setattr__(self, "frame_scale", (sx, sy))
        object.__setattr__(self, "frame_offset", (ox, oy))
        object.__setattr__(self, "padded", (w, h) != self.input_size)
        object.__setattr__(self, "_scale", np.array([sx, sy, sx, sy], np.float32))
        object.__setattr__(self, "_offset", np.array([ox, oy, ox, oy], np.float32))

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
        """Map (N, 4) boxes normalized to the input onto the frame (normalized, clipped).

        Returns a new float32 array; `xyxy` is not modified.
        """
        mapped: npt.NDArray[np.float32] = xyxy * self._scale
        mapped -= self._offset
        np.maximum(mapped, _ZERO, out=mapped)
        np.minimum(mapped, _ONE, out=mapped)
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


def interpolation(cv2: Any, source: tuple[int, int], target: tuple[int, int]) -> int:
    """OpenCV's interpolation for resizing `source` (w, h) to `target`: area averaging for
    a strong shrink (3x or more, where bilinear would alias badly), else bilinear, which
    costs a fraction of it (640x480 to 300x300: about 0.2 ms against 1.7 ms)."""
    strong = source[0] >= 3 * target[0] or source[1] >= 3 * target[1]
    return int(cv2.INTER_AREA if strong else cv2.INTER_LINEAR)


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


def affine_coefficients(lut: npt.NDArray[Any]) -> tuple[float, float] | None:
    """(alpha, gamma) with lut[p] == alpha * p + gamma to float32 rounding, or None.

    Only float32 tables qualify: they are what (pixel - mean) / std gives a float model.
    """
    if lut.dtype != np.float32 or lut.shape != (256,):
        return None
    table = lut.astype(np.float64)
    gamma = float(table[0])
    alpha = float(table[255] - table[0]) / 255.0
    error = np.abs(alpha * np.arange(256, dtype=np.float64) + gamma - table)
    tolerance = 4.0 * float(np.finfo(np.float32).eps) * max(1.0, float(np.abs(table).max()))
    if not np.all(error <= tolerance):
        return None
    return alpha, gamma


def converter(lut: npt.NDArray[Any], cv2: Any | None) -> tuple[str, Convert]:
    """The fastest exact-enough way to apply `lut`, and its name ('copy', 'affine', 'lookup').

    'affine' differs from the table by float32 rounding only; the others are exact.
    `cv2` is the OpenCV module, or None for numpy only.
    """
    if lut.dtype == np.uint8 and np.array_equal(lut, np.arange(256, dtype=np.uint8)):
        return "copy", _copy
    coefficients = affine_coefficients(lut)
    if coefficients is not None:
        alpha, gamma = coefficients
        if cv2 is not None:
            depth = cv2.CV_32F

            def affine_cv2(src: Image, out: npt.NDArray[Any]) -> object:
                return cv2.addWeighted(src, alpha, src, 0.0, gamma, dst=out, dtype=depth)

            return "affine", affine_cv2
        a32, g32 = np.float32(alpha), np.float32(gamma)

        def affine_numpy(src: Image, out: npt.NDArray[Any]) -> object:
            np.copyto(out, src)
            np.multiply(out, a32, out=out)
            return np.add(out, g32, out=out)

        return "affine", affine_numpy
    if cv2 is not None:

        def lookup_cv2(src: Image, out: npt.NDArray[Any]) -> object:
            return cv2.LUT(src, lut, dst=out)

        return "lookup", lookup_cv2

    def lookup_numpy(src: Image, out: npt.NDArray[Any]) -> object:
        return np.take(lut, src, out=out, mode="clip")

    return "lookup", lookup_numpy


def _copy(src: Image, out: npt.NDArray[Any]) -> object:
    np.copyto(out, src)
    return out


class Preprocessor:
    """Turns RGB frames into the model's input tensor, written in place.

    `use_cv2=None` uses OpenCV when importable; False forces numpy only. `conversion`
    names the pass that applies the table: 'copy', 'affine' or 'lookup' (see `converter`).
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
        self._dtype = np.dtype(dtype)
        self._pad_value = lut[PAD_PIXEL]
        self._cv2 = None if use_cv2 is False else _cv2()
        if use_cv2 and self._cv2 is None:
            raise ImportError("OpenCV was requested but cv2 is not importable")
        self.conversion, self._convert = converter(lut, self._cv2)
        self._buffer: npt.NDArray[Any] | None = None
        self._placement: Placement | None = None
        self._padded: tuple[int, Placement] | None = None
        self._resized: Image = np.empty((0, 0, 3), np.uint8)

    @property
    def uses_cv2(self) -> bool:
        return self._cv2 is not None

    @property
    def buffer(self) -> npt.NDArray[Any]:
        """The [1, H, W, 3] array filled when `__call__` gets no `out` (made on first use)."""
        if self._buffer is None:
            w, h = self.input_size
            self._buffer = np.empty((1, h, w, 3), dtype=self._dtype)
        return self._buffer

    def __call__(self, image: Image, out: npt.NDArray[Any] | None = None) -> Placement:
        """Fill `out` (default: `self.buffer`) from an (H, W, 3) uint8 RGB image.

        `out` is a writable [1, H, W, 3] array of the input's size and dtype whose contents
        persist between calls: letterbox padding is written only when the placement or the
        array's memory changes. Returns where the image went.
        """
        target = self.buffer if out is None else out
        frame_size = (int(image.shape[1]), int(image.shape[0]))
        placement = self._placement
        if placement is None or placement.frame_size != frame_size:
            placement = Placement.fit(frame_size, self.input_size, self.mode)
            self._placement = placement
            _, _, w, h = placement.content
            self._resized = np.empty((h, w, 3), np.uint8)
        if placement.padded:
            address = int(target.__array_interface__["data"][0])
            padded = self._padded
            if padded is None or padded[1] is not placement or padded[0] != address:
                target[...] = self._pad_value
                self._padded = (address, placement)
        x, y, w, h = placement.content
        self._convert(self._resize(image, w, h), target[0, y : y + h, x : x + w])
        return placement

    def _resize(self, image: Image, width: int, height: int) -> Image:
        if image.shape[1] == width and image.shape[0] == height:
            return image
        if self._cv2 is not None:
            cv2 = self._cv2
            how = interpolation(cv2, (image.shape[1], image.shape[0]), (width, height))
            out: Image = cv2.resize(image, (width, height), dst=self._resized, interpolation=how)
            return out
        return resize_numpy(image, width, height)
