"""Frames into the interpreter: written in place through the runtime's raw tensor access,
or through a staging array and `set_tensor` where there is none; the input tensor holds
the same bytes either way, frame after frame, letterbox padding included."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from skimage import data

from edge.config import DetectorConfig
from edge.detect import TfliteDetector, resolve_model, runtime
from edge.detect.preprocess import Preprocessor, input_lut
from edge.detect.runtime import Runtime
from edge.frames import Frame
from tests.detect.helpers import fixture_model

SIZES = [(640, 480), (480, 640), (64, 64), (640, 480), (100, 80), (63, 64)]
"""Frame sizes in turn: padding rows, columns, none, rows again, rows, one column."""


def _no_raw_access(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the runtime's Interpreter one without `tensor()`, like a minimal runtime."""
    from ai_edge_litert.interpreter import Interpreter

    class NoRawAccess(Interpreter):  # type: ignore[misc]
        tensor = None

    monkeypatch.setattr(runtime, "interpreter_class", lambda: NoRawAccess)


def _photo(width: int, height: int) -> npt.NDArray[np.uint8]:
    import cv2

    return np.ascontiguousarray(cv2.resize(data.astronaut(), (width, height)))


@pytest.mark.parametrize("raw", [True, False], ids=["in-place", "set_tensor"])
@pytest.mark.parametrize("name", ["yolo_cf_pixels.tflite", "yolo_int8.tflite"])
def test_the_input_tensor_holds_the_preprocessed_frame_every_time(
    monkeypatch: pytest.MonkeyPatch, raw: bool, name: str
) -> None:
    if not raw:
        _no_raw_access(monkeypatch)
    model = Runtime(fixture_model(name), threads=1)
    assert model.writes_in_place is raw
    spec = model.inputs[0]
    lut = input_lut(spec.dtype, spec.scale, spec.zero_point, 127.5, 127.5)
    pre = Preprocessor((64, 64), spec.dtype, lut, "letterbox")
    for width, height in SIZES:
        image = _photo(width, height)
        placement = model.write_input(partial(pre, image))
        model.invoke()
        fresh = Preprocessor((64, 64), spec.dtype, lut, "letterbox")
        assert fresh(image) == placement
        np.testing.assert_array_equal(model.input(0), fresh.buffer, err_msg=f"{width}x{height}")


@pytest.mark.parametrize(
    "path",
    [
        *(fixture_model(name) for name in ("yolo_cf_pixels.tflite", "yolo_int8.tflite")),
        resolve_model("default"),
        resolve_model("default-fp32"),
    ],
    ids=lambda path: Path(path).name,
)
def test_invoke_leaves_the_input_tensor_as_written(path: Path) -> None:
    # Padding is written only when the placement changes: that relies on this.
    model = Runtime(path, threads=2)
    spec = model.inputs[0]
    info = np.iinfo(spec.dtype) if spec.dtype.kind in "iu" else None
    rng = np.random.default_rng(3)
    if info is None:
        values = rng.uniform(-1, 1, spec.shape).astype(spec.dtype)
    else:
        values = rng.integers(info.min, info.max, spec.shape, endpoint=True).astype(spec.dtype)
    model.write_input(partial(np.copyto, src=values))
    model.invoke()
    model.invoke()
    np.testing.assert_array_equal(model.input(0), values)


def test_a_failing_fill_does_not_block_later_invokes() -> None:
    model = Runtime(fixture_model("yolo_cf_pixels.tflite"), threads=1)

    def fill(out: npt.NDArray[np.float32]) -> None:
        out[...] = 0.5
        raise ValueError("broken frame")

    with pytest.raises(ValueError, match="broken frame") as caught:
        model.write_input(fill)
    assert caught.value.__traceback__ is not None  # kept alive, as a log handler might
    model.invoke()
    model.write_input(partial(np.copyto, src=np.zeros(model.inputs[0].shape, np.float32)))
    model.invoke()


@pytest.mark.parametrize("model", ["default", "default-fp32"])
def test_letterboxed_frames_of_changing_size_detect_as_in_a_fresh_detector(
    monkeypatch: pytest.MonkeyPatch, model: str
) -> None:
    config = DetectorConfig(model=model, threads=1, resize="letterbox")
    in_place = TfliteDetector(resolve_model(model), config)
    assert in_place.writes_in_place
    _no_raw_access(monkeypatch)
    copied = TfliteDetector(resolve_model(model), config)
    assert not copied.writes_in_place
    photo = data.astronaut()
    photos = [photo, _photo(640, 480), photo[:, :300], _photo(300, 300), photo[:300], photo]
    for image in photos:
        frame = Frame(np.ascontiguousarray(image), 0, 0.0)
        want = TfliteDetector(resolve_model(model), config).detect(frame)
        assert len(want) > 0
        for detector in (in_place, copied):
            found = detector.detect(frame)
            np.testing.assert_array_equal(found.xyxy, want.xyxy)
            np.testing.assert_array_equal(found.score, want.score)
