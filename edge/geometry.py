"""Vectorized plane geometry in normalized image coordinates."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Points = npt.NDArray[np.float32]


def bottom_centres(xyxy: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """(N, 2) bottom-centre points of boxes (N, 4) x1, y1, x2, y2: where a person stands."""
    boxes = np.asarray(xyxy).reshape(-1, 4)
    out = np.empty((boxes.shape[0], 2), np.float64)
    out[:, 0] = (boxes[:, 0] + boxes[:, 2]) * 0.5
    out[:, 1] = boxes[:, 3]
    return out


def signed_distance(
    points: npt.ArrayLike, a: npt.ArrayLike, b: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Distance of each point (N, 2) to the infinite line a-b; positive on the left of a->b."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    d = b - a
    length = float(np.hypot(d[0], d[1]))
    p = np.asarray(points, np.float64).reshape(-1, 2) - a
    return np.asarray((d[0] * p[:, 1] - d[1] * p[:, 0]) / length, np.float64)


def segment_parameter(
    p: npt.ArrayLike, q: npt.ArrayLike, a: npt.ArrayLike, b: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Where each path p->q (N, 2 each) meets the line a-b, as a fraction along a->b.

    0 is at a, 1 at b; paths parallel to the line give NaN.
    """
    p = np.asarray(p, np.float64).reshape(-1, 2)
    q = np.asarray(q, np.float64).reshape(-1, 2)
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    r = q - p
    s = b - a
    denom = r[:, 0] * s[1] - r[:, 1] * s[0]
    ap = a - p
    with np.errstate(divide="ignore", invalid="ignore"):
        u = (ap[:, 0] * r[:, 1] - ap[:, 1] * r[:, 0]) / denom
    u[np.abs(denom) < 1e-12] = np.nan
    return np.asarray(u, np.float64)


class Polygon:
    """A polygon with its edges prepared once, for fast repeated point-in-polygon tests."""

    def __init__(self, vertices: npt.ArrayLike) -> None:
        poly = np.asarray(vertices, np.float64).reshape(-1, 2)
        self.x1 = poly[:, 0][None, :]
        self.y1 = poly[:, 1][None, :]
        x2 = np.roll(poly[:, 0], -1)[None, :]
        y2 = np.roll(poly[:, 1], -1)[None, :]
        rise = y2 - self.y1
        # A level edge never straddles a point's y, so its slope is never used.
        self.slope = (x2 - self.x1) / np.where(rise == 0.0, 1.0, rise)
        self.y2 = y2

    def contains(self, points: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Even-odd rule: which points (N, 2) lie inside."""
        pts = np.asarray(points, np.float64).reshape(-1, 2)
        x = pts[:, 0:1]
        y = pts[:, 1:2]
        straddles = (self.y1 > y) != (self.y2 > y)
        x_cross = self.x1 + (y - self.y1) * self.slope
        crossings = straddles & (x < x_cross)
        return np.asarray(np.count_nonzero(crossings, axis=1) % 2 == 1)


def points_in_polygon(points: npt.ArrayLike, polygon: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Even-odd rule: which points (N, 2) lie inside the polygon (M, 2)."""
    return Polygon(polygon).contains(points)


def iou_matrix(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Intersection over union of every box in a (N, 4) with every box in b (M, 4)."""
    return iou_of_boxes(
        np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    )


def iou_of_boxes(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """`iou_matrix` for float64 (N, 4) and (M, 4) arrays as they are, without conversion."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.maximum(hi - lo, 0.0)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return np.asarray(inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-12))
