import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.geometry import iou_matrix, points_in_polygon, segment_parameter, signed_distance

unit = st.floats(0.0, 1.0, allow_nan=False)


def test_signed_distance_sign_and_magnitude():
    d = signed_distance(np.array([[0.5, 0.7], [0.5, 0.3], [0.2, 0.5]]), (0.0, 0.5), (1.0, 0.5))
    assert d == pytest.approx([0.2, -0.2, 0.0])


def test_segment_parameter_inside_outside_and_parallel():
    u = segment_parameter(
        [[0.5, 0.0], [1.5, 0.0], [0.0, 0.2]],
        [[0.5, 1.0], [1.5, 1.0], [1.0, 0.2]],
        (0.0, 0.5),
        (1.0, 0.5),
    )
    assert u[0] == pytest.approx(0.5)
    assert u[1] == pytest.approx(1.5)
    assert np.isnan(u[2])


@pytest.mark.parametrize(
    ("point", "inside"),
    [((0.5, 0.5), True), ((0.05, 0.05), False), ((0.9, 0.9), False), ((0.3, 0.7), True)],
)
def test_points_in_polygon_table(point, inside):
    triangle = [(0.1, 0.1), (0.9, 0.9), (0.1, 0.9)]
    square = [(0.2, 0.2), (0.8, 0.2), (0.8, 0.8), (0.2, 0.8)]
    poly = square if point != (0.3, 0.7) else triangle
    assert bool(points_in_polygon(np.array([point]), poly)[0]) is inside


@given(unit, unit, unit, unit)
def test_iou_is_one_with_itself_and_symmetric(x1, y1, w, h):
    box = np.array([[x1, y1, x1 + w + 1e-3, y1 + h + 1e-3]])
    other = np.array([[0.2, 0.2, 0.6, 0.7]])
    assert iou_matrix(box, box)[0, 0] == pytest.approx(1.0)
    assert iou_matrix(box, other)[0, 0] == pytest.approx(iou_matrix(other, box)[0, 0])
    assert 0.0 <= iou_matrix(box, other)[0, 0] <= 1.0
