"""Speed of the whole sensor, one configuration per fresh process, and of motion gating.

`python -m lab.bench.speed --model uint8 --threads 2 --frames 80` runs the real pipeline
(JPEG decode, preprocess, LiteRT inference, decode, track, count, publish to no sink) on
frames panned over a real photo, then the bare `invoke()` loop of the same interpreter,
and prints one JSON object: per-stage seconds per frame, both frame rates, CPU seconds
per frame and the process's peak RSS. A fresh process per configuration makes the peak
RSS that configuration's own.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.config import DetectorConfig, LineConfig, PrivacyConfig, ZoneConfig
from edge.count import Counters
from edge.detections import Detections
from edge.frames import Frame
from edge.pipeline import Pipeline
from edge.privacy.output import OutputPrivacy
from edge.publish import Publisher
from edge.sources.opencv import to_rgb
from edge.sources.prefetch import PrefetchSource
from edge.track import Tracker, TrackerSettings

log = logging.getLogger(__name__)

Image = npt.NDArray[np.uint8]
CAMERA_SIZE = (640, 480)
"""Frames as a video file (or a webcam that ignores the size asked for) delivers them."""
WEBCAM_SIZE = (320, 240)
"""A USB webcam's nearest mode to the detector's 300x300, which the sensor asks it for
(`edge/sources/opencv.py`). The Pi camera's ISP delivers 300x300 itself."""
CAPTURE_SIZES = {"mjpeg": CAMERA_SIZE, "webcam": WEBCAM_SIZE}
CAPTURE_NAMES = {
    "isp": "Pi camera capture (isp)",
    "webcam": "320x240 webcam JPEG capture (webcam)",
    "mjpeg": "640x480 JPEG file capture (mjpeg)",
}
MODELS = {"uint8": "default", "fp32": "default-fp32"}
STAGES = ("capture", "preprocess", "inference", "decode", "track", "count", "publish")
_ORIGIN = 1_800_000_000.0
ROUNDS = 16
"""Pipeline and bare-invoke rounds per configuration; the ratio is their median."""


def resize(image: Image, size: tuple[int, int]) -> Image:
    """Vectorized resize to (w, h): OpenCV when importable, else the package's numpy resize."""
    try:
        import cv2
    except ImportError:
        from edge.detect.preprocess import resize_numpy

        return resize_numpy(image, size[0], size[1])
    out: Image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)
    return out


