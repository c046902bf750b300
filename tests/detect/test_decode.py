"""Decoders and NMS on hand-made tensors: SSD, YOLO in both orientations, quantized outputs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.detect.decode import decode_ssd, decode_ssd_to_frame, decode_yolo, nms
from edge.detect.preprocess import Placement
from edge.detect.runtime import TensorSpec, dequantize
from edge.geometry import iou_matrix

# --- NMS -----------------------------------------------------------------------------


def test_nms_keeps_the_best_of_overlapping_boxes_and_separate_ones() -> None:
    xyxy = np.array(
        [[0.1, 0.1, 0.3, 0.5], [0.11, 0.1, 0.31, 0.5], [0.6, 0.1, 0.8, 0.5]], np.float32
    )
    score = np.array([0.7, 0.9, 0.5], np.float32)
    assert nms(xyxy, score, 0.5).tolist() == [1, 2]


def test_nms_keeps_overlaps_at_or_below_the_threshold() -> None:
    # IoU of these two is exactly 1/3.
    xyxy = np.array([[0.0, 0.0, 0.2, 0.2], [0.1, 0.0, 0.3, 0.2]], np.float32)
    score = np.array([0.9, 0.8], np.float32)
    assert nms(xyxy, score, 0.4).tolist() == [0, 1]
    assert nms(xyxy, score, 0.3).tolist() == [0]


def test_nms_of_nothing_is_nothing() -> None:
    assert nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), 0.5).size == 0


boxes = st.lists(
    st.tuples(st.floats(0, 0.8), st.floats(0, 0.8), st.floats(0.01, 0.2), st.floats(0.01, 0.2)),
    min_size=1,
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(boxes, st.floats(0.1, 0.9))
def test_nms_leaves_no_overlap_above_threshold_and_explains_every_drop(
    raw: list[tuple[float, float, float, float]], threshold: float
) -> None:
    xyxy = np.array([[x, y, x + w, y + h] for x, y, w, h in raw], np.float32)
    score = np.linspace(0.1, 0.9, len(raw)).astype(np.float32)
    kept = nms(xyxy, score, threshold)
    overlaps = iou_matrix(xyxy[kept], xyxy[kept])
    np.fill_diagonal(overlaps, 0.0)
    assert np.all(overlaps <= threshold + 1e-6)
    dropped = np.setdiff1d(np.arange(len(raw)), kept)
    if dropped.size:
        against_kept = iou_matrix(xyxy[dropped], xyxy[kept])
        assert np.all(against_kept.max(axis=1) > threshold - 1e-6)
    assert np.all(np.diff(score[kept]) <= 0)


# --- SSD -----------------------------------------------------------------------------

SSD_BOXES = np.array(
    [[[0.1, 0.2, 0.9, 0.4], [0.3, 0.6, 0.8, 0.9], [0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]]],
    np.float32,
)
SSD_CLASSES = np.array([[0, 0, 1, 0]], np.float32)
SSD_SCORES = np.array([[0.85, 0.35, 0.9, 0.7]], np.float32)
SSD_COUNT = np.array([3], np.float32)


def test_ssd_swaps_yx_to_xy_filters_class_and_score_and_ignores_rows_past_count() -> None:
    xyxy, score = decode_ssd(
        SSD_BOXES, SSD_CLASSES, SSD_SCORES, SSD_COUNT, person_class=0, min_score=0.2
    )
    np.testing.assert_allclose(xyxy, [[0.2, 0.1, 0.4, 0.9], [0.6, 0.3, 0.9, 0.8]])
    np.testing.assert_allclose(score, [0.85, 0.35])


def test_ssd_threshold_is_inclusive_and_drops_lower_scores() -> None:
    _, score = decode_ssd(
        SSD_BOXES, SSD_CLASSES, SSD_SCORES, SSD_COUNT, person_class=0, min_score=0.85
    )
    np.testing.assert_allclose(score, [0.85])


def test_ssd_other_person_class_id_selects_that_class() -> None:
    xyxy, score = decode_ssd(
        SSD_BOXES, SSD_CLASSES, SSD_SCORES, SSD_COUNT, person_class=1, min_score=0.2
    )
    np.testing.assert_allclose(xyxy, [[0.0, 0.0, 0.5, 0.5]])
    np.testing.assert_allclose(score, [0.9])


def test_ssd_recognises_class_and_score_tensors_given_in_the_other_order() -> None:
    straight = decode_ssd(
        SSD_BOXES, SSD_CLASSES, SSD_SCORES, SSD_COUNT, person_class=0, min_score=0.2
    )
    swapped = decode_ssd(
        SSD_BOXES, SSD_SCORES, SSD_CLASSES, SSD_COUNT, person_class=0, min_score=0.2
    )
    np.testing.assert_allclose(swapped[0], straight[0])
    np.testing.assert_allclose(swapped[1], straight[1])


def test_ssd_with_zero_count_finds_nothing() -> None:
    xyxy, score = decode_ssd(
        SSD_BOXES, SSD_CLASSES, SSD_SCORES, np.zeros(1, np.float32), person_class=0, min_score=0.0
    )
    assert xyxy.shape == (0, 4)
    assert score.shape == (0,)


# --- YOLO ----------------------------------------------------------------------------

SIZE = 64
# cx, cy, w, h (input pixels), person score, other-class score
ROWS = np.array(
    [
        [16, 32, 16, 32, 0.90, 0.05],
        [17, 33, 16, 32, 0.80, 0.05],  # duplicate of the first
        [48, 32, 12, 24, 0.60, 0.10],
        [48, 16, 8, 8, 0.10, 0.95],  # the other class
        [32, 56, 10, 10, 0.30, 0.00],
        [32, 8, 10, 10, 0.10, 0.00],
    ],
    np.float32,
)
EXPECTED_XYXY = np.array(
    [[8, 16, 24, 48], [42, 20, 54, 44], [27, 51, 37, 61]], np.float32
) / np.float32(SIZE)
EXPECTED_SCORE = np.array([0.9, 0.6, 0.3], np.float32)


def _yolo(rows: np.ndarray, channels_first: bool, **kwargs: float) -> tuple[np.ndarray, ...]:
    tensor = rows.T[None] if channels_first else rows[None]
    options = {"person_class": 0, "min_score": 0.2, "nms_iou": 0.5} | kwargs
    return decode_yolo(
        tensor,
        channels_first=channels_first,
        person_class=int(options["person_class"]),
        min_score=options["min_score"],
        nms_iou=options["nms_iou"],
        input_size=(SIZE, SIZE),
    )


@pytest.mark.parametrize("channels_first", [True, False])
@pytest.mark.parametrize("normalized", [False, True])
def test_yolo_both_orientations_pixels_or_normalized_give_the_same_persons(
    channels_first: bool, normalized: bool
) -> None:
    rows = ROWS.copy()
    if normalized:
        rows[:, :4] /= SIZE
    xyxy, score = _yolo(rows, channels_first)
    np.testing.assert_allclose(xyxy, EXPECTED_XYXY, atol=1e-6)
    np.testing.assert_allclose(score, EXPECTED_SCORE)


def test_yolo_nms_threshold_decides_whether_the_duplicate_survives() -> None:
    # IoU of the first two rows is about 0.83.
    _, strict = _yolo(ROWS, True, nms_iou=0.9)
    np.testing.assert_allclose(strict, [0.9, 0.8, 0.6, 0.3])


def test_yolo_score_threshold_and_class_id() -> None:
    _, high = _yolo(ROWS, True, min_score=0.5)
    np.testing.assert_allclose(high, [0.9, 0.6])
    xyxy, other = _yolo(ROWS, True, person_class=1, min_score=0.5)
    np.testing.assert_allclose(other, [0.95])
    np.testing.assert_allclose(xyxy, [[44 / 64, 12 / 64, 52 / 64, 20 / 64]], atol=1e-6)


def test_yolo_with_nothing_above_threshold_is_empty() -> None:
    xyxy, score = _yolo(ROWS, False, min_score=0.99)
    assert xyxy.shape == (0, 4)
    assert score.shape == (0,)


# --- quantized outputs ---------------------------------------------------------------


def test_quantized_output_is_dequantized_with_its_scale_and_zero_point() -> None:
    spec = TensorSpec(0, "out", (1, 4), np.dtype(np.int8), scale=0.5, zero_point=-128)
    values = np.array([[-128, -127, 0, 127]], np.int8)
    np.testing.assert_allclose(dequantize(values, spec), [[0.0, 0.5, 64.0, 127.5]])
    uint8 = TensorSpec(0, "out", (1, 2), np.dtype(np.uint8), scale=1 / 255, zero_point=0)
    np.testing.assert_allclose(
        dequantize(np.array([[0, 255]], np.uint8), uint8), [[0.0, 1.0]], atol=1e-6
    )


def test_float_output_passes_through_dequantize() -> None:
    spec = TensorSpec(0, "out", (2,), np.dtype(np.float32), scale=0.0, zero_point=0)
    values = np.array([0.25, -3.0], np.float32)
    np.testing.assert_array_equal(dequantize(values, spec), values)


def test_yolo_decodes_int8_quantized_output_after_dequantize() -> None:
    rows = ROWS.copy()
    rows[:, :4] /= SIZE
    scale, zero = 1 / 254, -127
    stored = np.clip(np.round(rows.T[None] / scale + zero), -128, 127).astype(np.int8)
    spec = TensorSpec(0, "out", stored.shape, np.dtype(np.int8), scale=scale, zero_point=zero)
    xyxy, score = decode_yolo(
        dequantize(stored, spec),
        channels_first=True,
        person_class=0,
        min_score=0.2,
        nms_iou=0.5,
        input_size=(SIZE, SIZE),
    )
    np.testing.assert_allclose(xyxy, EXPECTED_XYXY, atol=scale)
    np.testing.assert_allclose(score, EXPECTED_SCORE, atol=scale)


# --- SSD edge values and the fused decode-and-map ------------------------------------


def _ssd(
    classes: Sequence[float], scores: Sequence[float], count: float, **kwargs: float
) -> np.ndarray:
    n = len(classes)
    boxes = np.tile(np.array([0.1, 0.2, 0.5, 0.6], np.float32), (1, n, 1))
    options = {"person_class": 0, "min_score": 0.5} | kwargs
    _, score = decode_ssd(
        boxes,
        np.array([classes], np.float32),
        np.array([scores], np.float32),
        np.array([count], np.float32),
        person_class=int(options["person_class"]),
        min_score=options["min_score"],
    )
    return score


def test_ssd_count_is_rounded_half_to_even_and_clipped_to_the_rows() -> None:
    classes, scores = [0, 0, 0, 0], [0.9, 0.8, 0.7, 0.6]
    assert _ssd(classes, scores, 2.5).size == 2
    assert _ssd(classes, scores, 1.5).size == 2
    assert _ssd(classes, scores, 99.0).size == 4
    assert _ssd(classes, scores, np.inf).size == 4
    assert _ssd(classes, scores, -3.0).size == 0


def test_ssd_classes_round_half_to_even_and_odd_values_never_raise() -> None:
    score = [0.9] * 6
    classes = [0.4, 0.5, 1.5, -0.5, np.nan, np.inf]  # rint: 0, 0, 2, -0, nan, inf
    np.testing.assert_array_equal(_ssd(classes, score, 6), [np.float32(0.9)] * 3)
    assert _ssd(classes, score, 6, person_class=2).size == 1
    assert _ssd(classes, score, 6, person_class=1).size == 0


def test_ssd_threshold_compares_in_float32_like_numpy() -> None:
    # float32(0.7) is just below 0.7: numpy compares a float32 array with 0.7 in float32.
    assert float(np.float32(0.7)) < 0.7
    score = np.float32(0.7)
    assert bool(np.array([score]) >= 0.7)
    np.testing.assert_array_equal(_ssd([0], [score], 1, min_score=0.7), [score])
    assert _ssd([0], [np.nextafter(score, np.float32(0))], 1, min_score=0.7).size == 0


def test_ssd_infinite_classes_count_as_whole_numbers_when_telling_the_order() -> None:
    # Scores of 1.0 and an inf class: both tensors "integral", so no swap happens.
    np.testing.assert_array_equal(_ssd([np.inf, 0], [1.0, 1.0], 2), [1.0])


def _reference(
    tensors: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    placement: Placement,
    person_class: int,
    min_score: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The decode of before the fused path: decode_ssd, to_frame, drop empty boxes."""
    xyxy, score = decode_ssd(*tensors, person_class=person_class, min_score=min_score)
    mapped = placement.to_frame(xyxy)
    valid = (mapped[:, 2] > mapped[:, 0]) & (mapped[:, 3] > mapped[:, 1])
    return mapped[valid], score[valid]


