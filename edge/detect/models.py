"""Resolve `detector.model` to a file: the shipped models by name, or a user's path."""

from __future__ import annotations

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
"""Where the shipped models live inside the installed package (edge/models/)."""

SHIPPED = {
    "default": "ssdlite_person_uint8.tflite",
    "default-fp32": "ssdlite_person_fp32.tflite",
}
"""Names accepted for `detector.model` besides a path, and the file each one means."""


def resolve_model(model: str, models_dir: Path = MODELS_DIR) -> Path:
    """The model file for a config value: a shipped name, or a path (with `~` expanded).

    Existence is not checked here; opening the model reports a missing file.
    """
    name = SHIPPED.get(model.strip())
    if name is not None:
        return models_dir / name
    return Path(model).expanduser()
