"""Resizing (stretch, letterbox), the input lookup table, and the reused input buffer."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from skimage import data

from edge.detect.preprocess import (
    PAD_PIXEL,
    Placement,
    Preprocessor,
    affine_coefficients,
    input_lut,
    interpolation,
    resize_numpy,
)


def test_stretch_fills_the_whole_input_and_maps_boxes_unchanged() -> None:
    placement = Placement.fit((640, 480), (300, 300), "stretch")
    assert placement.content == (0, 0, 300, 300)
    boxes = np.array([[0.1, 0.2, 0.5, 0.9]], np.float32)
    np.testing.assert_allclose(placement.to_frame(boxes), boxes)


def test_letterbox_centres_the_frame_and_unmaps_boxes_to_the_frame() -> None:
    placement = Placement.fit((640, 480), (300, 300), "letterbox")
    assert placement.content == (0, 37, 300, 225)  # 75 rows of padding: 37 above, 38 below
    # A box given in frame coordinates, placed in the input by hand, comes back.
    frame_box = np.array([0.25, 0.5, 0.75, 1.0])
    x, y, w, h = placement.content
    input_box = np.array(
        [
            (x + frame_box[0] * w) / 300,
            (y + frame_box[1] * h) / 300,
            (x + frame_box[2] * w) / 300,
            (y + frame_box[3] * h) / 300,
        ],
        np.float32,
    )
    np.testing.assert_allclose(placement.to_frame(input_box[None]), [frame_box], atol=1e-6)


def test_letterbox_of_a_tall_frame_pads_left_and_right() -> None:
    placement = Placement.fit((100, 400), (200, 200), "letterbox")
    assert placement.content == (75, 0, 50, 200)


def test_boxes_in_the_padding_are_clipped_to_the_frame() -> None:
    placement = Placement.fit((640, 480), (300, 300), "letterbox")
    in_padding = np.array([[0.1, 0.0, 0.3, 0.1]], np.float32)
    mapped = placement.to_frame(in_padding)
    assert mapped.min() >= 0.0
    assert mapped[0, 1] == 0.0
    assert mapped[0, 3] == 0.0


def test_float_lut_normalizes_with_mean_and_std() -> None:
    lut = input_lut(np.dtype(np.float32), 0.0, 0, 127.5, 127.5)
    assert lut.dtype == np.float32
    assert lut[0] == pytest.approx(-1.0)
    assert lut[255] == pytest.approx(1.0)
    yolo = input_lut(np.dtype(np.float32), 0.0, 0, 0.0, 255.0)
    assert yolo[255] == pytest.approx(1.0)
    assert yolo[0] == 0.0


def test_quantized_inputs_take_raw_pixels_shifted_into_their_range() -> None:
    uint8 = input_lut(np.dtype(np.uint8), 0.0078125, 128, None, None)
    np.testing.assert_array_equal(uint8, np.arange(256))
    int8 = input_lut(np.dtype(np.int8), 1 / 255, -128, None, None)
    np.testing.assert_array_equal(int8.astype(int), np.arange(256) - 128)


def test_explicit_mean_and_std_go_through_the_input_quantization() -> None:
    lut = input_lut(np.dtype(np.uint8), 1 / 128, 128, 127.5, 127.5)
    assert np.abs(lut.astype(int) - np.arange(256)).max() <= 1
    shifted = input_lut(np.dtype(np.uint8), 1 / 255, 0, 0.0, 255.0)
    np.testing.assert_array_equal(shifted, np.arange(256))


def test_a_mean_and_std_that_crush_the_input_range_are_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="edge.detect.preprocess"):
        input_lut(np.dtype(np.uint8), 1.0, 0, 127.5, 127.5)
    assert "squeeze" in caplog.text


@pytest.mark.parametrize("use_cv2", [True, False])
def test_buffer_is_allocated_once_and_letterbox_padding_is_grey(use_cv2: bool) -> None:
    lut = np.arange(256, dtype=np.uint8)
    pre = Preprocessor((300, 300), np.dtype(np.uint8), lut, "letterbox", use_cv2=use_cv2)
    assert pre.uses_cv2 is use_cv2
    buffer = pre.buffer
    image = data.astronaut()[:300]  # 512 wide, 300 tall
    placement = pre(image)
    pre(image)
    assert pre.buffer is buffer
    x, y, w, h = placement.content
    assert (x, w) == (0, 300)
    assert y > 0
    assert np.all(buffer[0, :y] == PAD_PIXEL)
    assert np.all(buffer[0, y + h :] == PAD_PIXEL)
    assert buffer[0, y : y + h].std() > 10  # the photo, not padding


def test_frame_at_input_size_is_only_looked_up() -> None:
    lut = (255 - np.arange(256)).astype(np.uint8)
    pre = Preprocessor((512, 512), np.dtype(np.uint8), lut, "stretch")
    image = data.astronaut()
    pre(image)
    np.testing.assert_array_equal(pre.buffer[0], 255 - image)


def test_numpy_resize_matches_opencv_on_a_photo() -> None:
    import cv2

    image = data.astronaut()
    for size in [(300, 300), (320, 240), (700, 600)]:
        ours = resize_numpy(image, *size).astype(int)
        assert ours.shape == (size[1], size[0], 3)
        reference = cv2.resize(image, size, interpolation=cv2.INTER_AREA).astype(int)
        assert np.abs(ours - reference).mean() < 2.0


def test_numpy_resize_keeps_a_flat_image_flat() -> None:
    flat = np.full((480, 640, 3), 77, np.uint8)
    np.testing.assert_array_equal(resize_numpy(flat, 300, 300), 77)


def test_cv2_resize_accepts_a_cropped_view() -> None:
    lut = np.arange(256, dtype=np.uint8)
    image = data.astronaut()
    crop = image[100:400, 50:450]
    assert not crop.flags.c_contiguous
    with_cv2 = Preprocessor((300, 300), np.dtype(np.uint8), lut, "stretch", use_cv2=True)
    without = Preprocessor((300, 300), np.dtype(np.uint8), lut, "stretch", use_cv2=False)
    with_cv2(crop)
    without(crop)
    assert np.abs(with_cv2.buffer.astype(int) - without.buffer).mean() < 2.0


# --- the conversion pass: copy, fused multiply-add, table lookup ----------------------

CV2_OR_NOT = pytest.mark.parametrize("use_cv2", [True, False], ids=["cv2", "numpy"])


@CV2_OR_NOT
@pytest.mark.parametrize(
    ("mean", "std"), [(127.5, 127.5), (0.0, 255.0), (0.0, 1.0), (123.675, 58.395)]
)
def test_float_inputs_are_normalized_as_the_table_says(
    use_cv2: bool, mean: float, std: float
) -> None:
    lut = input_lut(np.dtype(np.float32), 0.0, 0, mean, std)
    pre = Preprocessor((512, 512), np.dtype(np.float32), lut, use_cv2=use_cv2)
    assert pre.conversion == "affine"
    image = data.astronaut()
    image[0, :256, 0] = np.arange(256)  # every pixel value at least once
    pre(image)
    ulp = float(np.finfo(np.float32).eps) * max(1.0, float(np.abs(lut).max()))
    np.testing.assert_allclose(pre.buffer[0], lut[image], rtol=0, atol=2 * ulp)


@CV2_OR_NOT
@pytest.mark.parametrize(
    "lut",
    [
        ((np.arange(256) / 255.0) ** 2.2).astype(np.float32),  # not affine: looked up
        (np.arange(256) / 255.0).astype(np.float16),
        (255 - np.arange(256)).astype(np.uint8),
        (np.arange(256) - 128).astype(np.int8),
    ],
    ids=["float32-gamma", "float16", "uint8-inverted", "int8-raw"],
)
def test_other_tables_are_applied_exactly(use_cv2: bool, lut: np.ndarray) -> None:
    pre = Preprocessor((512, 512), lut.dtype, lut, use_cv2=use_cv2)
    assert pre.conversion == "lookup"
    image = data.astronaut()
    pre(image)
    assert pre.buffer.dtype == lut.dtype
    np.testing.assert_array_equal(pre.buffer[0], lut[image])


def test_raw_uint8_pixels_are_copied() -> None:
    pre = Preprocessor((512, 512), np.dtype(np.uint8), np.arange(256, dtype=np.uint8))
    assert pre.conversion == "copy"
    image = data.astronaut()
    pre(image)
    np.testing.assert_array_equal(pre.buffer[0], image)


def test_affine_coefficients_only_for_affine_float32_tables() -> None:
    lut = input_lut(np.dtype(np.float32), 0.0, 0, 127.5, 127.5)
    alpha, gamma = affine_coefficients(lut) or (0.0, 0.0)
    assert alpha == pytest.approx(1 / 127.5)
    assert gamma == pytest.approx(-1.0)
    bent = lut.copy()
    bent[200] += 1e-3
    assert affine_coefficients(bent) is None
    assert affine_coefficients(lut.astype(np.float16)) is None
    assert affine_coefficients(np.arange(256, dtype=np.uint8)) is None


# --- writing into a caller's array, letterbox padding across frames ----------------

SIZES = [(512, 300), (200, 400), (600, 600), (512, 300), (512, 300), (301, 300), (640, 480)]
"""Frame sizes in turn: wide, tall, square (no padding), wide again, a 1-column pad..."""


def _photo(width: int, height: int) -> np.ndarray:
    import cv2

    return np.ascontiguousarray(cv2.resize(data.astronaut(), (width, height)))


@CV2_OR_NOT
@pytest.mark.parametrize("kind", ["float32", "uint8"])
@pytest.mark.parametrize("target", ["buffer", "out"])
def test_letterbox_padding_is_right_whatever_the_previous_frame(
    use_cv2: bool, kind: str, target: str
) -> None:
    if kind == "float32":
        lut = input_lut(np.dtype(np.float32), 0.0, 0, 127.5, 127.5)
    else:
        lut = np.arange(256, dtype=np.uint8)
    pre = Preprocessor((300, 300), lut.dtype, lut, "letterbox", use_cv2=use_cv2)
    out = np.zeros((1, 300, 300, 3), lut.dtype) if target == "out" else None
    for width, height in SIZES:
        image = _photo(width, height)
        placement = pre(image, out)
        filled = pre.buffer if out is None else out
        fresh = Preprocessor((300, 300), lut.dtype, lut, "letterbox", use_cv2=use_cv2)
        assert fresh(image) == placement
        np.testing.assert_array_equal(filled, fresh.buffer, err_msg=f"{width}x{height}")
        x, y, w, h = placement.content
        pad = np.ones((300, 300), bool)
        pad[y : y + h, x : x + w] = False
        assert bool(pad.any()) is placement.padded
        assert np.all(filled[0][pad] == lut[PAD_PIXEL])


def test_padding_is_written_again_when_the_target_memory_changes() -> None:
    lut = np.arange(256, dtype=np.uint8)
    pre = Preprocessor((300, 300), np.dtype(np.uint8), lut, "letterbox")
    image = _photo(512, 300)
    first = np.zeros((1, 300, 300, 3), np.uint8)
    second = np.zeros((1, 300, 300, 3), np.uint8)
    placement = pre(image, first)
    assert placement.padded
    pre(image, second)
    np.testing.assert_array_equal(second, first)
    pre(image)  # and into its own buffer
    np.testing.assert_array_equal(pre.buffer, first)


def test_frame_scale_and_offset_are_what_to_frame_applies() -> None:
    placement = Placement.fit((640, 480), (300, 300), "letterbox")
    (sx, sy), (ox, oy) = placement.frame_scale, placement.frame_offset
    box = np.array([[0.1, 0.3, 0.6, 0.8]], np.float32)
    expected = [[0.1 * sx - ox, 0.3 * sy - oy, 0.6 * sx - ox, 0.8 * sy - oy]]
    np.testing.assert_allclose(placement.to_frame(box), expected, atol=1e-6)
    assert not Placement.fit((600, 600), (300, 300), "letterbox").padded
    assert not Placement.fit((640, 480), (300, 300), "stretch").padded


@pytest.mark.parametrize(
    ("source", "target", "area"),
    [
        ((640, 480), (300, 300), False),  # a file's frames: bilinear, 8x cheaper
        ((320, 240), (300, 300), False),
        ((1920, 1080), (300, 300), True),  # a strong shrink averages areas, not to alias
        ((900, 300), (300, 300), True),
    ],
)
def test_the_resize_rule_is_shared_by_the_reader_and_the_preprocessor(source, target, area):
    import cv2

    expected = cv2.INTER_AREA if area else cv2.INTER_LINEAR
    assert interpolation(cv2, source, target) == expected
