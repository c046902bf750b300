"""The real detector over real photos, through the whole CLI: a person walks across a line.

The video is made here from scikit-image's astronaut photo moved across a plain
background, so the detector sees a real person in every frame; the expected counts
follow from the motion, not from the detector's output.
"""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from skimage import data

HEADCOUNT = [sys.executable, "-m", "edge.cli"]
SIZE = (640, 360)
PERSON = 170


def make_walk(path, reverse=False, frames=36):
    person = cv2.resize(data.astronaut(), (PERSON, PERSON), interpolation=cv2.INTER_AREA)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, SIZE)
    assert writer.isOpened()
    xs = np.linspace(20, SIZE[0] - PERSON - 20, frames).astype(int)
    if reverse:
        xs = xs[::-1]
    top = SIZE[1] - PERSON - 40
    for x in xs:
        canvas = np.full((SIZE[1], SIZE[0], 3), 128, np.uint8)
        canvas[top : top + PERSON, x : x + PERSON] = person
        writer.write(cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    writer.release()


CONFIG = """
[sensor]
id = "walk"
site = "lab"

[[lines]]
name = "door"
points = [[0.5, 0.05], [0.5, 0.98]]
inside = [0.9, 0.5]

[[zones]]
name = "right"
polygon = [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]

[detector]
model = "{model}"
threads = 2
"""


@pytest.mark.parametrize("model", ["default", "default-fp32"])
@pytest.mark.parametrize(
    ("reverse", "expected"), [(False, {"in": 1, "out": 0}), (True, {"in": 0, "out": 1})]
)
def test_person_walking_across_a_line_is_counted_once(tmp_path, model, reverse, expected):
    video = tmp_path / "walk.avi"
    make_walk(video, reverse=reverse)
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(model=model))
    result = subprocess.run(
        [
            *HEADCOUNT,
            "run",
            "--config",
            str(config),
            "--source",
            str(video),
            "--publish-every",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    snapshots = [json.loads(line) for line in result.stdout.splitlines()]
    assert [s["frame"] for s in snapshots[:36]] == list(range(36))
    final = snapshots[-1]
    assert final["lines"]["door"] == expected
    assert final["zones"]["right"]["occupancy"] == (0 if reverse else 1)
    # the person is seen: occupancy of the right half is 1 while they stand in it
    occupied = [s["zones"]["right"]["occupancy"] for s in snapshots[:36]]
    assert max(occupied) == 1 and min(occupied) == 0
