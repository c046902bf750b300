"""Turn raw output tensors into person boxes, normalized to the model input (x1, y1, x2, y2).

Two layouts: the SSD post-processed one (boxes, classes, scores, count from
TFLite_Detection_PostProcess) and the Ultralytics YOLO one (one [1, 4+C, N] or [1, N, 4+C]
tensor of cx, cy, w, h and class scores, NMS done here). Inputs are real (dequantized)
float32 arrays; nothing here touches the interpreter. These run once per frame on small
arrays, so they are written for few numpy calls rather than for vectorization.
"""

from __future__ import annotations

import functools
import math
from array import array

import numpy as np
import numpy.typing as npt

Boxes = npt.NDArray[np.float32]
Scores = npt.NDArray[np.float32]

MAX_CANDIDATES = 300
"""NMS looks at no more than this many best-scoring boxes per frame."""


def nms(xyxy: Boxes, score: Scores, iou_threshold: float) -> npt.NDArray[np.intp]:
    """Greedy non-maximum suppression; indices of kept boxes, best score first.

    A box is dropped when its IoU with a better kept box exceeds `iou_threshold`.
    """
    order = np.argsort(-score, kind="stable")[:MAX_CANDIDATES]
    boxes = xyxy.astype(np.float64)
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(
        boxes[:, 3] - boxes[:, 1], 0, None
    )
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        ix1 = np.maximum(boxes[best, 0], boxes[rest, 0])
        iy1 = np.maximum(boxes[best, 1], boxes[rest, 1])
        ix2 = np.minimum(boxes[best, 2], boxes[rest, 2])
        iy2 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
        union = areas[best] + areas[rest] - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.intp)


_YX_TO_XY = np.array([1, 0, 3, 2], np.intp)


@functools.lru_cache(maxsize=8)
def _float32(value: float) -> float:
    """`value` rounded to float32, as numpy compares a float32 array with a Python float."""
    return array("f", (value,))[0]


def _integral(values: list[float]) -> bool:
    """All values whole, as `values == np.round(values)` says (so infinities count)."""
    return all(map(float.is_integer, values)) or all(
        v.is_integer() or math.isinf(v) for v in values
    )


def _rounds_to(value: float, target: int) -> bool:
    """np.rint(value) == target (half to even), without raising on NaN or infinities."""
    return target - 0.5 <= value <= target + 0.5 and round(value) == target


def _ssd_persons(
    classes: npt.NDArray[np.float32],
    scores: npt.NDArray[np.float32],
    count: npt.NDArray[np.float32],
    rows: int,
    *,
    person_class: int,
    min_score: float,
) -> list[tuple[int, float]]:
    """(row, score) of each person at >= min_score among the valid leading rows.

    Plain Python on lists: there are at most `rows` (tens of) candidates, so the fixed
    cost of each numpy call, not the arithmetic, is what a frame would pay.
    """
    n = round(min(max(float(count.item(0)), 0.0), float(rows)))
    if n == 0:
        return []
    cls: list[float] = classes.reshape(-1)[:n].tolist()
    scr: list[float] = scores.reshape(-1)[:n].tolist()
    if not _integral(cls) and _integral(scr):
        cls, scr = scr, cls
    threshold = _float32(min_score)
    return [
        (row, score)
        for row, (cls_value, score) in enumerate(zip(cls, scr, strict=True))
        if score >= threshold and _rounds_to(cls_value, person_class)
    ]


def decode_ssd(
    boxes: npt.NDArray[np.float32],
    classes: npt.NDArray[np.float32],
    scores: npt.NDArray[np.float32],
    count: npt.NDArray[np.float32],
    *,
    person_class: int,
    min_score: float,
) -> tuple[Boxes, Scores]:
    """Person boxes from SSD post-processed outputs.

    `boxes` is [1, N, 4] as ymin, xmin, ymax, xmax normalized to the input; `classes` and
    `scores` are [1, N]; `count` holds how many leading rows are valid. If the class and
    score tensors arrive swapped (exports differ in output order), the values tell.
    Returns new arrays, never views of the inputs.
    """
    persons = _ssd_persons(
        classes, scores, count, boxes.shape[1], person_class=person_class, min_score=min_score
    )
    yx = boxes.reshape(-1, 4)[[row for row, _ in persons]]
    xyxy: Boxes = yx.take(_YX_TO_XY, axis=1)
    return xyxy, np.array([score for _, score in persons], np.float32)


def decode_ssd_to_frame(
    boxes: npt.NDArray[np.float32],
    classes: npt.NDArray[np.float32],
    scores: npt.NDArray[np.float32],
    count: npt.NDArray[np.float32],
    *,
    person_class: int,
    min_score: float,
    scale: tuple[float, float],
    offset: tuple[float, float],
) -> tuple[Boxes, Scores]:
    """`decode_ssd`, then each box mapped onto the frame in the same pass.

    A coordinate maps as input * scale - offset ((x, y) pairs, see Placement), clipped to
    0..1; boxes left empty (x2 <= x1 or y2 <= y1 in float32) are dropped. Equals
    `Placement.to_frame` of `decode_ssd`'s boxes to float32 rounding, at a fraction of the
    per-frame cost (no numpy call per step).
    """
    persons = _ssd_persons(
        classes, scores, count, boxes.shape[1], person_class=person_class, min_score=min_score
    )
    xyxy = array("f")
    kept = array("f")
    if persons:
        flat = boxes.reshape(-1)
        sx, sy = scale
        ox, oy = offset
        for row, score in persons:
            y1, x1, y2, x2 = flat[4 * row : 4 * row + 4].tolist()
            box = array(
                "f",
                (
                    min(max(x1 * sx - ox, 0.0), 1.0),
                    min(max(y1 * sy - oy, 0.0), 1.0),
                    min(max(x2 * sx - ox, 0.0), 1.0),
                    min(max(y2 * sy - oy, 0.0), 1.0),
                ),
            )
            if box[2] > box[0] and box[3] > box[1]:
                xyxy.extend(box)
                kept.append(score)
    return np.frombuffer(xyxy, np.float32).reshape(-1, 4), np.frombuffer(kept, np.float32)


def decode_yolo(
    output: npt.NDArray[np.float32],
    *,
    channels_first: bool,
    person_class: int,
    min_score: float,
    nms_iou: float,
    input_size: tuple[int, int],
) -> tuple[Boxes, Scores]:
    """Person boxes from an Ultralytics export, after NMS.

    `output` is [1, 4+C, N] (`channels_first`) or [1, N, 4+C]; rows are cx, cy, w, h then
    C class scores. Coordinates in input pixels are recognised (any centre beyond 1.5) and
    normalized with `input_size` (w, h).
    """
    table = np.asarray(output, np.float32)[0]
    rows = table.T if channels_first else table
    centres = rows[:, :2]
    if centres.size and float(np.max(centres)) > 1.5:
        w, h = input_size
        geometry = rows[:, :4] / np.array([w, h, w, h], np.float32)
    else:
        geometry = rows[:, :4]
    score = rows[:, 4 + person_class]
    keep = score >= min_score
    g = geometry[keep]
    s = np.ascontiguousarray(score[keep], dtype=np.float32)
    half = g[:, 2:4] * 0.5
    xyxy = np.concatenate([g[:, :2] - half, g[:, :2] + half], axis=1).astype(np.float32)
    kept = nms(xyxy, s, nms_iou)
    return xyxy[kept], s[kept]
