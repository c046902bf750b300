"""Fixtures of the setup tests: the real detector, built once."""

from __future__ import annotations

import pytest

from edge.config import DetectorConfig
from edge.detect import load_detector
from edge.detections import Detector


@pytest.fixture(scope="session")
def detector() -> Detector:
    """The shipped uint8 model, reporting people down to the blanking threshold (0.2)."""
    return load_detector(DetectorConfig(threads=2, low_score_threshold=0.2))
