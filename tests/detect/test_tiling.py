"""Tiling: the tile grid, the merge rules, box mapping through real models, a small
person in a wide scene that only the tiled pass finds, and the sensor saying when tiles
find no one the full frame missed."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from edge.config import DetectorConfig, TilingConfig
from edge.detect import TfliteDetector, TiledDetector, resolve_model
from edge.detect.tiling import TileYield, merge, tile_grid
from tests.detect.helpers import fixture_model, frame, iou, sample_rgb
from tests.detect.test_real_models import PEOPLE


@pytest.mark.parametrize(
    ("size", "rows", "cols", "overlap"),
    [((1800, 600), 1, 3, 0.2), ((640, 480), 2, 2, 0.25), ((1001, 333), 3, 4, 0.1)],
)
def test_tiles_are_equal_overlap_as_asked_and_cover_the_frame(
    size: tuple[int, int], rows: int, cols: int, overlap: float
) -> None:
    grid = tile_grid(size, rows, cols, overlap)
    assert len(grid) == rows * cols
    covered = np.zeros((size[1], size[0]), bool)
    for x, y, w, h in grid:
        assert x >= 0
        assert y >= 0
        assert x + w <= size[0]
        assert y + h <= size[1]
        covered[y : y + h, x : x + w] = True
    assert covered.all()
    first, second = grid[0], grid[1]
    assert second[0] - first[0] == pytest.approx(first[2] * (1 - overlap), abs=1.5)
    assert len({(w, h) for _, _, w, h in grid}) == 1


def test_one_by_one_is_the_whole_frame() -> None:
    assert tile_grid((640, 480), 1, 1, 0.2) == [(0, 0, 640, 480)]


def _merge_case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xyxy = np.array(
        [
            [0.10, 0.10, 0.40, 0.90],  # a whole person
            [0.10, 0.10, 0.40, 0.50],  # the top half of the same person, cut by a tile edge
            [0.20, 0.60, 0.30, 0.85],  # a small person in front, not cut
            [0.60, 0.10, 0.80, 0.60],  # another person, cut, alone
            [0.61, 0.10, 0.81, 0.60],  # the same one from a neighbouring tile
        ],
        np.float32,
    )
    score = np.array([0.9, 0.8, 0.7, 0.6, 0.65], np.float32)
    cut = np.array([False, True, False, True, False])
    return xyxy, score, cut


def test_merge_without_full_frame_drops_pieces_inside_larger_boxes_only() -> None:
    xyxy, score, cut = _merge_case()
    kept = merge(xyxy, score, cut, 0.5, drop_cut=False)
    assert kept.tolist() == [0, 2, 4]


def test_merge_with_full_frame_drops_every_cut_box() -> None:
    xyxy, score, cut = _merge_case()
    cut[4] = True
    assert merge(xyxy, score, cut, 0.5, drop_cut=True).tolist() == [0, 2]


def test_tiles_map_boxes_to_whole_frame_coordinates() -> None:
    # The fixture returns the same boxes in input pixels whatever it sees: each 64x64
    # tile of a 112x64 frame gives A (8..24, 16..48), B (42..54, 20..44) and a low one
    # (27..37, 51..61), shifted by its tile's offset (0 and 48 pixels).
    inner = TfliteDetector(fixture_model("yolo_cf_pixels.tflite"), DetectorConfig())
    tiled = TiledDetector(
        inner, TilingConfig(rows=1, cols=2, overlap=0.25), nms_iou=0.5, full_frame=False
    )
    assert tiled.input_size == (112, 64)
    found = tiled.detect(frame(np.zeros((64, 112, 3), np.uint8)))
    expected = [
        ([8, 16, 24, 48], 0.9),
        ([56, 16, 72, 48], 0.9),
        ([42, 20, 54, 44], 0.6),
        ([90, 20, 102, 44], 0.6),
        ([27, 51, 37, 61], 0.3),
        ([75, 51, 85, 61], 0.3),
    ]
    scale = np.array([112, 64, 112, 64], np.float32)
    got = sorted(zip(found.xyxy.tolist(), found.score.tolist(), strict=True))
    want = sorted((list(np.array(b) / scale), s) for b, s in expected)
    assert len(got) == len(want)
    for (box, score), (box_w, score_w) in zip(got, want, strict=True):
        np.testing.assert_allclose(box, box_w, atol=1e-4)
        assert score == pytest.approx(score_w, abs=1e-4)


@pytest.fixture(scope="module", params=["default", "default-fp32"])
def inner(request: pytest.FixtureRequest) -> TfliteDetector:
    return TfliteDetector(resolve_model(request.param), DetectorConfig(threads=2))


def small_person_scene(
    canvas: tuple[int, int], scale: float, at: tuple[int, int]
) -> tuple[np.ndarray, list[float]]:
    """person.jpg shrunk onto a grey canvas, and the person's region on it."""
    import cv2

    photo = sample_rgb("person.jpg")
    small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    width, height = canvas
    image = np.full((height, width, 3), 120, np.uint8)
    x, y = at
    h, w = small.shape[:2]
    image[y : y + h, x : x + w] = small
    # The person's hand-drawn region in person.jpg, carried onto the canvas.
    region = [
        (x + 0.28 * w) / width,
        (y + 0.22 * h) / height,
        (x + 0.44 * w) / width,
        (y + 0.9 * h) / height,
    ]
    return image, region


