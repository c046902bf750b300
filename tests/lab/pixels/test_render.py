"""The pixel scenes: real cut-outs drawn where the seeded scene says, found by the real detector."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.config import DetectorConfig
from edge.detect import load_detector
from edge.frames import Frame
from lab.pixels.render import (
    PixelScene,
    Renderer,
    RenderSpec,
    load_pixel_scene,
    pixel_scene_names,
    write_video,
)
from lab.pixels.sprites import people
from lab.sim.scene import SceneError, scene_from_dict


def _one_person(x: float, y: float, height: float = 0.5, **render: object) -> PixelScene:
    """A 2-frame scene with one person standing at (x, y), drawn without noise."""
    scene = scene_from_dict(
        {
            "fps": 10,
            "duration": 0.2,
            "people": [{"times": [0.0, 1.0], "path": [[x, y], [x, y]], "height": height}],
        },
        "one",
    )
    return PixelScene(scene, RenderSpec.model_validate({"noise": 0.0, **render}))


def test_every_sprite_is_a_person_cut_out_with_feet_at_the_bottom() -> None:
    sprites = people()
    assert len(sprites) == 6
    for sprite in sprites:
        h, w = sprite.alpha.shape
        assert sprite.rgb.shape == (h, w, 3)
        assert h > w, f"{sprite.name} is not upright"
        assert sprite.alpha.min() >= 0.0 and sprite.alpha.max() <= 1.0
        assert sprite.alpha[-3:].max() > 0.5, f"{sprite.name} has no feet at its bottom"


def test_shipped_scenes_load_with_their_ground_truth() -> None:
    names = pixel_scene_names()
    assert {"signpost", "far_path", "groups"} <= set(names)
    for name in names:
        pixel = load_pixel_scene(name)
        truth = pixel.scene.ground_truth()
        assert sum(c["in"] + c["out"] for c in truth.values()) > 0


def test_a_person_is_drawn_on_the_scene_box_with_perspective() -> None:
    pixel = _one_person(0.5, 0.9, height=0.5)
    renderer = Renderer(pixel)
    empty = Renderer(PixelScene(scene_from_dict({"fps": 10, "duration": 0.2}, "e"), pixel.render))
    diff = np.abs(renderer.frame(0).astype(int) - empty.frame(0).astype(int)).max(axis=2) > 30
    ys, xs = np.nonzero(diff)
    w, h = pixel.render.size
    drawn = renderer.height_at(0.9, 0.5)
    assert drawn == pytest.approx(0.5 * (0.9 - 0.6) / 0.4)
    assert ys.max() / h == pytest.approx(0.9, abs=0.01)
    assert ys.min() / h == pytest.approx(0.9 - drawn, abs=0.02)
    assert xs.mean() / w == pytest.approx(0.5, abs=0.03)


def test_rendering_is_deterministic() -> None:
    pixel = load_pixel_scene("signpost")
    a, b = Renderer(pixel), Renderer(pixel)
    assert np.array_equal(a.frame(37), b.frame(37))


def test_a_signpost_hides_people_behind_it_and_not_in_front() -> None:
    post = {"occluders": [{"x": 0.5, "y": 0.85, "height": 0.3, "width": 0.03}]}
    column = (slice(round(0.7 * 480), round(0.84 * 480)), 320)
    behind = Renderer(_one_person(0.5, 0.84, **post)).frame(0)
    in_front = Renderer(_one_person(0.5, 0.95, **post)).frame(0)
    nobody = Renderer(_one_person(0.1, 0.62, height=0.01, **post)).frame(0)
    assert np.array_equal(behind[column], nobody[column])
    assert not np.array_equal(in_front[column], nobody[column])


def test_lighting_follows_the_gain_points() -> None:
    renderer = Renderer(_one_person(0.5, 0.9, lighting=[(0.0, 1.0), (0.1, 0.5)]))
    first, second = renderer.frame(0).astype(float), renderer.frame(1).astype(float)
    assert second.mean() == pytest.approx(first.mean() * 0.5, rel=0.02)


def test_the_real_detector_finds_a_rendered_person_on_the_true_box() -> None:
    pixel = _one_person(0.4, 0.95, height=0.5)
    renderer = Renderer(pixel)
    detector = load_detector(DetectorConfig(model="default", threads=1))
    found = detector.detect(Frame(renderer.frame(0), 0, 0.0))
    strong = found.xyxy[found.score >= 0.5]
    assert len(strong) == 1
    h = renderer.height_at(0.95, 0.5)
    top, bottom = float(strong[0, 1]), float(strong[0, 3])
    assert bottom == pytest.approx(0.95, abs=0.04)
    assert top == pytest.approx(0.95 - h, abs=0.05)


def test_write_video_gives_a_file_the_opencv_reader_opens(tmp_path: Path) -> None:
    import cv2

    pixel = _one_person(0.5, 0.9)
    path = tmp_path / "one.avi"
    assert write_video(Renderer(pixel), path) == 2
    capture = cv2.VideoCapture(str(path))
    ok, image = capture.read()
    capture.release()
    assert ok
    assert image.shape == (480, 640, 3)


def test_a_bad_render_table_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("fps = 10\nduration = 1\n[render]\nhorizon = 0.9\nreference_y = 0.5\n")
    with pytest.raises(SceneError, match="reference_y must lie below the horizon"):
        load_pixel_scene(path)
    with pytest.raises(SceneError, match="unknown pixel scene"):
        load_pixel_scene("nowhere")
