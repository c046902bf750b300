"""The LiteRT person detector: preprocess, invoke, decode, map back to the frame.

Built once per model; every `detect` writes the frame straight into the interpreter's
input tensor (no staging copy when the runtime allows raw access), reads the outputs with
as few numpy calls as it can, and records how long each stage took (`last_timings`,
perf_counter seconds).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from time import perf_counter
from types import MappingProxyType

from edge.config import DetectorConfig
from edge.detect.base import STAGES, ModelError
from edge.detect.classes import postprocess_classes
from edge.detect.decode import decode_ssd_to_frame, decode_yolo
from edge.detect.layout import SsdLayout, YoloLayout, find_layout
from edge.detect.preprocess import Placement, Preprocessor, input_lut
from edge.detect.runtime import Runtime, TensorSpec
from edge.detections import Detections
from edge.frames import Frame

log = logging.getLogger(__name__)

INPUT_DTYPES = ("float32", "float16", "uint8", "int8")
YOLO_MEAN, YOLO_STD = 0.0, 255.0
"""Ultralytics float exports take pixel / 255."""


def _normalization(
    config: DetectorConfig, spec: TensorSpec, yolo: bool
) -> tuple[float | None, float | None]:
    """(mean, std) for the input table; None means raw pixels into a quantized input."""
    explicit = {"input_mean", "input_std"} & config.model_fields_set
    if explicit:
        return config.input_mean, config.input_std
    if spec.dtype.kind in "iu":
        return None, None
    if yolo:
        return YOLO_MEAN, YOLO_STD
    return config.input_mean, config.input_std


class TfliteDetector:
    """A `Detector` (and `ModelDetector`) for SSD post-processed or Ultralytics YOLO models.

    Raises ModelError at construction for a missing, corrupt or unrecognised model.
    """

    def __init__(self, path: Path, config: DetectorConfig, *, use_cv2: bool | None = None) -> None:
        self._runtime = Runtime(path, config.threads)
        origin = str(path)
        self._layout = find_layout(
            self._runtime.inputs, self._runtime.outputs, config.layout, origin
        )
        self._person = 0 if config.person_class is None else config.person_class
        classes = (
            self._layout.num_classes
            if isinstance(self._layout, YoloLayout)
            else postprocess_classes(path)
        )
        if classes is not None and self._person >= classes:
            raise ModelError(
                f"{origin}: detector.person_class is {self._person} but the model has "
                f"{classes} classes; set detector.person_class below {classes}"
            )
        spec = self._runtime.inputs[0]
        if spec.dtype.name not in INPUT_DTYPES:
            raise ModelError(
                f"{origin}: the model's input type {spec.dtype.name} is not supported; "
                f"use a model with a {', '.join(INPUT_DTYPES)} input"
            )
        mean, std = _normalization(config, spec, isinstance(self._layout, YoloLayout))
        lut = input_lut(spec.dtype, spec.scale, spec.zero_point, mean, std)
        height, width = spec.shape[1], spec.shape[2]
        self._input_size = (width, height)
        self._pre = Preprocessor(self._input_size, spec.dtype, lut, config.resize, use_cv2)
        self._min_score = config.low_score_threshold
        self._nms_iou = config.nms_iou
        self._name = path.name
        self._timings = dict.fromkeys(STAGES, 0.0)
        log.info(
            "detector %s: %s input %s, %s layout, resize %s, normalization %s",
            self._name,
            spec.describe(),
            "quantized" if spec.quantized else "float",
            "SSD" if isinstance(self._layout, SsdLayout) else "YOLO",
            config.resize,
            "raw pixels" if mean is None else f"(pixel - {mean}) / {std}",
        )

    @property
    def input_size(self) -> tuple[int, int]:
        return self._input_size

    @property
    def last_timings(self) -> Mapping[str, float]:
        return MappingProxyType(self._timings)

    @property
    def model_name(self) -> str:
        return self._name

    @property
    def model_sha256(self) -> str:
        return self._runtime.sha256

    @property
    def layout(self) -> SsdLayout | YoloLayout:
        """The recognised output layout."""
        return self._layout

    @property
    def uses_cv2(self) -> bool:
        """Whether frames are resized with OpenCV (else with numpy)."""
        return self._pre.uses_cv2

    @property
    def writes_in_place(self) -> bool:
        """Whether frames go straight into the interpreter's input tensor (else via a copy)."""
        return self._runtime.writes_in_place

    def invoke(self) -> None:
        self._runtime.invoke()

    def detect(self, frame: Frame) -> Detections:
        """Persons with score >= low_score_threshold, boxes normalized to the whole frame."""
        start = perf_counter()
        placement = self._runtime.write_input(partial(self._pre, frame.image))
        prepared = perf_counter()
        self._runtime.invoke()
        inferred = perf_counter()
        result = self._detections(placement)
        done = perf_counter()
        self._timings["preprocess"] = prepared - start
        self._timings["inference"] = inferred - prepared
        self._timings["decode"] = done - inferred
        return result

    def _detections(self, placement: Placement) -> Detections:
        """Decoded persons mapped to the frame, minus boxes left empty by the clipping."""
        layout = self._layout
        output = self._runtime.real_output
        if isinstance(layout, SsdLayout):
            xyxy, score = decode_ssd_to_frame(
                output(layout.boxes),
                output(layout.classes),
                output(layout.scores),
                output(layout.count),
                person_class=self._person,
                min_score=self._min_score,
                scale=placement.frame_scale,
                offset=placement.frame_offset,
            )
            return Detections(xyxy, score)
        xyxy, score = decode_yolo(
            output(layout.position),
            channels_first=layout.channels_first,
            person_class=self._person,
            min_score=self._min_score,
            nms_iou=self._nms_iou,
            input_size=self._input_size,
        )
        boxes = placement.to_frame(xyxy)
        ordered = boxes[:, 2:] > boxes[:, :2]
        valid = ordered[:, 0] & ordered[:, 1]
        return Detections(boxes[valid], score[valid])
