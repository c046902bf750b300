"""The privacy manifest: what this sensor collects and never collects, and its settings.

Published retained on `privacy` as JSON (`PrivacyManifest.to_json`) and printed as
text by `headcount privacy` (`render_text`); both come from the same model.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from edge import __version__
from edge.config import (
    Config,
    DetectorConfig,
    JournalConfig,
    PrivacyConfig,
    PublishConfig,
)
from edge.messages import Message
from edge.privacy.noise import MECHANISM, buckets_per_day, daily_budget

log = logging.getLogger(__name__)

COLLECTED = (
    "zone occupancy now (an integer per zone)",
    "cumulative line crossings in and out since boot (integers per line)",
    "per-bucket line crossings and zone mean/max occupancy",
)
NOT_COLLECTED = (
    "images, video or any pixels",
    "faces, body features or any biometric data",
    "bounding boxes, keypoints or positions",
    "track ids or any per-person identifier",
    "per-person timestamps or trajectories",
    "appearance features or embeddings (the tracker uses motion only)",
)


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DecodeInfo(_Part):
    source: str = Field(description="Pi camera, webcam, video file, stream, or '<scheme> plug-in'.")
    width: int | None = Field(ge=1, description="Width frames are decoded at (null: not known).")
    height: int | None = Field(ge=1, description="Height frames are decoded at (null: not known).")


class CaptureInfo(_Part):
    width: int = Field(ge=1, description="Frame width the detector gets, in pixels.")
    height: int = Field(ge=1, description="Frame height the detector gets, in pixels.")
    decoded: DecodeInfo | None = Field(
        default=None,
        description="The size frames exist at in memory before the resize to width x height: "
        "the Pi camera's ISP delivers the capture size, a webcam its nearest mode, a video "
        "file or stream its own full size (null: not reported).",
    )


class ModelInfo(_Part):
    name: str = Field(description="The detector model's file name.")
    sha256: str | None = Field(description="SHA-256 of the model file (null: not found).")


class NoiseInfo(_Part):
    mechanism: Literal["two-sided geometric"] = MECHANISM
    applies_to: str = "per-bucket line in/out counts; state totals are their sums"
    epsilon_per_bucket: float = Field(gt=0, description="Epsilon spent per crossing.")
    sensitivity: int = Field(default=1, ge=1, description="A crossing changes one count by 1.")
    buckets_per_day: int = Field(ge=1)
    daily_budget: float = Field(
        gt=0, description="epsilon x buckets per day: someone crossing in every bucket."
    )
    random_source: str = "operating system CSPRNG (secrets.SystemRandom)"


class RetentionInfo(_Part):
    journal: str = Field(description="What the only file the sensor writes holds.")
    journal_max_messages: int = Field(ge=1, description="Oldest messages dropped beyond.")


class PrivacyManifest(Message):
    """The `privacy` message; unknown keys are refused like every published message."""

    v: Literal[1] = 1
    site: str | None = None
    sensor: str | None = None
    software: str = Field(description="headcount version.")
    collected: list[str]
    not_collected: list[str]
    capture: CaptureInfo | None = Field(description="Capture resolution (null: not known).")
    model: ModelInfo
    k: int = Field(ge=0, description="Zone counts below k are published as 0 (0: off).")
    bucket_seconds: int = Field(ge=1)
    noise: NoiseInfo | None = Field(description="Differential privacy (null: off).")
    guard: Literal["enforce", "warn", "off"]
    retention: RetentionInfo

    def to_json(self) -> str:
        """Compact JSON; unlike counts, nulls are kept: "noise": null says noise is off."""
        return self.model_dump_json(by_alias=True)


def sha256_file(path: Path) -> str | None:
    """Hex SHA-256 of a file, or None if it cannot be read."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def build_manifest(
    config: Config | None,
    capture_size: tuple[int, int] | None,
    model_name: str,
    model_sha256: str | None,
    decoded: DecodeInfo | None = None,
) -> PrivacyManifest:
    """The manifest for a config (None: the defaults) and the detector actually loaded;
    `decoded` is what the source reports of its decode size."""
    privacy = config.privacy if config is not None else PrivacyConfig.model_validate({})
    publish = config.publish if config is not None else PublishConfig.model_validate({})
    journal = config.journal if config is not None else JournalConfig.model_validate({})
    noise = None
    if privacy.epsilon is not None:
        noise = NoiseInfo(
            epsilon_per_bucket=privacy.epsilon,
            buckets_per_day=buckets_per_day(publish.bucket_seconds),
            daily_budget=daily_budget(privacy.epsilon, publish.bucket_seconds),
        )
    return PrivacyManifest(
        site=config.sensor.site if config is not None else None,
        sensor=config.sensor.id if config is not None else None,
        software=__version__,
        collected=list(COLLECTED),
        not_collected=list(NOT_COLLECTED),
        capture=CaptureInfo(width=capture_size[0], height=capture_size[1], decoded=decoded)
        if capture_size is not None
        else None,
        model=ModelInfo(name=model_name, sha256=model_sha256),
        k=privacy.k,
        bucket_seconds=publish.bucket_seconds,
        noise=noise,
        guard=privacy.guard,
        retention=RetentionInfo(
            journal="closed count buckets not yet acknowledged by the broker, nothing else",
            journal_max_messages=journal.max_messages,
        ),
    )


