"""Thresholds by job, measured on the pixel scenes: which boxes start tracks, which keep them.

`python -m lab.bench.thresholds` runs the whole sensor once per pixel scene with the uint8
model keeping every box down to score 0.1, then replays exactly those detections through
the sensor's tracker and counters (`HeadcountSystem`) for each pair of `score_threshold`
(boxes that start and confirm tracks) and `low_score_threshold` (boxes that only keep a
track alive), and prints crossing accuracy (mean over line-directions), events, errors
(missed + extra: accuracy alone lets a miss and an extra on one line cancel) and occupancy
MAE. The detector runs once, so the grid costs only tracking.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from lab.bench.accuracy import Stream, run_system
from lab.bench.peers import HeadcountSystem
from lab.bench.pixels import Setting, mean_direction_accuracy, mean_mae, run_sensor
from lab.pixels.render import Renderer, load_pixel_scene, pixel_scene_names, write_video

FLOOR = 0.1
STARTS = (0.3, 0.4, 0.5, 0.6)
KEEPS = (0.1, 0.2, 0.3)


def streams(scenes: Sequence[str] | None = None, max_frames: int | None = None) -> list[Stream]:
    """The uint8 detections (score >= FLOOR) the whole sensor saw on each pixel scene."""
    setting = Setting("uint8 >= 0.1", {"model": "default", "low_score_threshold": FLOOR})
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in scenes or pixel_scene_names():
            pixel = load_pixel_scene(name)
            video = Path(tmp) / f"{name}.avi"
            frames = write_video(Renderer(pixel), video, max_frames)
            out.append(run_sensor(pixel, video, setting, frames)[1])
    return out


def grid(found: Sequence[Stream]) -> list[str]:
    """One table line per (start, keep) pair over all scenes."""
    lines = [
        "| score_threshold (start) | low_score_threshold (keep) | crossing accuracy "
        "| matched / missed / extra | errors | occupancy MAE |",
        "|---|---|---|---|---|---|",
    ]
    for start in STARTS:
        for keep in KEEPS:
            if keep > start:
                continue
            detector = {"score_threshold": start, "low_score_threshold": keep}
            scores = [
                run_system(s, HeadcountSystem(s.scene.config(detector=detector))) for s in found
            ]
            matched = sum(s.matching.matched for s in scores)
            missed = sum(s.matching.missed for s in scores)
            extra = sum(s.matching.double_counts for s in scores)
            accuracy = mean_direction_accuracy(scores) or 0.0
            lines.append(
                f"| {start} | {keep} | {accuracy:.3f} | {matched} / {missed} / {extra} "
                f"| {missed + extra} | {mean_mae(scores) or 0.0:.2f} |"
            )
    return lines


def main() -> int:
    sys.stdout.write("\n".join(grid(streams())) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
