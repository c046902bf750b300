"""Turn raw output tensors into person boxes, normalized to the model input (x1, y1, x2, y2).

Two layouts: the SSD post-processed one (boxes, classes, scores, count from
TFLite_Detection_PostProcess) and the Ultralytics YOLO one (one [1, 4+C, N] or [1, N, 4+C]
tensor of cx, cy, w, h and class scores, NMS done here). Inputs are real (dequantized)
float32 arrays; nothing here touches the interpreter.
"""

from __future__ import annotations

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


def _is_integral(values: npt.NDArray[np.float32]) -> bool:
    return bool(np.all(values == np.round(values)))


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
    """
    n = int(np.clip(np.round(float(np.asarray(count).reshape(-1)[0])), 0, boxes.shape[1]))
    cls = np.asarray(classes, np.float32).reshape(-1)[:n]
    scr = np.asarray(scores, np.float32).reshape(-1)[:n]
    if n and not _is_integral(cls) and _is_integral(scr):
        cls, scr = scr, cls
    yx = np.asarray(boxes, np.float32).reshape(-1, 4)[:n]
    keep = (np.round(cls) == person_class) & (scr >= min_score)
    xyxy = yx[keep][:, [1, 0, 3, 2]]
    return np.ascontiguousarray(xyxy, dtype=np.float32), scr[keep].astype(np.float32)


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