def manifest_for_config(config: Config | None) -> PrivacyManifest:
    """The manifest as `headcount privacy` shows it: the model is opened to learn its size.

    If the model cannot be opened here, the capture size is reported as unknown.
    """
    from edge.detect import ModelError, load_detector, resolve_model

    detector_config = config.detector if config is not None else DetectorConfig.model_validate({})
    path = resolve_model(detector_config.model)
    capture: tuple[int, int] | None = None
    try:
        detector = load_detector(detector_config)
    except ModelError as error:
        log.warning("capture size unknown: %s", error)
    else:
        capture = detector.input_size  # the frame size the sensor asks its source for
    decoded = None
    if capture is not None:
        from edge.sources import probe_decode_size, source_kind

        uri = config.source.uri if config is not None else "picamera2"
        size = probe_decode_size(uri, capture)
        decoded = DecodeInfo(
            source=source_kind(uri),
            width=size[0] if size is not None else None,
            height=size[1] if size is not None else None,
        )
    return build_manifest(config, capture, path.name, sha256_file(path), decoded)


def render_text(manifest: PrivacyManifest) -> str:
    """The manifest as plain text for a person, one fact a line."""
    capture = (
        f"{manifest.capture.width}x{manifest.capture.height} pixels, kept in memory only"
        if manifest.capture is not None
        else "unknown (the model could not be opened)"
    )
    decoding = _decoding_text(manifest.capture)
    if manifest.noise is None:
        noise = "off (line counts are exact)"
    else:
        n = manifest.noise
        noise = (
            f"{n.mechanism}, epsilon {n.epsilon_per_bucket:g} per bucket, sensitivity "
            f"{n.sensitivity}; daily budget {n.daily_budget:g} "
            f"({n.buckets_per_day} buckets/day); on {n.applies_to}; from the {n.random_source}"
        )
    who = (
        f"sensor {manifest.sensor} at site {manifest.site}"
        if manifest.sensor is not None
        else "default settings (no config given)"
    )
    lines = [
        f"headcount {manifest.software} privacy manifest (v{manifest.v}) for {who}",
        "",
        "Published (anonymous counts only):",
        *(f"  - {item}" for item in manifest.collected),
        "",
        "Never stored or sent:",
        *(f"  - {item}" for item in manifest.not_collected),
        "",
        f"Capture:       {capture}",
        f"Decoding:      {decoding}",
        f"Model:         {manifest.model.name} sha256 {manifest.model.sha256 or 'unknown'}",
        f"k threshold:   {manifest.k or 'off'}"
        + (f" (zone counts below {manifest.k} are published as 0)" if manifest.k else ""),
        f"Buckets:       {manifest.bucket_seconds} s",
        f"Noise:         {noise}",
        f"Runtime guard: {manifest.guard}",
        f"Disk:          {manifest.retention.journal}; at most "
        f"{manifest.retention.journal_max_messages} messages",
    ]
    return "\n".join(lines) + "\n"


def _decoding_text(capture: CaptureInfo | None) -> str:
    """Where frames are larger than the capture size before they are resized, if anywhere."""
    decoded = capture.decoded if capture is not None else None
    if capture is None or decoded is None:
        return "not reported by the source"
    if decoded.width is None or decoded.height is None:
        return f"{decoded.source}: size not known here (a running sensor reports it on MQTT)"
    size = f"{decoded.width}x{decoded.height}"
    if (decoded.width, decoded.height) == (capture.width, capture.height):
        return f"{decoded.source} delivers {size}; no larger frame exists in the process"
    return (
        f"{decoded.source} decoded at {size} in memory, each frame resized to "
        f"{capture.width}x{capture.height} at once"
    )
