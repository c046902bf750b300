"""Opening models: the runtime, missing/corrupt files, odd layouts, and the fixture models
end to end through the real LiteRT interpreter."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest

from edge.config import DetectorConfig, TilingConfig
from edge.detect import (
    ModelDetector,
    ModelError,
    RuntimeMissingError,
    TfliteDetector,
    TiledDetector,
    load_detector,
)
from edge.detect.layout import SsdLayout, YoloLayout
from edge.detect.runtime import RUNTIME_MODULES
from edge.detections import Detector
from edge.frames import Frame
from tests.detect.helpers import fixture_model

YOLO_XYXY = np.array([[8, 16, 24, 48], [42, 20, 54, 44], [27, 51, 37, 61]], np.float32) / 64
YOLO_SCORE = np.array([0.9, 0.6, 0.3], np.float32)


def _frame(width: int = 64, height: int = 64, value: int = 90) -> Frame:
    return Frame(np.full((height, width, 3), value, np.uint8), 7, 1.0)


def _detector(name: str, **config: object) -> TfliteDetector:
    return TfliteDetector(fixture_model(name), DetectorConfig.model_validate(config))


def _one_sentence(message: str) -> None:
    assert "\n" not in message
    assert "Traceback" not in message
    assert message.count("; ") >= 1  # what is wrong; what to do


# --- the runtime ---------------------------------------------------------------------


def _block_runtimes(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*RUNTIME_MODULES, "ai_edge_litert", "tflite_runtime"):
        monkeypatch.setitem(sys.modules, name, None)


def test_missing_runtime_is_one_error_that_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _block_runtimes(monkeypatch)
    with pytest.raises(RuntimeMissingError) as caught:
        _detector("yolo_cf_pixels.tflite")
    assert isinstance(caught.value, ModelError)  # the CLI's exit status 2 path
    assert "pip install ai-edge-litert" in str(caught.value)
    assert "tflite-runtime" in str(caught.value)
    _one_sentence(str(caught.value))


def test_tflite_runtime_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    from ai_edge_litert.interpreter import Interpreter

    used: list[str] = []

    class FallbackInterpreter(Interpreter):  # type: ignore[misc]
        def __init__(self, **kwargs: object) -> None:
            used.append("tflite_runtime")
            super().__init__(**kwargs)

    fallback = types.ModuleType("tflite_runtime.interpreter")
    fallback.Interpreter = FallbackInterpreter  # type: ignore[attr-defined]
    _block_runtimes(monkeypatch)
    monkeypatch.setitem(sys.modules, "tflite_runtime", types.ModuleType("tflite_runtime"))
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", fallback)
    detector = _detector("yolo_cf_pixels.tflite")
    assert used == ["tflite_runtime"]
    assert len(detector.detect(_frame())) == 3


# --- bad model files -----------------------------------------------------------------


def test_missing_model_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.tflite"
    with pytest.raises(ModelError, match="no such model file") as caught:
        load_detector(DetectorConfig(model=str(missing)))
    assert str(missing) in str(caught.value)
    _one_sentence(str(caught.value))


def test_a_folder_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="is a folder"):
        load_detector(DetectorConfig(model=str(tmp_path)))


def test_empty_model_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.tflite"
    empty.write_bytes(b"")
    with pytest.raises(ModelError, match="empty"):
        load_detector(DetectorConfig(model=str(empty)))


@pytest.mark.parametrize("kind", ["random", "truncated", "text"])
def test_corrupt_model_file(tmp_path: Path, kind: str) -> None:
    bad = tmp_path / "bad.tflite"
    if kind == "random":
        bad.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, np.uint8).tobytes())
    elif kind == "truncated":
        bad.write_bytes(fixture_model("yolo_cf_pixels.tflite").read_bytes()[:300])
    else:
        bad.write_text("this is not a model\n")
    with pytest.raises(ModelError, match="not a valid TFLite model") as caught:
        load_detector(DetectorConfig(model=str(bad)))
    _one_sentence(str(caught.value))


def test_shipped_model_missing_from_the_installation(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="missing from this installation"):
        load_detector(DetectorConfig(model="default"), models_dir=tmp_path)


# --- layouts -------------------------------------------------------------------------


def test_odd_output_layout_is_refused_naming_the_shapes() -> None:
    with pytest.raises(ModelError) as caught:
        _detector("odd_output.tflite")
    message = str(caught.value)
    assert "[1, 7] float32" in message
    assert "SSD" in message
    assert "YOLO" in message
    _one_sentence(message)


def test_forced_layout_that_does_not_fit_is_refused() -> None:
    with pytest.raises(ModelError, match=r"do not fit the YOLO layout") as caught:
        _detector("ssd_constants.tflite", layout="yolo")
    assert "[1, 4, 4] float32" in str(caught.value)
    with pytest.raises(ModelError, match=r"do not fit the SSD layout"):
        _detector("yolo_cf_pixels.tflite", layout="ssd")


def test_person_class_beyond_the_models_classes_is_refused() -> None:
    with pytest.raises(ModelError, match="has 2 classes"):
        _detector("yolo_cf_pixels.tflite", person_class=2)


# --- fixture models end to end -------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "channels_first", "atol"),
    [
        ("yolo_cf_pixels.tflite", True, 1e-4),
        ("yolo_t_normalized.tflite", False, 1e-4),
        ("yolo_int8.tflite", True, 0.004),  # int8 input and output, quantization steps
    ],
)
def test_yolo_fixture_end_to_end(name: str, channels_first: bool, atol: float) -> None:
    detector = _detector(name)
    assert isinstance(detector.layout, YoloLayout)
    assert detector.layout.channels_first is channels_first
    assert detector.layout.num_classes == 2
    found = detector.detect(_frame(100, 80))
    order = np.argsort(-found.score)
    np.testing.assert_allclose(found.xyxy[order], YOLO_XYXY, atol=atol)
    np.testing.assert_allclose(found.score[order], YOLO_SCORE, atol=atol)


def test_yolo_fixture_letterboxed_boxes_are_unmapped_to_the_wide_frame() -> None:
    detector = _detector("yolo_cf_pixels.tflite", resize="letterbox")
    found = detector.detect(_frame(128, 64))  # lands at rows 16..48 of the 64x64 input
    best = found.xyxy[np.argmax(found.score)]
    # Input box x 8..24, y 16..48 -> frame x 8/64..24/64 of the content, y 0..1.
    np.testing.assert_allclose(best, [0.125, 0.0, 0.375, 1.0], atol=1e-4)


def test_thresholds_come_from_the_config() -> None:
    low = _detector("yolo_cf_pixels.tflite", low_score_threshold=0.5, score_threshold=0.5)
    np.testing.assert_allclose(np.sort(low.detect(_frame()).score), [0.6, 0.9], atol=1e-4)


def test_ssd_fixture_end_to_end() -> None:
    detector = _detector("ssd_constants.tflite")
    assert isinstance(detector.layout, SsdLayout)
    found = detector.detect(_frame())
    np.testing.assert_allclose(found.xyxy, [[0.2, 0.1, 0.4, 0.9], [0.6, 0.3, 0.9, 0.8]], atol=1e-3)
    np.testing.assert_allclose(found.score, [0.85, 0.35], atol=1e-3)


def test_identity_of_the_model() -> None:
    path = fixture_model("yolo_cf_pixels.tflite")
    detector = load_detector(DetectorConfig(model=str(path), threads=1))
    assert isinstance(detector, TfliteDetector)
    assert isinstance(detector, Detector)
    assert isinstance(detector, ModelDetector)
    assert detector.model_name == "yolo_cf_pixels.tflite"
    assert detector.model_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert detector.input_size == (64, 64)
    assert not hasattr(detector, "last_timings")  # the benchmark times it from outside


def test_tiles_in_the_config_give_a_tiled_detector() -> None:
    path = fixture_model("yolo_cf_pixels.tflite")
    config = DetectorConfig(model=str(path), tiles=TilingConfig(rows=1, cols=2, overlap=0.25))
    detector = load_detector(config)
    assert isinstance(detector, TiledDetector)
    assert isinstance(detector, ModelDetector)
    assert detector.model_name == "yolo_cf_pixels.tflite"
    assert detector.input_size == (112, 64)  # two 64-wide tiles overlapping by 16 pixels