@pytest.mark.parametrize(
    ("canvas", "scale", "at"), [((1800, 600), 0.6, (800, 200)), ((1200, 400), 0.4, (400, 200))]
)
def test_a_small_person_in_a_wide_scene_is_found_only_by_tiles(
    inner: TfliteDetector, canvas: tuple[int, int], scale: float, at: tuple[int, int]
) -> None:
    # Placed so the person is whole inside one tile and away from its edges (a person on a
    # tile edge is left to the neighbouring tile, whose view is then the one that counts).
    image, region = small_person_scene(canvas, scale, at)
    whole = inner.detect(frame(image))
    assert not np.any(whole.score >= 0.5)
    tiled = TiledDetector(inner, TilingConfig(rows=1, cols=3, overlap=0.2), nms_iou=0.5)
    found = tiled.detect(frame(image))
    confident = found[found.score >= 0.5]
    assert len(confident) == 1
    assert iou(confident.xyxy[0], region) >= 0.7


@pytest.mark.parametrize("overlap", [0.2, 0.4])
def test_tiling_with_the_full_frame_does_not_count_pieces_of_large_people(
    inner: TfliteDetector, overlap: float
) -> None:
    tiled = TiledDetector(inner, TilingConfig(rows=2, cols=2, overlap=overlap), nms_iou=0.5)
    for load, people in PEOPLE.values():
        found = tiled.detect(frame(load()))
        confident = found[found.score >= 0.5]
        assert len(confident) == len(people)
        for region in people:
            assert max(iou(box, region) for box in confident.xyxy) >= 0.7


def judged(caplog: pytest.LogCaptureFixture, tiled: TiledDetector, images: list[np.ndarray]) -> str:
    """What the tiling log said after the images went through `tiled` twice."""
    with caplog.at_level(logging.INFO, logger="edge.detect.tiling"):
        for image in images * 2:
            tiled.detect(frame(image))
    return "\n".join(f"{r.levelname} {r.getMessage()}" for r in caplog.records)


def test_the_sensor_says_once_when_tiles_find_no_one_the_full_frame_missed(
    inner: TfliteDetector, caplog: pytest.LogCaptureFixture
) -> None:
    images = [load() for load, _ in PEOPLE.values()]  # large people: the full frame finds all
    judge = TileYield(5, 0.5, 0.5, people=5)
    tiled = TiledDetector(inner, TilingConfig(rows=2, cols=2), nms_iou=0.5, judge=judge)
    said = judged(caplog, tiled, images)
    assert judge.judged
    assert said.count("WARNING") == 1
    assert "at 5 model passes a frame; set [detector.tiles] rows = 1 and cols = 1" in said


def test_the_sensor_keeps_quiet_when_tiles_find_small_far_people(
    inner: TfliteDetector, caplog: pytest.LogCaptureFixture
) -> None:
    image, _ = small_person_scene((1800, 600), 0.6, (800, 200))
    judge = TileYield(4, 0.5, 0.5, people=2)
    tiled = TiledDetector(inner, TilingConfig(rows=1, cols=3), nms_iou=0.5, judge=judge)
    said = judged(caplog, tiled, [image])
    assert judge.judged
    assert "WARNING" not in said
    assert "the tiles find people the full frame misses" in said


def test_load_detector_judges_tiling_only_when_tiles_are_on() -> None:
    from edge.detect import load_detector

    tiled = load_detector(DetectorConfig(tiles=TilingConfig(rows=2, cols=2)))
    assert isinstance(tiled, TiledDetector)
    assert isinstance(tiled._judge, TileYield)
    assert not isinstance(load_detector(DetectorConfig()), TiledDetector)
