"""The shipped SSDLite person models (uint8 and fp32) on real photos.

Person regions below were drawn by hand on each photo (normalized x1, y1, x2, y2); the
assertions are robust facts of what the models do, measured first: every person found
with score >= 0.5 where a person is, and nothing at 0.5 where nobody is.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
from skimage import data

from edge.config import DetectorConfig
from edge.detect import TfliteDetector, load_detector, resolve_model
from edge.detections import Detections
from tests.detect.helpers import frame, iou, sample_rgb

Image = npt.NDArray[np.uint8]

PEOPLE: dict[str, tuple[Callable[[], Image], list[list[float]]]] = {
    "astronaut": (data.astronaut, [[0.0, 0.02, 0.75, 1.0]]),
    "camera": (lambda: np.stack([data.camera()] * 3, axis=-1), [[0.0, 0.12, 0.6, 1.0]]),
    "person.jpg": (lambda: sample_rgb("person.jpg"), [[0.28, 0.22, 0.44, 0.9]]),
    "basketball1.png": (
        lambda: sample_rgb("basketball1.png"),
        [[0.03, 0.16, 0.26, 1.0], [0.68, 0.03, 1.0, 1.0]],
    ),
}
NOBODY: dict[str, Callable[[], Image]] = {
    "coffee": data.coffee,
    "rocket": data.rocket,
    "chelsea (a cat)": data.chelsea,
    "flat grey": lambda: np.full((480, 640, 3), 128, np.uint8),
    "black": lambda: np.zeros((300, 300, 3), np.uint8),
}
MODELS = ["default", "default-fp32"]


@pytest.fixture(scope="module", params=MODELS)
def detector(request: pytest.FixtureRequest) -> TfliteDetector:
    found = load_detector(DetectorConfig(model=request.param, threads=2))
    assert isinstance(found, TfliteDetector)
    return found


def _valid(found: Detections) -> None:
    assert found.xyxy.dtype == np.float32
    assert np.all(found.xyxy >= 0.0)
    assert np.all(found.xyxy <= 1.0)
    assert np.all(found.xyxy[:, 2] > found.xyxy[:, 0])
    assert np.all(found.xyxy[:, 3] > found.xyxy[:, 1])


def test_shipped_models_are_ssd_and_named(detector: TfliteDetector) -> None:
    assert detector.input_size == (300, 300)
    assert detector.model_name in ("ssdlite_person_uint8.tflite", "ssdlite_person_fp32.tflite")
    assert len(detector.model_sha256) == 64


@pytest.mark.parametrize("photo", list(PEOPLE))
def test_every_person_is_found_at_0_5_where_they_are(detector: TfliteDetector, photo: str) -> None:
    load, people = PEOPLE[photo]
    found = detector.detect(frame(load()))
    _valid(found)
    confident = found[found.score >= 0.5]
    assert len(confident) == len(people)
    for region in people:
        assert max(iou(box, region) for box in confident.xyxy) >= 0.7
    assert np.all(found.score >= 0.2)  # low_score_threshold: the tracker's low band


@pytest.mark.parametrize("photo", list(NOBODY))
def test_nobody_is_found_in_photos_without_people(detector: TfliteDetector, photo: str) -> None:
    found = detector.detect(frame(NOBODY[photo]()))
    _valid(found)
    assert not np.any(found.score >= 0.5)


def test_uint8_and_fp32_agree_on_where_people_are() -> None:
    uint8 = load_detector(DetectorConfig(model="default", threads=2))
    fp32 = load_detector(DetectorConfig(model="default-fp32", threads=2))
    for load, _ in PEOPLE.values():
        image = frame(load())
        a = uint8.detect(image)
        b = fp32.detect(image)
        a, b = a[a.score >= 0.5], b[b.score >= 0.5]
        assert len(a) == len(b)
        for box in a.xyxy:
            assert max(iou(box, other) for other in b.xyxy) >= 0.8


@pytest.mark.parametrize("resize", ["letterbox", "stretch-numpy"])
def test_letterbox_and_numpy_resize_find_the_same_people(resize: str) -> None:
    config = DetectorConfig(
        model="default", threads=2, resize="letterbox" if resize == "letterbox" else "stretch"
    )
    detector = TfliteDetector(
        resolve_model("default"),
        config,
        use_cv2=False if resize == "stretch-numpy" else None,
    )
    for load, people in PEOPLE.values():
        found = detector.detect(frame(load()))
        _valid(found)
        confident = found[found.score >= 0.5]
        assert len(confident) == len(people)
        for region in people:
            assert max(iou(box, region) for box in confident.xyxy) >= 0.7
