"""The privacy manifest states the settings truthfully, and refuses unknown keys."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from edge import __version__
from edge.config import Config, parse_config
from edge.detect import resolve_model
from edge.privacy.manifest import (
    PrivacyManifest,
    build_manifest,
    manifest_for_config,
    render_text,
    sha256_file,
)


def config(**privacy: object) -> Config:
    return parse_config(
        {
            "sensor": {"id": "door-1", "site": "hq"},
            "lines": [
                {"name": "entrance", "points": [[0.1, 0.6], [0.9, 0.6]], "inside": [0.5, 0.9]}
            ],
            "publish": {"bucket_seconds": 300},
            "privacy": privacy,
        }
    )


def test_manifest_states_settings_and_roundtrips() -> None:
    cfg = config(k=3, epsilon=0.5, guard="warn")
    manifest = build_manifest(cfg, (320, 240), "m.tflite", "ab" * 32)
    assert manifest.software == __version__
    assert (manifest.k, manifest.bucket_seconds, manifest.guard) == (3, 300, "warn")
    assert manifest.capture is not None and (manifest.capture.width, manifest.capture.height) == (
        320,
        240,
    )
    assert manifest.noise is not None
    assert manifest.noise.epsilon_per_bucket == 0.5
    assert manifest.noise.buckets_per_day == 288
    assert manifest.noise.daily_budget == pytest.approx(144.0)
    assert any("track ids" in item for item in manifest.not_collected)
    assert any("images" in item for item in manifest.not_collected)
    again = PrivacyManifest.model_validate_json(manifest.to_json())
    assert again == manifest


def test_noise_off_is_stated_as_null() -> None:
    manifest = build_manifest(config(), None, "m.tflite", None)
    data = json.loads(manifest.to_json())
    assert data["noise"] is None
    assert data["k"] == 0
    assert data["guard"] == "enforce"
    assert "Noise:         off" in render_text(manifest)
    assert "k threshold:   off" in render_text(manifest)


def test_unknown_keys_are_refused() -> None:
    manifest = build_manifest(config(), (1, 1), "m", None)
    data = json.loads(manifest.to_json())
    data["frame_sample"] = "AAAA"
    with pytest.raises(ValidationError):
        PrivacyManifest.model_validate(data)
    data.pop("frame_sample")
    data["capture"]["pixels"] = 1
    with pytest.raises(ValidationError):
        PrivacyManifest.model_validate(data)


def test_text_carries_every_setting() -> None:
    manifest = build_manifest(config(k=2, epsilon=1.0), (300, 300), "x.tflite", "cd" * 32)
    text = render_text(manifest)
    for needle in (
        "300x300",
        "x.tflite",
        "cd" * 32,
        "k threshold:   2",
        "300 s",
        "epsilon 1 per bucket",
        "daily budget 288",
        "Runtime guard: enforce",
        __version__,
        "door-1",
    ):
        assert needle in text, needle


def test_sha256_of_the_shipped_model(tmp_path: Path) -> None:
    shipped = resolve_model("default")
    assert shipped.is_file(), "the shipped model is missing from edge/models"
    manifest = manifest_for_config(config())
    assert manifest.model.name == shipped.name
    assert manifest.model.sha256 == hashlib.sha256(shipped.read_bytes()).hexdigest()
    assert manifest.capture is not None and manifest.capture.width > 0
    assert sha256_file(tmp_path / "absent.tflite") is None
