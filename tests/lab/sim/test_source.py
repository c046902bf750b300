"""The synthetic source: the scene's frame count, indices and clock, tiny reused images."""

from __future__ import annotations

import pytest

from edge.frames import FrameSource, SourceError
from edge.plugins import plugin_uri
from lab.sim.plugin import open_synthetic
from lab.sim.scene import scene_from_dict
from lab.sim.source import SyntheticSource


def test_yields_the_scene_frames_on_its_clock_then_ends() -> None:
    scene = scene_from_dict(
        {"fps": 4, "duration": 2.5, "zones": [{"name": "z", "polygon": [[0, 0], [1, 0], [1, 1]]}]}
    )
    source = SyntheticSource(scene, (32, 24), origin=500.0)
    assert isinstance(source, FrameSource)
    source.open()
    frames = []
    while (f := source.read()) is not None:
        frames.append(f)
    assert [f.index for f in frames] == list(range(10))
    assert [f.timestamp for f in frames] == [500.0 + i / 4 for i in range(10)]
    assert frames[0].size == (32, 24)
    assert source.read() is None


def test_reopening_continues_where_it_stopped() -> None:
    scene = scene_from_dict(
        {"fps": 10, "duration": 1, "zones": [{"name": "z", "polygon": [[0, 0], [1, 0], [1, 1]]}]}
    )
    source = SyntheticSource(scene, origin=0.0)
    source.open()
    assert source.read().index == 0  # type: ignore[union-attr]
    source.close()
    with pytest.raises(SourceError, match="not open"):
        source.read()
    source.open()
    assert source.read().index == 1  # type: ignore[union-attr]


def test_the_plugin_loads_a_shipped_scene_once_for_source_and_detector() -> None:
    uri = plugin_uri("synthetic:door_single")
    assert uri is not None and uri.scheme == "synthetic"
    pair = uri.open()
    source = pair.source((64, 48), origin=0.0)
    assert isinstance(source, SyntheticSource)
    assert source.scene is pair.detector.scene
    assert source.scene.name == "door_single"
    source.open()
    frame = source.read()
    assert frame is not None
    assert frame.size == (64, 48)


def test_other_uris_are_the_sensors_own() -> None:
    for uri in ("picamera2", "0", "rtsp://cam/1", "clips/door.avi", "C:/x.avi", "nope:thing"):
        assert plugin_uri(uri) is None


def test_the_plugin_reports_an_unknown_scene_in_one_sentence() -> None:
    with pytest.raises(SourceError, match="unknown scene 'nope'; use one of"):
        open_synthetic("nope")
