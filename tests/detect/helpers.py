"""Helpers of the detector tests: fixture models, real photos, the shipped models."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from edge.frames import Frame

DATA = Path(__file__).resolve().parent.parent / "data"
SAMPLES = Path(
    os.environ.get("HEADCOUNT_SAMPLES", Path.home() / ".cache" / "headcount" / "samples")
)


def fixture_model(name: str) -> Path:
    """Path of a tiny fixture model in tests/data (made by tests/data/make_fixtures.py)."""
    file = DATA / name
    assert file.is_file(), f"{file} is missing; it is committed with the tests"
    return file


def sample_rgb(name: str) -> npt.NDArray[np.uint8]:
    """A real photo from $HEADCOUNT_SAMPLES as RGB; fails (never skips) when missing."""
    import cv2

    file = SAMPLES / name
    if not file.is_file():
        pytest.fail(f"{file} is missing; run `make samples`")
    bgr = cv2.imread(str(file), cv2.IMREAD_COLOR)
    assert bgr is not None, f"{file} is not a readable image; run `make samples` again"
    return np.ascontiguousarray(bgr[:, :, ::-1])


def frame(image: npt.NDArray[np.uint8]) -> Frame:
    return Frame(np.ascontiguousarray(image), 0, 0.0)


def iou(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    ax1, ay1, ax2, ay2 = np.asarray(a, np.float64)
    bx1, by1, bx2, by2 = np.asarray(b, np.float64)
    inter = max(0.0, min(ax2, bx2) - max(ax1, bx1)) * max(0.0, min(ay2, by2) - max(ay1, by1))
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    return float(inter / union)
