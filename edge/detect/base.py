"""What every detector of this package offers beyond `edge.detections.Detector`, and its errors.

The extra surface serves the privacy manifest (which model ran, by name and SHA-256).
Nothing here carries pixels or boxes. (The benchmark times the stages from outside.)
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from edge.detections import Detections
from edge.frames import Frame


class ModelError(Exception):
    """The model cannot be used: missing, unreadable, corrupt, or of an unknown layout.

    The message is one sentence that says what to do; the CLI exits with status 2.
    """


class RuntimeMissingError(ModelError):
    """Neither LiteRT (`ai-edge-litert`) nor `tflite-runtime` is importable."""


@runtime_checkable
class ModelDetector(Protocol):
    """A `Detector` backed by one model file, built once and kept for its lifetime."""

    def detect(self, frame: Frame) -> Detections: ...

    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) of frames this detector prefers."""
        ...

    @property
    def model_name(self) -> str:
        """File name of the model, e.g. 'ssdlite_person_uint8.tflite'."""
        ...

    @property
    def model_sha256(self) -> str:
        """Hex SHA-256 of the model bytes the interpreter was built from."""
        ...
