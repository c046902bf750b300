"""The real-pixels benchmark: the whole sensor on a rendered video, scored, beside the peers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.detections import Detections
from lab.bench.accuracy import Stream, run_system
from lab.bench.fidelity import compare
from lab.bench.peers import HeadcountSystem
from lab.bench.pixels import (
    SETTINGS,
    mean_direction_accuracy,
    recall,
    report_lines,
    run_pixels,
    run_sensor,
    splice_section,
)
from lab.pixels.render import Renderer, load_pixel_scene, write_video
from lab.sim.scene import Scene


def test_the_sensor_run_on_a_rendered_video_matches_its_own_tracker_on_what_it_saw(
    tmp_path: Path,
) -> None:
    pixel = load_pixel_scene("signpost")
    renderer = Renderer(pixel)
    video = tmp_path / "signpost.avi"
    frames = write_video(renderer, video, 120)
    score, stream, seconds = run_sensor(pixel, video, SETTINGS[0], frames)
    assert stream.frames == frames == 120
    assert seconds > 0
    assert sum(len(d) for d in stream.detections) > 0, "the detector saw nobody"
    replayed = run_system(stream, HeadcountSystem(pixel.scene.config()))
    assert [line.counted_in for line in score.lines] == [line.counted_in for line in replayed.lines]
    assert [line.counted_out for line in score.lines] == [
        line.counted_out for line in replayed.lines
    ]
    assert score.zone_mae == pytest.approx(replayed.zone_mae)
    found = recall(renderer, stream, 0.5)
    assert 0 < found.found <= found.drawn


def test_run_pixels_scores_every_setting_and_the_peers(tmp_path: Path) -> None:
    runs = run_pixels(SETTINGS[:1], ["groups"], max_frames=40, workdir=tmp_path)
    (run,) = runs
    assert run.frames == 40
    assert [s.scene for s in run.scores] == ["groups"]
    assert {s.system for s in run.peers} == {"supervision", "norfair@24px"}
    lines = report_lines(runs, 1.0)
    assert any(line.startswith("| uint8 (default) | **headcount**") for line in lines)
    assert any("stop resembling real footage" in line for line in lines)
    assert list(tmp_path.iterdir()) == [], "the rendered video outlived the run"


def test_mean_direction_accuracy_is_the_mean_over_line_directions() -> None:
    pixel = load_pixel_scene("far_path")
    stream_score = run_system(_stream_of_truth(pixel.scene), HeadcountSystem(pixel.scene.config()))
    values = [
        1.0 if (t == 0 and c == 0) else max(0.0, 1 - abs(c - t) / t) if t else 0.0
        for line in stream_score.lines
        for c, t in ((line.counted_in, line.true_in), (line.counted_out, line.true_out))
    ]
    assert mean_direction_accuracy([stream_score]) == pytest.approx(np.mean(values))


def _stream_of_truth(scene: Scene) -> Stream:
    found = []
    for index in range(scene.frames):
        _, boxes = scene.truth_boxes(index)
        found.append(Detections(boxes, np.full(len(boxes), 0.9, np.float32)))
    return Stream(scene, "truth", scene.frames, tuple(found))


def test_splice_replaces_only_the_pixel_section(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# results\n\n## Other\nkept\n")
    splice_section(results, ["## Real pixels", "first"])
    splice_section(results, ["## Real pixels", "second"])
    text = results.read_text()
    assert "kept" in text
    assert "second" in text
    assert "first" not in text
    assert text.count("<!-- pixels:start -->") == 1


def _d(boxes: list[list[float]], scores: list[float]) -> Detections:
    return Detections(np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(scores, np.float32))


def test_fidelity_counts_matched_reference_boxes_and_their_shift() -> None:
    reference = [
        _d([[0.1, 0.1, 0.2, 0.5], [0.5, 0.1, 0.6, 0.5], [0.7, 0.1, 0.8, 0.3]], [0.9, 0.8, 0.3])
    ]
    candidate = [_d([[0.1, 0.1, 0.2, 0.54], [0.5, 0.1, 0.6, 0.5]], [0.85, 0.4])]
    f = compare(reference, candidate)
    assert f.reference == 2
    assert f.matched == 1  # the second box scores 0.4 < 0.5 in the candidate
    assert f.recall == pytest.approx(0.5)
    assert f.shift == pytest.approx(0.01 / 0.4)
    assert compare(reference, reference).recall == 1.0
    assert compare(reference, reference).correlation == pytest.approx(1.0)


def test_bench_pixels_quick_writes_only_its_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from edge.cli import main

    results = tmp_path / "RESULTS.md"
    results.write_text("# headcount benchmark results\n\n## Motion gating\nkept\n")
    assert main(["bench", "--pixels", "--quick", "--out", str(tmp_path)]) == 0
    text = results.read_text()
    assert "## Motion gating\nkept" in text
    assert "## Real pixels: rendered scenes through the whole sensor" in text
    for scene in ("far_path", "groups", "signpost"):
        assert f"`{scene}`" in text
    assert "| uint8 (default) | **headcount** |" in capsys.readouterr().out


def test_seams_are_the_inner_tile_edges() -> None:
    from lab.bench.seams import _on_seam

    boxes = np.array(
        [
            [0.1, 0.1, 0.3, 0.3],  # inside the top-left tile
            [0.4, 0.1, 0.5, 0.3],  # across the first inner column edge (0.444)
            [0.1, 0.5, 0.2, 0.7],  # across the upper tiles' bottom edge (0.556) in 2 rows
            [0.7, 0.7, 0.9, 0.9],  # inside the bottom-right tile
        ],
        np.float32,
    )
    assert _on_seam(boxes, 2, 2, 0.2).tolist() == [False, True, True, False]
    assert _on_seam(boxes, 1, 2, 0.2).tolist() == [False, True, False, False]


def test_tile_merge_rules_drop_what_they_say() -> None:
    from lab.bench.tile_merge import Passes, merged

    whole = _d([[0.1, 0.1, 0.3, 0.9]], [0.9])
    frame = Passes(
        whole,
        np.array(
            [
                [0.1, 0.1, 0.3, 0.5],  # cut by a tile edge
                [0.6, 0.2, 0.7, 0.8],  # a tall person from a tile, 0.7 of the tile high
                [0.8, 0.6, 0.85, 0.7],  # a small far person only a tile sees
            ],
            np.float32,
        ),
        np.array([0.8, 0.7, 0.6], np.float32),
        np.array([True, False, False]),
        np.array([0.4, 0.7, 0.15], np.float32),
    )
    assert len(merged(frame, "whole", None)) == 1
    current = merged(frame, "current", None)
    assert sorted(current.score.tolist()) == pytest.approx([0.6, 0.7, 0.9])
    gated = merged(frame, "gate", 0.5)
    assert sorted(gated.score.tolist()) == pytest.approx([0.6, 0.9])
