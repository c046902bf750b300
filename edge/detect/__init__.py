"""The person detector: LiteRT runtime, SSD and YOLO decoders, preprocessing, tiling.

`load_detector(config)` is the one entry point the pipeline needs; it raises ModelError
(one sentence saying what to do) for anything wrong with the model or the runtime.
"""

from __future__ import annotations

from pathlib import Path

from edge.config import DetectorConfig
from edge.detect.base import ModelDetector, ModelError, RuntimeMissingError
from edge.detect.models import MODELS_DIR, SHIPPED, resolve_model
from edge.detect.tflite import TfliteDetector
from edge.detect.tiling import TiledDetector, TileYield

__all__ = [
    "ModelDetector",
    "ModelError",
    "RuntimeMissingError",
    "TfliteDetector",
    "TiledDetector",
    "load_detector",
    "resolve_model",
]


def load_detector(config: DetectorConfig, *, models_dir: Path = MODELS_DIR) -> ModelDetector:
    """Build the detector the config asks for, tiled when `tiles` is more than 1x1.

    `model` is 'default' (the shipped uint8 model), 'default-fp32', or a .tflite path.
    """
    path = resolve_model(config.model, models_dir)
    if config.model.strip() in SHIPPED and not path.is_file():
        raise ModelError(
            f"the shipped model {path.name} is missing from this installation; reinstall "
            "headcount or set detector.model to the path of a .tflite file"
        )
    detector = TfliteDetector(path, config)
    tiles = config.tiles.rows * config.tiles.cols
    if tiles > 1:
        judge = TileYield(tiles + 1, config.score_threshold, config.nms_iou)
        return TiledDetector(detector, config.tiles, nms_iou=config.nms_iou, judge=judge)
    return detector
