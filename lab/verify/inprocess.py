"""Runs the sensor in this process on a clip or a seeded scene, through its own bootstrap.

The sensor is built by `edge.bootstrap.build_sensor` exactly as `headcount run` builds it,
with no stdout or MQTT sink and one recording sink, so the counts scored are the counts
`headcount run` would publish; a snapshot goes out after every frame that changed one. The
snapshots' `frame` field gives the clip time (frame / fps). The runtime privacy guard is
turned off for this run only: it would forbid writing the report afterwards.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from edge.bootstrap import StartupError, build_sensor
from edge.config import Config
from edge.frames import SourceError
from edge.messages import Bucket, Snapshot
from lab.verify.record import CountLog
from lab.verify.score import Check, Observed

log = logging.getLogger(__name__)


class RunError(Exception):
    """The run could not start or ended in a failure; the message says what to do."""


@dataclass
class RecordingSink:
    """A `Sink` that keeps every snapshot (as counted crossings) and every closed bucket."""

    counts: CountLog
    fps: float
    buckets: list[Bucket] = field(default_factory=list)

    def publish_snapshot(self, snapshot: Snapshot) -> None:
        self.counts.add(snapshot, snapshot.frame / self.fps)

    def publish_bucket(self, bucket: Bucket) -> None:
        self.buckets.append(bucket)

    def close(self) -> None:
        """Nothing to flush."""


@dataclass(frozen=True)
class Run:
    """What one run observed, and the checks it could make by itself."""

    observed: Observed
    checks: tuple[Check, ...]
    frames: int


def clip_fps(video: Path) -> float:
    """The frame rate a video file declares (OpenCV), or RunError saying to pass --fps."""
    try:
        import cv2
    except ImportError:
        raise RunError(
            "reading a video file needs OpenCV: pip install 'headcount[opencv]'"
        ) from None
    capture = cv2.VideoCapture(str(video))
    try:
        if not capture.isOpened():
            raise RunError(f"video {video} cannot be opened; pass a readable video file")
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    finally:
        capture.release()
    if not fps > 0:
        raise RunError(f"video {video} declares no frame rate; pass --fps")
    return fps


def buckets_check(buckets: list[Bucket], observed: Observed) -> Check:
    """The closed buckets of the run add up exactly to the counted totals (nothing lost)."""
    if any(b.noise for b in buckets):
        return Check("buckets add up", True, "not checked: bucket counts carry privacy noise")
    summed = {name: {"in": 0, "out": 0} for name in observed.totals}
    seen: set[tuple[str, int]] = set()
    for bucket in buckets:
        if (bucket.boot, bucket.seq) in seen:
            continue
        seen.add((bucket.boot, bucket.seq))
        for name, totals in bucket.lines.items():
            row = summed.setdefault(name, {"in": 0, "out": 0})
            row["in"] += totals.in_
            row["out"] += totals.out
    if summed == observed.totals:
        return Check("buckets add up", True, f"{len(seen)} buckets add up to the totals")
    return Check(
        "buckets add up", False, f"the buckets sum to {summed} but the totals are {observed.totals}"
    )


def run_in_process(config: Config, source_uri: str, fps: float) -> Run:
    """Run the sensor over `source_uri` to its end; RunError for anything a user can fix."""
    config = config.model_copy(
        update={"privacy": config.privacy.model_copy(update={"guard": "off"})}
    )
    counts = CountLog(
        tuple(line.name for line in config.lines), tuple(zone.name for zone in config.zones)
    )
    recorder = RecordingSink(counts, fps)
    try:
        sensor = build_sensor(
            config, source_uri=source_uri, sink="none", extra_sinks=[recorder], publish_every=0
        )
    except StartupError as error:
        raise RunError(str(error)) from None
    try:
        summary = sensor.pipeline.run()
    except SourceError as error:
        raise RunError(f"{error}; check the clip") from None
    observed = counts.observed()
    log.info("ran %d frames of %s; counted %s", summary.frames, source_uri, observed.totals)
    return Run(observed, (buckets_check(recorder.buckets, observed),), summary.frames)
