"""BUILD-TIME ONLY: regenerate the tiny .tflite fixtures of tests/detect.

Never imported by the package or the tests. It needs TensorFlow, which is not a headcount
dependency; use a throwaway virtualenv:

    python3.11 -m venv /tmp/venv-tf
    /tmp/venv-tf/bin/pip install tensorflow-cpu==2.14.1 'numpy<2'
    /tmp/venv-tf/bin/python tests/data/make_fixtures.py

Every model ignores its image (or nearly: quantization needs a path from the input) and
returns constants, so the tests know exactly what the decoder must produce. The constants
are in YOLO_ROWS and SSD_* below and are repeated in the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import tensorflow as tf

OUT = Path(__file__).resolve().parent
SIZE = 64
"""Input width and height of every fixture."""

# YOLO rows: cx, cy, w, h (input pixels), score of class 0 (person), score of class 1.
YOLO_ROWS = np.array(
    [
        [16, 32, 16, 32, 0.90, 0.05],  # person A
        [17, 33, 16, 32, 0.80, 0.05],  # duplicate of A: NMS removes it
        [48, 32, 12, 24, 0.60, 0.10],  # person B
        [48, 16, 8, 8, 0.10, 0.95],  # class 1 only: never a person
        [32, 56, 10, 10, 0.30, 0.00],  # low-score person (between 0.2 and 0.5)
        [32, 8, 10, 10, 0.10, 0.00],  # below every threshold
        [8, 8, 4, 4, 0.00, 0.00],
        [60, 60, 4, 4, 0.00, 0.00],
    ],
    np.float32,
)

# SSD constants: boxes (ymin, xmin, ymax, xmax), classes, scores; count valid rows.
SSD_BOXES = np.array(
    [[0.1, 0.2, 0.9, 0.4], [0.3, 0.6, 0.8, 0.9], [0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]],
    np.float32,
)
SSD_CLASSES = np.array([0, 0, 1, 0], np.float32)
SSD_SCORES = np.array([0.85, 0.35, 0.9, 0.7], np.float32)
SSD_COUNT = np.array([3], np.float32)  # the 4th row is padding and must be ignored


def _image_spec() -> tf.TensorSpec:
    return tf.TensorSpec([1, SIZE, SIZE, 3], tf.float32, name="image")


def _touch(image: tf.Tensor) -> tf.Tensor:
    """A tiny, input-dependent scalar, so the converter keeps the input in the graph."""
    return tf.reduce_mean(image) * 1e-4


def _convert(fn: Callable[..., object], quantize: bool = False) -> bytes:
    concrete = tf.function(fn, input_signature=[_image_spec()]).get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], fn)
    if quantize:

        def representative() -> Iterator[list[np.ndarray]]:
            rng = np.random.default_rng(0)
            for _ in range(16):
                yield [rng.uniform(0, 1, (1, SIZE, SIZE, 3)).astype(np.float32)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return bytes(converter.convert())


def yolo_channels_first_pixels(image: tf.Tensor) -> tf.Tensor:
    """[1, 6, 8]: Ultralytics orientation, coordinates in input pixels."""
    return tf.constant(YOLO_ROWS.T[None]) + _touch(image)


def yolo_transposed_normalized(image: tf.Tensor) -> tf.Tensor:
    """[1, 8, 6]: transposed, coordinates normalized to the input."""
    rows = YOLO_ROWS.copy()
    rows[:, :4] /= SIZE
    return tf.constant(rows[None]) + _touch(image)


def yolo_channels_first_normalized(image: tf.Tensor) -> tf.Tensor:
    """[1, 6, 8]: Ultralytics orientation, normalized (the int8 fixture's float graph)."""
    rows = YOLO_ROWS.copy()
    rows[:, :4] /= SIZE
    return tf.constant(rows.T[None]) + _touch(image)


def odd_output(image: tf.Tensor) -> tf.Tensor:
    """[1, 7]: fits no layout."""
    return tf.zeros([1, 7]) + _touch(image)


def ssd_constants(image: tf.Tensor) -> dict[str, tf.Tensor]:
    """Post-processed SSD outputs as a TF2 export names them."""
    t = _touch(image)
    return {
        "detection_boxes": tf.constant(SSD_BOXES[None]) + t,
        "detection_classes": tf.constant(SSD_CLASSES[None]) + 0 * t,
        "detection_scores": tf.constant(SSD_SCORES[None]) + t,
        "num_detections": tf.constant(SSD_COUNT) + 0 * t,
    }


def main() -> None:
    fixtures = {
        "yolo_cf_pixels.tflite": _convert(yolo_channels_first_pixels),
        "yolo_t_normalized.tflite": _convert(yolo_transposed_normalized),
        "yolo_int8.tflite": _convert(yolo_channels_first_normalized, quantize=True),
        "odd_output.tflite": _convert(odd_output),
        "ssd_constants.tflite": _convert(ssd_constants),
    }
    for name, content in fixtures.items():
        (OUT / name).write_bytes(content)
        print(f"{name}: {len(content)} bytes")


if __name__ == "__main__":
    main()
