"""k-suppression holds for timing too: below k, what and when the sensor publishes is one stream.

The audit (issue 18, item 1) found extra `state` messages off the heartbeat grid exactly
when one person came or went in a zone that never reached k. The pipeline now decides
to publish on released values only; these runs of the whole loop (real tracker and
counters, scripted detections) check every byte of every message, `ts`, `frame` and
`seq` included.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from edge.config import PrivacyConfig, ZoneConfig
from edge.count import Counters
from edge.pipeline import Pipeline
from edge.privacy.output import OutputPrivacy
from edge.publish import Publisher
from edge.track import Tracker, TrackerSettings
from tests.fakes.core import ListSource, RecordingSink, ScriptedDetector, box_at

K = 3
FRAMES = 600  # 60 s at 10 fps
ROOM = ZoneConfig(name="room", polygon=[(0, 0.5), (1, 0.5), (1, 1), (0, 1)])


def visit(x: float, arrive: int, leave: int) -> dict[int, list[list[float]]]:
    """Walk down into the room (feet from y 0.2 to 0.8 in 20 frames), stay, walk back out."""
    script: dict[int, list[list[float]]] = {}
    for step in range(20):
        y = 0.2 + 0.6 * step / 19
        script[arrive + step] = [box_at(x, y)]
        script[leave + 19 - step] = [box_at(x, y)]
    for index in range(arrive + 20, leave):
        script[index] = [box_at(x, 0.8)]
    return script


def merge(*scripts: dict[int, list[list[float]]]) -> dict[int, Sequence[Sequence[float]]]:
    merged: dict[int, list[list[float]]] = {}
    for script in scripts:
        for index, boxes in script.items():
            merged.setdefault(index, []).extend(boxes)
    return dict(merged)


PEOPLE = {
    0: {},
    1: merge(visit(0.3, 53, 117), visit(0.3, 236, 389), visit(0.3, 471, 540)),
    K - 1: merge(visit(0.3, 53, 300), visit(0.7, 97, 161), visit(0.7, 402, 577)),
}


def stream(script: dict[int, Sequence[Sequence[float]]], k: int, publish_every: float) -> list[str]:
    """Every message of one run, in publication order, as the bytes a sink gets."""
    sink = RecordingSink()
    order: list[str] = []
    sink.publish_snapshot = lambda m: order.append(m.to_json())  # type: ignore[method-assign]
    sink.publish_bucket = lambda m: order.append(m.to_json())  # type: ignore[method-assign]
    counters = Counters([], [ROOM])
    pipeline = Pipeline(
        source=ListSource(FRAMES),
        detector=ScriptedDetector(script),
        tracker=Tracker(TrackerSettings(), seed=0),
        counters=counters,
        privacy=OutputPrivacy(PrivacyConfig(k=k)),
        publisher=Publisher(site="hq", sensor="office", boot="b00t", sinks=[sink]),
        bucket_seconds=10,
        publish_every=publish_every,
        heartbeat=5.0,
    )
    pipeline.run()
    return order


def occupancy_seen(script: dict[int, Sequence[Sequence[float]]]) -> set[int]:
    """The exact occupancies the counters saw (what k must hide)."""
    seen: set[int] = set()
    counters = Counters([], [ROOM])
    pipeline = Pipeline(
        source=ListSource(FRAMES),
        detector=ScriptedDetector(script),
        tracker=Tracker(TrackerSettings(), seed=0),
        counters=counters,
        privacy=OutputPrivacy(PrivacyConfig()),
        publisher=Publisher(site="hq", sensor="office", boot="b00t", sinks=[]),
        bucket_seconds=10,
        on_frame=lambda _frame, _tracks: seen.add(pipeline.occupancy["room"]),
    )
    pipeline.run()
    return seen


def test_the_scripts_really_put_up_to_k_minus_1_people_in_the_room() -> None:
    assert occupancy_seen(PEOPLE[0]) == {0}
    assert occupancy_seen(PEOPLE[1]) == {0, 1}
    assert occupancy_seen(PEOPLE[K - 1]) == set(range(K))


@pytest.mark.parametrize("publish_every", [1.0, 0.0, 3.0])
def test_zero_one_and_k_minus_1_people_publish_the_same_stream(publish_every: float) -> None:
    empty = stream(PEOPLE[0], K, publish_every)
    assert len(empty) > 10
    for people in (1, K - 1):
        assert stream(PEOPLE[people], K, publish_every) == empty, f"{people} people differ"


def test_without_k_the_same_scripts_are_told_apart() -> None:
    """The comparison has teeth: with k off, one person changes the stream."""
    assert stream(PEOPLE[1], 0, 1.0) != stream(PEOPLE[0], 0, 1.0)


def test_below_k_state_goes_out_on_the_heartbeat_grid_only() -> None:
    snapshots = [m for m in stream(PEOPLE[1], K, 1.0) if '"frame"' in m]
    frames = [int(m.split('"frame":')[1].split(",")[0]) for m in snapshots]
    assert frames == [*range(0, FRAMES, 50), FRAMES - 1]
