"""Recognise which output layout a model has, from its tensor shapes, at start-up.

A model that fits neither layout is refused with a ModelError naming the shapes found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from edge.detect.base import ModelError
from edge.detect.runtime import TensorSpec

LayoutName = Literal["auto", "ssd", "yolo"]

EXPECTED = (
    "the SSD layout (boxes [1, N, 4], classes [1, N], scores [1, N], count [1]) or the "
    "YOLO layout ([1, 4+C, N] or [1, N, 4+C])"
)


@dataclass(frozen=True, slots=True)
class SsdLayout:
    """Positions in the output list of the four post-processed tensors."""

    boxes: int
    classes: int
    scores: int
    count: int


@dataclass(frozen=True, slots=True)
class YoloLayout:
    """Position of the one YOLO tensor, its orientation and class count."""

    position: int
    channels_first: bool
    num_classes: int


Layout = SsdLayout | YoloLayout


def _ssd(outputs: list[TensorSpec]) -> SsdLayout | None:
    if len(outputs) != 4:
        return None
    shapes = [o.shape for o in outputs]
    boxes = [i for i, s in enumerate(shapes) if len(s) == 3 and s[0] == 1 and s[2] == 4]
    count = [i for i, s in enumerate(shapes) if s in ((1,), ())]
    if len(boxes) != 1 or len(count) != 1:
        return None
    n = shapes[boxes[0]][1]
    pair = [i for i, s in enumerate(shapes) if s == (1, n)]
    if len(pair) != 2:
        return None
    classes, scores = _order_pair(outputs, pair[0], pair[1])
    return SsdLayout(boxes=boxes[0], classes=classes, scores=scores, count=count[0])


def _order_pair(outputs: list[TensorSpec], a: int, b: int) -> tuple[int, int]:
    """(classes, scores) among two [1, N] outputs, by name when names tell, else index order.

    TFLite_Detection_PostProcess names its outputs ':1' (classes) and ':2' (scores); the
    decoder also swaps them per frame if the values contradict.
    """
    name_a, name_b = outputs[a].name.lower(), outputs[b].name.lower()
    if "score" in name_a or "class" in name_b:
        return b, a
    if "class" in name_a or "score" in name_b:
        return a, b
    suffix_a = re.search(r"postprocess:(\d+)$", name_a)
    suffix_b = re.search(r"postprocess:(\d+)$", name_b)
    if suffix_a and suffix_b and int(suffix_a.group(1)) > int(suffix_b.group(1)):
        return b, a
    return a, b


def _yolo(outputs: list[TensorSpec]) -> YoloLayout | None:
    if len(outputs) != 1:
        return None
    shape = outputs[0].shape
    if len(shape) != 3 or shape[0] != 1 or min(shape[1:]) < 5:
        return None
    channels_first = shape[1] < shape[2]
    channels = shape[1] if channels_first else shape[2]
    return YoloLayout(position=0, channels_first=channels_first, num_classes=channels - 4)


def find_layout(
    inputs: list[TensorSpec], outputs: list[TensorSpec], wanted: LayoutName, origin: str
) -> Layout:
    """The layout of a model with these tensors, or ModelError naming the shapes found."""
    if len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].shape[0] != 1:
        found = ", ".join(i.describe() for i in inputs) or "none"
        raise ModelError(
            f"{origin}: the model's input tensors ({found}) are not one [1, H, W, 3] image; "
            "use a single-image detector exported to .tflite"
        )
    if inputs[0].shape[3] != 3:
        raise ModelError(
            f"{origin}: the model's input {inputs[0].describe()} is not an RGB image "
            "[1, H, W, 3] (channels last); export the model with NHWC input"
        )
    found_layout: Layout | None = None
    if wanted in ("auto", "ssd"):
        found_layout = _ssd(outputs)
    if found_layout is None and wanted in ("auto", "yolo"):
        found_layout = _yolo(outputs)
    if found_layout is None:
        found = "; ".join(o.describe() for o in outputs) or "none"
        if wanted == "auto":
            raise ModelError(
                f"{origin}: the model's output tensors ({found}) fit neither {EXPECTED}; "
                "use an SSD (TFLite_Detection_PostProcess) or Ultralytics YOLO .tflite export"
            )
        raise ModelError(
            f"{origin}: the model's output tensors ({found}) do not fit the "
            f"{wanted.upper()} layout; set detector.layout to 'auto' or use a model of that layout"
        )
    return found_layout