def photo(name: str = "astronaut") -> Image:
    """A real RGB photo from scikit-image's bundled data (a dev dependency)."""
    try:
        import skimage.data
    except ImportError:
        raise RuntimeError(
            "the speed benchmark renders frames from scikit-image's photos; "
            "run `pip install -e '.[dev,bench]'`"
        ) from None
    image = np.asarray(getattr(skimage.data, name)(), np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return image


def panned_frames(
    count: int, size: tuple[int, int] = CAMERA_SIZE, image: Image | None = None
) -> Iterator[Image]:
    """`count` distinct frames: a window panning slowly over an enlarged real photo."""
    width, height = size
    source = photo("astronaut") if image is None else image
    base = resize(source, (int(width * 1.25), int(height * 1.25)))
    span_x = base.shape[1] - width
    span_y = base.shape[0] - height
    for i in range(count):
        phase = i / max(count - 1, 1)
        x = round(span_x * phase)
        y = round(span_y * (0.5 - 0.5 * np.cos(np.pi * phase)))
        yield np.ascontiguousarray(base[y : y + height, x : x + width])


class EncodedSource:
    """`FrameSource` decoding JPEG bytes per frame (a webcam's MJPEG or a file's decode).

    Like the sensor's OpenCV reader, each frame is decoded, resized to `size` (the
    detector's input, when given) and turned into RGB, in the reading thread. Without
    OpenCV the frames are copied instead, and the report says so.
    """

    def __init__(
        self, images: Iterable[Image], fps: float = 10.0, size: tuple[int, int] | None = None
    ) -> None:
        self.fps = fps
        self._size = size
        self._cv2: Any = None
        try:
            import cv2

            self._cv2 = cv2
        except ImportError:
            pass
        self._raw: list[Image] = []
        self._jpeg: list[Any] = []
        for image in images:
            if self._cv2 is None:
                self._raw.append(image.copy())
            else:
                bgr = self._cv2.cvtColor(image, self._cv2.COLOR_RGB2BGR)
                self._jpeg.append(
                    self._cv2.imencode(".jpg", bgr, [self._cv2.IMWRITE_JPEG_QUALITY, 90])[1]
                )
        self._count = len(self._raw) + len(self._jpeg)
        self._next = 0

    @property
    def decodes(self) -> bool:
        return self._cv2 is not None

    def open(self) -> None:
        pass

    def read(self) -> Frame | None:
        if self._next >= self._count:
            return None
        i = self._next
        self._next += 1
        if self._cv2 is not None:
            bgr = self._cv2.imdecode(self._jpeg[i], self._cv2.IMREAD_COLOR)
            size = self._size or (bgr.shape[1], bgr.shape[0])
            image: Image = to_rgb(self._cv2, bgr, size)
        else:
            image = self._raw[i].copy()
        return Frame(image, i, _ORIGIN + i / self.fps)

    def close(self) -> None:
        pass


class ListFrameSource:
    """`FrameSource` over frames already in memory (no capture cost)."""

    def __init__(
        self, images: Sequence[Image], fps: float = 10.0, count: int | None = None
    ) -> None:
        self._images = images
        self.fps = fps
        self._count = len(images) if count is None else count  # more than held: they cycle
        self._next = 0

    def open(self) -> None:
        pass

    def read(self) -> Frame | None:
        if self._next >= self._count:
            return None
        i = self._next
        self._next += 1
        return Frame(self._images[i % len(self._images)], i, _ORIGIN + i / self.fps)

    def close(self) -> None:
        pass


class StageTimedDetector:
    """Wraps a model detector and sums its `last_timings` over every call."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.totals: dict[str, float] = {}
        self.calls = 0

    @property
    def input_size(self) -> tuple[int, int]:
        size: tuple[int, int] = self.inner.input_size
        return size

    def detect(self, frame: Frame) -> Detections:
        result: Detections = self.inner.detect(frame)
        timings: Mapping[str, float] = self.inner.last_timings
        for stage, seconds in timings.items():
            self.totals[stage] = self.totals.get(stage, 0.0) + seconds
        self.calls += 1
        return result


DOOR = LineConfig(name="door", points=((0.1, 0.6), (0.9, 0.6)), inside=(0.5, 0.9))
ROOM = ZoneConfig(name="room", polygon=[(0.0, 0.6), (1.0, 0.6), (1.0, 1.0), (0.0, 1.0)])


def build_pipeline(
    source: Any, detector: Any, gate: Callable[[Frame], bool] | None = None
) -> Pipeline:
    """The sensor's pipeline with one door line and one zone, publishing to no sink."""
    return Pipeline(
        source=source,
        detector=detector,
        tracker=Tracker(TrackerSettings(), seed=0),
        counters=Counters([DOOR], [ROOM]),
        privacy=OutputPrivacy(PrivacyConfig()),
        publisher=Publisher(site="bench", sensor="bench", boot="bench", sinks=[]),
        bucket_seconds=60,
        gate=gate,
    )


@dataclass(frozen=True, slots=True)
class SensorSpeed:
    """One configuration's whole-sensor figures, all measured in one process."""

    model: str
    threads: int
    frames: int
    stages_ms: dict[str, float]
    pipeline_fps: float
    bare_fps: float
    cpu_ms_per_frame: float
    peak_rss_mb: float
    decodes_jpeg: bool
    capture: str = "mjpeg"
    round_ratios: tuple[float, ...] = ()

    @property
    def ratio(self) -> float:
        """Pipeline frame rate over the bare `invoke()` loop's: the median of the rounds'
        ratios when measured in rounds, else the ratio of the overall rates."""
        if self.round_ratios:
            return float(np.median(self.round_ratios))
        return self.pipeline_fps / self.bare_fps if self.bare_fps > 0 else 0.0


def _bare_seconds(detector: Any, frames: int) -> float:
    start = time.perf_counter()
    for _ in range(frames):
        detector.invoke()
    return time.perf_counter() - start


class _Window:
    """`FrameSource` giving the next `count` frames of a longer source, then None."""

    def __init__(self, inner: Any, count: int) -> None:
        self._inner = inner
        self._left = count

    def open(self) -> None:
        pass

    def read(self) -> Frame | None:
        if self._left <= 0:
            return None
        self._left -= 1
        frame: Frame | None = self._inner.read()
        return frame

    def close(self) -> None:
        pass


def peak_rss_kb() -> int:
    """This process's peak resident set size in KiB.

    Linux's VmHWM belongs to the process image and starts afresh at exec; `ru_maxrss`
    would carry over the forking parent's size into a fresh subprocess.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def measure_sensor(
    model: str,
    threads: int,
    frames: int,
    image: Image | None = None,
    *,
    warmup: int = 5,
    capture: str = "mjpeg",
    rounds: int = 0,
) -> SensorSpeed:
    """Run the pipeline on `frames` panned photo frames, in `rounds` rounds, each next to
    a bare invoke loop of as many frames (alternately before and after it).

    Each round gives one ratio of frame rates measured side by side, so the clock drifting
    or a neighbour's burst of load shifts both sides of that ratio alike; the reported
    ratio is the median over rounds. A fresh pipeline runs each round (its tracks start
    anew), on the next frames of the same pan.
    """
    from edge.detect import load_detector

    detector = load_detector(DetectorConfig(model=MODELS[model], threads=threads))
    rounds = max(1, min(rounds or ROUNDS, frames))
    per_round = max(1, frames // rounds)
    decodes = False
    if capture == "isp":
        # The Pi camera's ISP delivers RGB at the model's input size: no decode, no resize.
        # A short pan is held in memory and cycled, so the test data stays small.
        size = detector.input_size
        held = [resize(f, size) for f in panned_frames(min(frames, 30), image=image)]
        frame_source: Any = ListFrameSource(held, count=per_round * rounds)
    else:
        encoded = EncodedSource(
            panned_frames(per_round * rounds, CAPTURE_SIZES[capture], image=image),
            size=detector.input_size,
        )
        decodes = encoded.decodes
        frame_source = encoded
    for warm in panned_frames(warmup, image=image):
        detector.detect(Frame(warm, 0, _ORIGIN))
    timed = StageTimedDetector(detector)
    stage_totals: dict[str, float] = {}
    ratios: list[float] = []
    bare_wall = pipe_wall = cpu = 0.0
    done = 0
    for index in range(rounds):
        window: Any = _Window(frame_source, per_round)
        # Files and streams are read ahead by the sensor's prefetching reader.
        source = window if capture == "isp" else PrefetchSource(window)
        pipeline = build_pipeline(source, timed)
        before = index % 2 == 0
        bare = _bare_seconds(detector, per_round) if before else 0.0
        cpu0 = time.process_time()
        wall0 = time.perf_counter()
        summary = pipeline.run()
        wall = time.perf_counter() - wall0
        cpu += time.process_time() - cpu0
        if not before:
            bare = _bare_seconds(detector, per_round)
        bare_wall += bare
        pipe_wall += wall
        done += summary.frames
        ratios.append((summary.frames / wall) / (per_round / bare))
        for stage, total in pipeline.times.totals.items():
            stage_totals[stage] = stage_totals.get(stage, 0.0) + total
    n = max(done, 1)
    inner = {stage: total / n for stage, total in timed.totals.items()}
    outer = {stage: total / n for stage, total in stage_totals.items()}
    stages = {
        "capture": outer.get("capture", 0.0),
        "preprocess": inner.get("preprocess", 0.0),
        "inference": inner.get("inference", 0.0),
        "decode": inner.get("decode", 0.0),
        "track": outer.get("track", 0.0),
        "count": outer.get("count", 0.0),
        "publish": outer.get("publish", 0.0),
    }
    rss_kb = peak_rss_kb()
    return SensorSpeed(
        model=model,
        threads=threads,
        frames=done,
        stages_ms={k: v * 1e3 for k, v in stages.items()},
        pipeline_fps=done / pipe_wall,
        bare_fps=per_round * rounds / bare_wall,
        cpu_ms_per_frame=cpu / n * 1e3,
        peak_rss_mb=rss_kb / 1024.0,
        decodes_jpeg=decodes,
        capture=capture,
        round_ratios=tuple(ratios),
    )


def measure_in_subprocess(
    model: str,
    threads: int,
    frames: int,
    image_file: Path | None = None,
    capture: str = "mjpeg",
) -> SensorSpeed:
    """`measure_sensor` in a fresh interpreter, so peak RSS belongs to this configuration.

    `image_file` (a .npy photo) spares the child importing scikit-image, which the sensor
    never loads.
    """
    command = [
        sys.executable,
        "-m",
        "lab.bench.speed",
        "--model",
        model,
        "--threads",
        str(threads),
        "--frames",
        str(frames),
        "--capture",
        capture,
        *(["--image", str(image_file)] if image_file is not None else []),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no message"]
        raise RuntimeError(f"speed run {model}/{threads}/{capture} failed: {tail[0]}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    data["round_ratios"] = tuple(data.get("round_ratios", ()))
    return SensorSpeed(**data)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.bench.speed")
    parser.add_argument("--model", choices=sorted(MODELS), default="uint8")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frames", type=int, default=80)
    parser.add_argument("--image", type=Path, help="a .npy RGB photo (default: astronaut)")
    parser.add_argument(
        "--capture",
        choices=["mjpeg", "webcam", "isp"],
        default="mjpeg",
        help="mjpeg: decode a 640x480 JPEG per frame (a file); webcam: a 320x240 one; "
        "isp: frames at model size",
    )
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="pipeline/bare rounds")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    image = None if args.image is None else np.load(args.image)
    result = measure_sensor(
        args.model, args.threads, args.frames, image, capture=args.capture, rounds=args.rounds
    )
    sys.stdout.write(json.dumps(asdict(result)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
