"""The size frames are decoded at, before the resize to the detector's input, is what the
privacy manifest states: measured on a real video file (OpenCV's vtest.avi, 768x576)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge.privacy.manifest import DecodeInfo, build_manifest, render_text
from edge.sources import decode_size, open_source, source_kind
from edge.sources.prefetch import PrefetchSource

REPO = Path(__file__).resolve().parents[2]
CAPTURE = (300, 300)


def sample_video() -> Path:
    folder = Path(os.environ.get("HEADCOUNT_SAMPLES", Path.home() / ".cache/headcount/samples"))
    video = folder / "vtest.avi"
    if not video.is_file():
        pytest.fail(f"{video} is missing: run `make samples`")
    return video


def test_a_video_file_states_its_own_size_and_frames_are_decoded_at_it() -> None:
    source = PrefetchSource(open_source(str(sample_video()), CAPTURE))
    assert decode_size(source) == (768, 576)  # from the header, before any frame
    source.open()
    frame = source.read()
    assert frame is not None and frame.image.shape == (300, 300, 3)
    assert source.inner.decoded == (768, 576)  # type: ignore[attr-defined]
    assert decode_size(source) == (768, 576)
    source.close()


def test_the_source_kind_never_shows_the_uri() -> None:
    assert source_kind("rtsp://admin:secret@10.0.0.5/live") == "stream"
    assert source_kind("/srv/videos/door.mp4") == "video file"
    assert source_kind("0") == "webcam"
    assert source_kind("picamera2") == "Pi camera"


def test_the_manifest_text_says_where_larger_frames_exist() -> None:
    video = build_manifest(
        None, CAPTURE, "m", None, DecodeInfo(source="video file", width=768, height=576)
    )
    text = render_text(video)
    assert "video file decoded at 768x576 in memory, each frame resized to 300x300" in text
    camera = build_manifest(
        None, CAPTURE, "m", None, DecodeInfo(source="Pi camera", width=300, height=300)
    )
    assert "Pi camera delivers 300x300; no larger frame exists in the process" in render_text(
        camera
    )
    stream = build_manifest(
        None, CAPTURE, "m", None, DecodeInfo(source="stream", width=None, height=None)
    )
    assert "stream: size not known here" in render_text(stream)


def test_headcount_privacy_states_the_decode_size_of_the_configured_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        "[sensor]\nid = 'd'\nsite = 's'\n[[zones]]\nname = 'z'\npolygon = [[0, 0], [1, 0], [1, 1]]\n"
        f"[source]\nuri = '{sample_video()}'\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "edge.cli", "privacy", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    assert "Capture:       300x300 pixels" in done.stdout
    assert "Decoding:      video file decoded at 768x576 in memory" in done.stdout
