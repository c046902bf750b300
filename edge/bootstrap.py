"""Wires real (or simulated) parts together from a Config: the only place that knows them all."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from edge.commands import CommandInbox
from edge.config import Config
from edge.count import Counters
from edge.detections import Detector
from edge.frames import Frame, FrameSource
from edge.gate import gate_from_config
from edge.pipeline import Pipeline, Watchdog
from edge.plugins import plugin_uri
from edge.privacy.guard import Guard, install_guard
from edge.privacy.manifest import DecodeInfo, PrivacyManifest, build_manifest
from edge.privacy.output import OutputPrivacy
from edge.publish import DroppedCount, Publisher, new_boot_id
from edge.sinks import Sink, StdoutSink
from edge.sources.prefetch import PrefetchSource
from edge.track import Tracker, TrackerSettings
from edge.tracks import Tracks

if TYPE_CHECKING:
    from edge.mqtt.client import MqttSink

log = logging.getLogger(__name__)

SinkName = Literal["stdout", "mqtt", "both", "none"]


class StartupError(Exception):
    """A start-up problem the user can fix; the message says how. Exit status 2."""


def tracker_settings(config: Config) -> TrackerSettings:
    return TrackerSettings.from_config(config.detector, config.tracker)


def build_detector(config: Config) -> Detector:
    """The TFLite detector the config names."""
    from edge.detect import ModelError, load_detector

    try:
        return load_detector(config.detector)
    except ModelError as error:
        raise StartupError(str(error)) from None


def build_source(
    config: Config,
    uri: str,
    detector: Detector,
    realtime: bool,
    stop: threading.Event | None = None,
) -> FrameSource:
    from edge.frames import SourceError
    from edge.sources import open_source

    check_video_path(uri)
    width, height = detector.input_size
    size = (width, height)  # a tiled detector already asks for the whole frame
    try:
        source = open_source(
            uri, size, realtime=realtime or config.source.realtime, fps=config.source.fps
        )
    except SourceError as error:
        raise StartupError(str(error)) from None
    if uri == "picamera2":
        return source  # the camera has its own buffers
    _probe(source)
    return PrefetchSource(source, stop=stop)


def _probe(source: FrameSource) -> None:
    """Open and close an OpenCV source once, so a file it cannot decode (or a webcam or
    stream that is not there) is told at start, while library chatter is still held."""
    from edge.frames import SourceError

    try:
        source.open()
    except SourceError as error:
        raise StartupError(f"{error}; check [source] uri or --source") from None
    finally:
        source.close()


def check_video_path(uri: str) -> None:
    """A video file's path: missing, a folder and unreadable each get their own sentence."""
    from edge.sources import STREAM_SCHEMES

    text = uri.strip()
    if (
        not text
        or text == "picamera2"
        or plugin_uri(text) is not None
        or text.isdigit()
        or text.lower().startswith(STREAM_SCHEMES)
    ):
        return
    path = Path(text)
    if not path.exists():
        raise StartupError(f"video file {path} does not exist; check [source] uri or --source")
    if path.is_dir():
        raise StartupError(
            f"{path} is a folder, not a video file; give the path of a video file "
            "in [source] uri or --source"
        )
    if not path.is_file():
        return  # a device node such as /dev/video0: OpenCV opens it as a camera
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        raise StartupError(
            f"cannot read video file {path} ({reason}); let the sensor's user read it"
        ) from None


def build_input(
    config: Config, uri: str, realtime: bool, stop: threading.Event | None = None
) -> tuple[Detector, FrameSource]:
    """The detector and the frame source: a plug-in's pair (a seeded scene), or the real ones."""
    from edge.frames import SourceError

    plugin = plugin_uri(uri)
    if plugin is None:
        detector = build_detector(config)
        return detector, build_source(config, uri, detector, realtime, stop)
    try:
        pair = plugin.open()
        width, height = pair.detector.input_size
        return pair.detector, pair.source((width, height))
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
    install_guard_hook: bool = True,
) -> Sensor:
    """Build the sensor; raises StartupError with one sentence for anything a user can fix.

    The privacy guard (`[privacy] guard`) is installed last, after the runtime, the
    source's libraries and the MQTT client are loaded and before any frame is taken.
    """
    uri = source_uri if source_uri is not None else config.source.uri
    stop = stop if stop is not None else threading.Event()
    inbox = CommandInbox()
    detector, source = build_input(config, uri, realtime, stop)
    publisher = build_publisher(
        config, sink, inbox, lambda: sensor_manifest(config, detector, uri, source), extra_sinks
    )
    guard = (
        _guard_between_setups(publisher, config, uri, sink, watchdog)
        if install_guard_hook
        else None
    )
    pipeline = Pipeline(
        source=source,
        detector=detector,
        tracker=Tracker(tracker_settings(config)),
        counters=Counters(config.lines, config.zones),
        privacy=OutputPrivacy(config.privacy),
        publisher=publisher,
        bucket_seconds=config.publish.bucket_seconds,
        publish_every=publish_every,
        heartbeat=config.publish.heartbeat_seconds,
        inbox=inbox,
        watchdog=watchdog,
        stop=stop,
        reopen_seconds=config.source.reopen_seconds,
        on_frame=on_frame,
        gate=gate_from_config(config.detector),
        guard_check=guard.check if guard is not None else None,
    )
    return Sensor(config, pipeline, publisher, inbox, detector, stop)