@pytest.mark.parametrize("seed", range(30))
def test_fused_ssd_decode_equals_decode_then_to_frame(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    corner = rng.uniform(-0.1, 0.9, (1, n, 2)).astype(np.float32)
    size = rng.uniform(0.005, 0.5, (1, n, 2)).astype(np.float32)
    size[0, rng.random(n) < 0.1] = 0.0  # some empty boxes
    boxes = np.concatenate([corner, corner + size], axis=2)
    classes = rng.integers(0, 3, (1, n)).astype(np.float32)
    scores = rng.random((1, n), dtype=np.float32)
    if seed % 3 == 0:
        classes, scores = scores, classes  # the export's other output order
    count = np.array([rng.integers(0, n + 1)], np.float32)
    frame = (int(rng.integers(50, 2000)), int(rng.integers(50, 2000)))
    placement = Placement.fit(frame, (300, 300), "letterbox" if seed % 2 else "stretch")
    person_class, min_score = int(rng.integers(0, 3)), float(rng.random())
    tensors = (boxes, classes, scores, count)
    want_xyxy, want_score = _reference(tensors, placement, person_class, min_score)
    xyxy, score = decode_ssd_to_frame(
        *tensors,
        person_class=person_class,
        min_score=min_score,
        scale=placement.frame_scale,
        offset=placement.frame_offset,
    )
    assert xyxy.dtype == np.float32
    assert score.dtype == np.float32
    assert xyxy.shape == want_xyxy.shape
    # The reference maps in float32 with a float32 scale; the error grows with the scale.
    ulp = float(np.finfo(np.float32).eps) * max(1.0, *placement.frame_scale)
    np.testing.assert_allclose(xyxy, want_xyxy, rtol=0, atol=4 * ulp)
    np.testing.assert_array_equal(score, want_score)


def test_fused_ssd_decode_drops_boxes_in_the_letterbox_padding() -> None:
    placement = Placement.fit((640, 480), (300, 300), "letterbox")  # rows 37..262 hold it
    boxes = np.array([[[0.0, 0.1, 0.1, 0.3], [0.2, 0.1, 0.6, 0.3]]], np.float32)
    xyxy, score = decode_ssd_to_frame(
        boxes,
        np.zeros((1, 2), np.float32),
        np.array([[0.9, 0.8]], np.float32),
        np.array([2], np.float32),
        person_class=0,
        min_score=0.5,
        scale=placement.frame_scale,
        offset=placement.frame_offset,
    )
    np.testing.assert_array_equal(score, [np.float32(0.8)])
    np.testing.assert_allclose(xyxy, placement.to_frame(boxes[0, 1:][:, [1, 0, 3, 2]]), atol=1e-6)
