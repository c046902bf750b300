"""The background the page serves: the street without its people, on composed footage.

The footage is real people (photos) walking over a real empty street (see scene.py), so
the true background is known to the pixel. The served image is the PNG the page gets.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.config import parse_config
from edge.detections import Detections
from edge.frames import Frame
from edge.setup.background import (
    BLANK,
    BackgroundSettings,
    MaskedMedian,
    _band_median,
    clean,
    page_size,
)
from edge.setup.session import SetupSession
from tests.setup import scene

CONFIG = parse_config(
    {
        "sensor": {"id": "street"},
        "lines": [{"name": "door", "points": [[0.5, 0.6], [0.5, 1.0]], "inside": [0.6, 0.8]}],
    }
)


def served(detector, frames) -> tuple[np.ndarray, SetupSession]:
    session = SetupSession(None, detector, CONFIG, refresh_seconds=1e9)
    for index, image in enumerate(frames):
        session.step(Frame(image, index, index * scene.FRAME_SECONDS))
    png = session.refresh().png
    decoded = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB), session


def people(detector, image) -> Detections:
    found = detector.detect(Frame(image, 0, 0.0))
    return found[found.score >= BackgroundSettings().blank_score]


@pytest.fixture(scope="module")
def moving(detector) -> tuple[np.ndarray, SetupSession]:
    """The served background and the session after 100 frames of walkers (25 s)."""
    return served(detector, scene.frames(100))


def test_walkers_vanish_and_the_street_is_exact(detector, moving):
    footage = scene.frames(100)
    found = [len(people(detector, footage[i])) for i in (30, 50, 70)]
    assert all(found), f"the detector sees the people in the scene: {found}"
    image, session = moving
    assert len(people(detector, image)) == 0
    error = np.abs(image.astype(np.int16) - scene.street()).max(axis=2)
    assert error.mean() < 0.5, f"mean error {error.mean():.2f} grey levels"
    assert (error > 10).mean() < 0.002
    background = session.background
    assert background is not None and background.unseen_share == 0.0


def test_a_person_standing_still_all_the_time_is_blanked(detector):
    image, session = served(detector, scene.frames(100, still=True))
    assert len(people(detector, image)) == 0
    left, top, right, bottom = scene.still_box()
    region = image[top:bottom, left:right]
    assert (region == BLANK).all(), f"{(region != BLANK).mean():.1%} of the person not blanked"
    background = session.background
    assert background is not None and background.unseen_share > 0.02
    outside = np.ones(image.shape[:2], bool)
    outside[top - 60 : bottom + 60, left - 60 : right + 60] = False
    error = np.abs(image.astype(np.int16) - scene.street()).max(axis=2)
    assert error[outside].mean() < 0.5


def test_the_preview_counts_the_walkers_on_the_line_as_drawn(moving):
    _, session = moving
    view = session.view
    # the truth, from the motion: walker 0 goes right (in), walkers 1 and 2 go left (out)
    assert view.lines == {"door": (1, 2)}
    assert view.dots == tuple(sorted(view.dots))


def test_dots_are_rounded_feet_where_people_stand(detector):
    session = SetupSession(None, detector, CONFIG, refresh_seconds=1e9)
    shown = 0
    for index, image in enumerate(scene.frames(90)):
        session.step(Frame(image, index, index * scene.FRAME_SECONDS))
        dots, truth = session.view.dots, scene.feet(index)
        shown += len(dots)
        assert dots == tuple(sorted(dots))  # the order carries no identity
        for x, y in dots:
            assert round(x, 3) == x and round(y, 3) == y
            nearest = min(np.hypot(x - tx, y - ty) for tx, ty in truth)
            assert nearest < 0.08, f"frame {index}: dot {x, y} is nobody's feet ({truth})"
    assert shown >= 60, f"only {shown} dots over 90 frames"
    assert set(vars(session.view)) == {"dots", "lines", "zones"}


@settings(max_examples=40, deadline=None)
@given(
    st.integers(3, 9),
    st.integers(0, 2**32 - 1),
)
def test_the_band_median_is_the_median_of_the_free_samples(n, seed):
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (n, 4, 5, 3), dtype=np.uint8)
    pixels[:, 0, 0] = 255  # free samples of 255 tie with masked ones
    free = rng.random((n, 4, 5)) < 0.6
    got, unseen = _band_median(pixels, free, least=2)
    for y in range(4):
        for x in range(5):
            samples = pixels[free[:, y, x], y, x]
            if len(samples) < 2:
                assert unseen[y, x] and (got[y, x] == BLANK).all()
                continue
            expected = np.sort(samples, axis=0)[(len(samples) - 1) // 2]
            assert (got[y, x] == expected).all()


def test_memory_is_the_stated_bound():
    config = BackgroundSettings()
    median = MaskedMedian(config)
    held = median._pixels.nbytes + median._free.nbytes
    assert held == config.memory_bytes == 24 * 640 * 480 * 4


def test_a_frame_of_the_wrong_size_is_refused():
    median = MaskedMedian(BackgroundSettings())
    with pytest.raises(ValueError, match="640"):
        median.offer(np.zeros((10, 10, 3), np.uint8), Detections.empty(), 0.0)


@pytest.mark.parametrize(
    ("input_size", "page"),
    [
        ((300, 300), (480, 480)),
        ((320, 320), (480, 480)),
        ((640, 480), (640, 480)),
        ((640, 360), (640, 360)),
        ((224, 288), (373, 480)),
    ],
)
def test_the_page_has_the_detector_aspect_within_640x480(input_size, page):
    assert page_size(input_size) == page
    assert BackgroundSettings(*page).memory_bytes <= BackgroundSettings().memory_bytes


def test_a_person_left_in_the_median_is_blanked_by_the_final_check(detector):
    image = scene.street()
    patch = scene.cutouts(200)[0]
    scene.paste(image, patch, 300, 440)
    assert len(people(detector, image)) == 1
    settings = BackgroundSettings()
    cleaned = clean(image, np.zeros(image.shape[:2], bool), detector, settings)
    assert cleaned.blanked_regions >= 1
    assert len(people(detector, cleaned.image)) == 0
    assert (cleaned.image[440 - 200 : 440, 300 : 300 + patch.shape[1]] == BLANK).all()
    untouched = np.ones(image.shape[:2], bool)
    untouched[440 - 260 : 480, 300 - 60 : 300 + patch.shape[1] + 60] = False
    assert (cleaned.image[untouched] == image[untouched]).all()