def build_publisher(
    config: Config,
    sink: SinkName,
    inbox: CommandInbox,
    manifest: Callable[[], PrivacyManifest],
    extra: list[Sink] | None = None,
) -> Publisher:
    """The output side: this boot's id, the sinks (the MQTT sink gets the id, the manifest
    and the command inbox), then the publisher over them; every sink gets each message."""
    boot = new_boot_id()
    sinks: list[Sink] = [StdoutSink()] if sink in ("stdout", "both") else []
    mqtt: MqttSink | None = None
    if sink in ("mqtt", "both"):
        mqtt = build_mqtt_sink(config, boot, inbox, manifest())
        sinks.append(mqtt)
    return Publisher(
        site=config.sensor.site,
        sensor=config.sensor.id,
        boot=boot,
        sinks=[*sinks, *(extra or [])],
        dropped=_dropped_count(mqtt),
    )


def sensor_manifest(
    config: Config, detector: Detector, uri: str, source: FrameSource
) -> PrivacyManifest:
    """The privacy manifest of this config, the detector loaded and the source's decode size."""
    return build_manifest(
        config,
        detector.input_size,
        getattr(detector, "model_name", "simulated"),
        getattr(detector, "model_sha256", None),
        _decode_info(uri, source),
    )


def _dropped_count(mqtt: MqttSink | None) -> DroppedCount | None:
    """The journal's count of dropped buckets, for every snapshot (None: no journal)."""
    if mqtt is None:
        return None
    return lambda: mqtt.journal.dropped


def _guard_between_setups(
    publisher: Publisher, config: Config, uri: str, sink: SinkName, watchdog: Watchdog | None
) -> Guard:
    """Install the guard while no sink is half-way through setting up its own sockets (a
    loopback pair bound before the guard and connected after it would be refused)."""
    with contextlib.ExitStack() as held:
        for each in publisher.sinks:
            lock = getattr(each, "socket_setup", None)
            if lock is not None:
                held.enter_context(lock)
        return _install_guard(config, uri, sink, watchdog)


def _install_guard(config: Config, uri: str, sink: SinkName, watchdog: Watchdog | None) -> Guard:
    """Load what the source needs, then forbid writes, peers and subprocesses for good."""
    if uri == "picamera2":
        with contextlib.suppress(ImportError):
            import picamera2  # noqa: F401  (loads its libraries before the guard)
    elif plugin_uri(uri) is None:
        with contextlib.suppress(ImportError):
            import cv2  # noqa: F401
    broker = (config.mqtt.host, config.mqtt.port) if sink in ("mqtt", "both") else None
    journal = config.journal.dir if sink in ("mqtt", "both") else None
    return install_guard(
        config.privacy.guard,
        journal_dir=journal,
        broker=broker,
        notify_socket=getattr(watchdog, "address", None),
    )


def _decode_info(uri: str, source: FrameSource) -> DecodeInfo:
    """What the manifest says of the size frames are decoded at (before the guard: a
    file's or webcam's header is read, no frame)."""
    from edge.sources import decode_size, source_kind

    size = decode_size(source)
    return DecodeInfo(
        source=source_kind(uri),
        width=size[0] if size is not None else None,
        height=size[1] if size is not None else None,
    )


def build_mqtt_sink(
    config: Config, boot: str, inbox: CommandInbox, manifest: PrivacyManifest
) -> MqttSink:
    from edge.mqtt.client import MqttConfigError, MqttSink

    try:
        sink = MqttSink(config, boot=boot, inbox=inbox, manifest=manifest)
        sink.start()
    except MqttConfigError as error:
        raise StartupError(str(error)) from None
    return sink
