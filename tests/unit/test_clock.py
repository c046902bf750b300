"""The loop paces on each frame's clock and stamps wall time: a stepped wall clock changes
the stamps, never the counting, the buckets' length or the heartbeat (issue 12, Clock)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge.config import LineConfig, PrivacyConfig, ZoneConfig
from edge.count import Counters
from edge.frames import Frame
from edge.pipeline import Pipeline
from edge.privacy.output import OutputPrivacy
from edge.publish import Publisher
from edge.track import Tracker, TrackerSettings
from tests.fakes.core import RecordingSink, ScriptedDetector, box_at

LINE = LineConfig(name="door", points=((0.1, 0.5), (0.9, 0.5)), inside=(0.5, 0.9))
ZONE = ZoneConfig(name="hall", polygon=[(0, 0.5), (1, 0.5), (1, 1), (0, 1)])
WALL0 = 1_800_000_000.0
MONO0 = 12_345.0
FPS = 10.0


class SteppedClockSource:
    """A live source at 10 fps whose wall clock is stepped by `step` s at frame `at`."""

    def __init__(self, count: int, step: float = 0.0, at: int = 0) -> None:
        self.count, self.step, self.at = count, step, at
        self._next = 0

    def open(self) -> None:
        pass

    def read(self) -> Frame | None:
        if self._next >= self.count:
            return None
        i = self._next
        self._next += 1
        wall = WALL0 + i / FPS + (self.step if i >= self.at else 0.0)
        return Frame(np.zeros((24, 32, 3), np.uint8), i, wall, clock=MONO0 + i / FPS)

    def close(self) -> None:
        pass


def walk(start: int, n: int = 30, x: float = 0.5, missed: range = range(0)) -> dict:
    """One person walking down across the line in n frames, undetected on `missed` frames."""
    return {
        start + k: [box_at(x, 0.2 + 0.7 * k / (n - 1))] for k in range(n) if start + k not in missed
    }


def run(source: SteppedClockSource, script: dict) -> RecordingSink:
    sink = RecordingSink()
    Pipeline(
        source=source,
        detector=ScriptedDetector(script),
        tracker=Tracker(TrackerSettings(), seed=0),
        counters=Counters([LINE], [ZONE]),
        privacy=OutputPrivacy(PrivacyConfig()),
        publisher=Publisher(site="hq", sensor="door-1", boot="b00t", sinks=[sink]),
        bucket_seconds=10,
        publish_every=1.0,
        heartbeat=2.0,
    ).run()
    return sink


def counting(sink: RecordingSink) -> list[tuple[int, dict, dict]]:
    """What each snapshot says, without its wall stamp."""
    return [
        (s.frame, json.loads(s.to_json())["lines"], json.loads(s.to_json())["zones"])
        for s in sink.snapshots
    ]


SCRIPT = walk(20, missed=range(30, 38)) | walk(150) | walk(400, x=0.3, missed=range(410, 416))


@pytest.mark.parametrize(
    ("step", "at"), [(-3600.0, 33), (3600.0, 33), (-3600.0, 412), (86_400.0, 155)]
)
def test_a_stepped_wall_clock_changes_stamps_only(step: float, at: int) -> None:
    steady = run(SteppedClockSource(600), SCRIPT)
    stepped = run(SteppedClockSource(600, step, at), SCRIPT)
    assert steady.snapshots[-1].lines["door"].in_ == 3
    assert counting(stepped) == counting(steady)  # same frames published, same counts
    assert [b.lines for b in stepped.buckets] == [b.lines for b in steady.buckets]
    assert [b.zones for b in stepped.buckets] == [b.zones for b in steady.buckets]
    assert len(stepped.buckets) == 6  # 60 s of frames in 10 s buckets, whatever the wall says
    shifted = [s.ts for s in stepped.snapshots if s.frame >= at]
    assert shifted and all(ts[:13] != "2027-01-15T08" for ts in shifted)  # stamped anew


def test_heartbeats_keep_their_pace_when_the_wall_clock_goes_back_an_hour() -> None:
    sink = run(SteppedClockSource(300, -3600.0, 100), {})
    frames = [s.frame for s in sink.snapshots]
    assert frames == [*range(0, 300, 20), 299]  # every 2 s of the clock, then the last
    stamps = [s.ts for s in sink.snapshots]
    assert stamps[4] == "2027-01-15T08:00:08.000Z" and stamps[5] == "2027-01-15T07:00:10.000Z"


def test_footage_is_bucketed_by_video_time() -> None:
    """A file's frames carry no separate clock: buckets follow the stamps, i.e. video time."""
    frame = Frame(np.zeros((2, 2, 3), np.uint8), 7, WALL0 + 0.7)
    assert frame.clock == frame.timestamp
