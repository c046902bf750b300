"""Wires real (or simulated) parts together from a Config: the only place that knows them all."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from edge.commands import CommandInbox
from edge.config import Config
from edge.count import Counters
from edge.detections import Detector
from edge.frames import Frame, FrameSource
from edge.pipeline import Pipeline, Watchdog
from edge.publish import Publisher
from edge.sinks import Sink, StdoutSink
from edge.track import Tracker, TrackerSettings
from edge.tracks import Tracks

log = logging.getLogger(__name__)

SinkName = Literal["stdout", "mqtt", "both", "none"]
SYNTHETIC = "synthetic:"


class StartupError(Exception):
    """A start-up problem the user can fix; the message says how. Exit status 2."""


def tracker_settings(config: Config) -> TrackerSettings:
    return TrackerSettings(
        high_score=config.detector.score_threshold,
        low_score=config.detector.low_score_threshold,
        match_iou=config.tracker.match_iou,
        min_hits=config.tracker.min_hits,
        max_age_seconds=config.tracker.max_age_seconds,
        coast_seconds=config.tracker.coast_seconds,
    )


def build_detector(config: Config, uri: str) -> Detector:
    """The simulated detector for a synthetic scene, else the TFLite detector."""
    if uri.startswith(SYNTHETIC):
        from edge.sim.detector import SimulatedDetector
        from edge.sim.scene import load_scene

        scene = load_scene(uri.removeprefix(SYNTHETIC))
        return SimulatedDetector(scene)
    from edge.detect import ModelError, load_detector

    try:
        return load_detector(config.detector)
    except ModelError as error:
        raise StartupError(str(error)) from None


def build_source(config: Config, uri: str, detector: Detector, realtime: bool) -> FrameSource:
    from edge.frames import SourceError
    from edge.sources import open_source

    width, height = detector.input_size
    size = (width, height)  # a tiled detector already asks for the whole frame
    try:
        return open_source(
            uri, size, realtime=realtime or config.source.realtime, fps=config.source.fps
        )
    except SourceError as error:
        raise StartupError(str(error)) from None


@dataclass
class Sensor:
    """Everything one run needs, built but not started."""

    config: Config
    pipeline: Pipeline
    publisher: Publisher
    inbox: CommandInbox
    detector: Detector
    stop: threading.Event
    closers: list[Callable[[], None]] = field(default_factory=list)


def build_sensor(
    config: Config,
    *,
    source_uri: str | None = None,
    sink: SinkName = "stdout",
    extra_sinks: list[Sink] | None = None,
    publish_every: float = 1.0,
    realtime: bool = False,
    watchdog: Watchdog | None = None,
    on_frame: Callable[[Frame, Tracks], None] | None = None,
    stop: threading.Event | None = None,
) -> Sensor:
    """Build the sensor; raises StartupError with one sentence for anything a user can fix."""
    uri = source_uri if source_uri is not None else config.source.uri
    stop = stop if stop is not None else threading.Event()
    inbox = CommandInbox()
    detector = build_detector(config, uri)
    source = build_source(config, uri, detector, realtime)
    sinks: list[Sink] = []
    if sink in ("stdout", "both"):
        sinks.append(StdoutSink())
    publisher = Publisher(site=config.sensor.site, sensor=config.sensor.id, sinks=sinks)
    if sink in ("mqtt", "both"):
        sinks.append(build_mqtt_sink(config, publisher.boot, inbox))
    sinks.extend(extra_sinks or [])
    publisher.sinks = sinks
    pipeline = Pipeline(
        source=source,
        detector=detector,
        tracker=Tracker(tracker_settings(config)),
        counters=Counters(config.lines, config.zones),
        publisher=publisher,
        bucket_seconds=config.publish.bucket_seconds,
        publish_every=publish_every,
        heartbeat=config.publish.heartbeat_seconds,
        inbox=inbox,
        watchdog=watchdog,
        stop=stop,
        reopen_seconds=config.source.reopen_seconds,
        on_frame=on_frame,
    )
    return Sensor(config, pipeline, publisher, inbox, detector, stop)


def build_mqtt_sink(config: Config, boot: str, inbox: CommandInbox) -> Sink:
    from edge.mqtt.client import MqttConfigError, MqttSink

    try:
        sink = MqttSink(config, boot=boot, inbox=inbox)
        sink.start()
    except MqttConfigError as error:
        raise StartupError(str(error)) from None
    return sink
