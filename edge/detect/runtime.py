"""The LiteRT boundary: find a runtime, build an interpreter once, move tensors in and out.

`ai_edge_litert` is preferred, `tflite_runtime` is the fallback; both are imported here
only, and only when a model is opened, so the rest of the package imports anywhere.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from edge.detect.base import ModelError, RuntimeMissingError

log = logging.getLogger(__name__)

R = TypeVar("R")

RUNTIME_MODULES = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter")
INSTALL_HINT = (
    "no TFLite runtime is installed; install one with `pip install ai-edge-litert` "
    "(or `pip install tflite-runtime 'numpy<2'` where no ai-edge-litert wheel exists)"
)


def interpreter_class() -> Any:
    """The `Interpreter` class of the first importable runtime, or RuntimeMissingError."""
    for name in RUNTIME_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        log.debug("using the TFLite runtime from %s", name)
        return module.Interpreter
    raise RuntimeMissingError(INSTALL_HINT)


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """One input or output tensor: where it lives, its shape and how it is quantized.

    `scale == 0` means not quantized (real value == stored value).
    """

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    scale: float
    zero_point: int

    @property
    def quantized(self) -> bool:
        return self.scale != 0.0

    def describe(self) -> str:
        """Shape and type for messages, e.g. '[1, 10, 4] float32'."""
        return f"[{', '.join(str(d) for d in self.shape)}] {self.dtype.name}"


def _spec(details: dict[str, Any]) -> TensorSpec:
    scale, zero_point = details.get("quantization", (0.0, 0))
    return TensorSpec(
        index=int(details["index"]),
        name=str(details.get("name", "")),
        shape=tuple(int(d) for d in details["shape"]),
        dtype=np.dtype(details["dtype"]),
        scale=float(scale),
        zero_point=int(zero_point),
    )


def dequantize(values: npt.NDArray[Any], spec: TensorSpec) -> npt.NDArray[np.float32]:
    """Real float32 values of an output tensor: scale * (q - zero_point) when quantized."""
    if not spec.quantized:
        return np.asarray(values, dtype=np.float32)
    return (values.astype(np.float32) - np.float32(spec.zero_point)) * np.float32(spec.scale)


def read_model(path: Path) -> bytes:
    """The bytes of a model file, or ModelError saying what to fix."""
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise ModelError(
            f"{path}: no such model file; set detector.model to 'default' or to an "
            "existing .tflite file"
        ) from None
    except IsADirectoryError:
        raise ModelError(
            f"{path}: is a folder, not a model file; set detector.model to a .tflite file"
        ) from None
    except OSError as error:
        raise ModelError(
            f"{path}: cannot read the model file ({error.strerror or error.__class__.__name__}); "
            "check its permissions"
        ) from None
    if not content:
        raise ModelError(f"{path}: the model file is empty; replace it with a .tflite model")
    return content


class Runtime:
    """One interpreter for one model, built once, tensors allocated once."""

    def __init__(self, path: Path, threads: int) -> None:
        content = read_model(path)
        self.path = path
        self.sha256 = hashlib.sha256(content).hexdigest()
        cls = interpreter_class()
        try:
            self._interpreter = cls(model_content=content, num_threads=threads)
            self._interpreter.allocate_tensors()
            inputs = [_spec(d) for d in self._interpreter.get_input_details()]
            outputs = [_spec(d) for d in self._interpreter.get_output_details()]
        except (ValueError, RuntimeError) as error:
            log.debug("interpreter refused %s: %s", path, error)
            raise ModelError(
                f"{path}: not a valid TFLite model (the runtime cannot load it); "
                "replace it with a .tflite file exported for TFLite/LiteRT"
            ) from None
        self.inputs = inputs
        self.outputs = outputs
        self._plain = [not o.quantized and o.dtype == np.float32 for o in outputs]
        self._views = [self._view(spec) for spec in inputs]
        self._staging = {
            position: np.zeros(spec.shape, spec.dtype)
            for position, spec in enumerate(inputs)
            if self._views[position] is None
        }

    def _view(self, spec: TensorSpec) -> Callable[[], npt.NDArray[Any]] | None:
        """The runtime's raw access to an input tensor's memory, if it offers a usable one."""
        tensor = getattr(self._interpreter, "tensor", None)
        if not callable(tensor):
            return None
        try:
            view: Callable[[], npt.NDArray[Any]] = tensor(spec.index)
            probe = view()
            usable = probe.shape == spec.shape and probe.dtype == spec.dtype
            usable = usable and bool(probe.flags.writeable) and bool(probe.flags.c_contiguous)
            del probe
        except (ValueError, RuntimeError, TypeError, AttributeError) as error:
            log.debug("no raw access to input %s: %s", spec.name, error)
            return None
        return view if usable else None

    @property
    def writes_in_place(self) -> bool:
        """Whether inputs are written straight into the interpreter (else copied in)."""
        return all(view is not None for view in self._views)

    def write_input(self, fill: Callable[[npt.NDArray[Any]], R], position: int = 0) -> R:
        """Let `fill` write input tensor `position` and return what it returns.

        `fill` gets a writable array of the tensor's shape and dtype that still holds what
        the previous call wrote: the interpreter's own buffer when the runtime offers raw
        access (graph inputs are never overwritten by invoke), else a staging array then
        copied in with `set_tensor`. `fill` must not keep a reference to it: invoke()
        refuses to run while one is alive.
        """
        view = self._views[position]
        if view is None:
            staging = self._staging[position]
            result = fill(staging)
            self._interpreter.set_tensor(self.inputs[position].index, staging)
            return result
        try:
            return fill(view())
        except BaseException as error:
            # The failed call's frames still hold the view; drop their locals so that the
            # exception, if kept, does not block every later invoke().
            traceback.clear_frames(error.__traceback__)
            raise

    def set_input(self, values: npt.NDArray[Any], position: int = 0) -> None:
        """Copy `values` (matching shape and dtype) into input tensor `position`."""
        self._interpreter.set_tensor(self.inputs[position].index, values)

    def invoke(self) -> None:
        """Run the model once on the current inputs."""
        self._interpreter.invoke()

    def input(self, position: int = 0) -> npt.NDArray[Any]:
        """A copy of input tensor `position` as it stands."""
        return np.asarray(self._interpreter.get_tensor(self.inputs[position].index))

    def output(self, position: int) -> npt.NDArray[Any]:
        """A copy of output tensor `position` as stored (possibly quantized)."""
        return np.asarray(self._interpreter.get_tensor(self.outputs[position].index))

    def real_output(self, position: int) -> npt.NDArray[np.float32]:
        """A copy of output tensor `position` as real float32 values (dequantized if need be)."""
        spec = self.outputs[position]
        values: npt.NDArray[Any] = self._interpreter.get_tensor(spec.index)
        return values if self._plain[position] else dequantize(values, spec)
