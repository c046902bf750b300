"""The loop with fakes at every boundary: frames, detections, sinks."""

import json
import threading

from edge.buckets import BucketClock  # noqa: F401  (the pipeline's bucket clock)
from edge.commands import CommandInbox, Reset
from edge.config import LineConfig, PrivacyConfig, ZoneConfig
from edge.count import Counters
from edge.messages import Bucket, Snapshot
from edge.pipeline import Pipeline
from edge.privacy.output import OutputPrivacy
from edge.publish import Publisher
from edge.track import Tracker, TrackerSettings
from tests.fakes.core import ListSource, RecordingSink, ScriptedDetector, box_at

LINE = LineConfig(name="door", points=((0.1, 0.5), (0.9, 0.5)), inside=(0.5, 0.9))
ZONE = ZoneConfig(name="hall", polygon=[(0, 0.5), (1, 0.5), (1, 1), (0, 1)])


def walk_in_script(start, n=20, x=0.5):
    return {start + k: [box_at(x, 0.2 + 0.7 * k / (n - 1))] for k in range(n)}


def make(source, script, *, publish_every=0.0, bucket=5.0, inbox=None, stop=None):
    sink = RecordingSink()
    pipeline = Pipeline(
        source=source,
        detector=ScriptedDetector(script),
        tracker=Tracker(TrackerSettings(), seed=0),
        counters=Counters([LINE], [ZONE]),
        privacy=OutputPrivacy(PrivacyConfig()),
        publisher=Publisher(site="hq", sensor="door-1", boot="b00t", sinks=[sink]),
        bucket_seconds=bucket,
        publish_every=publish_every,
        heartbeat=30.0,
        inbox=inbox,
        stop=stop,
        reopen_seconds=0.01,
    )
    return pipeline, sink


def test_counts_flow_to_snapshots_and_buckets_add_up():
    script = walk_in_script(0) | walk_in_script(40, x=0.3)
    pipeline, sink = make(ListSource(100), script)
    summary = pipeline.run()
    assert summary.frames == 100
    assert summary.totals == {"door": (2, 0)}
    final = sink.snapshots[-1]
    assert final.lines["door"].in_ == 2 and final.frame == 99
    assert sum(b.lines["door"].in_ for b in sink.buckets) == 2
    seqs = [m.seq for m in sorted(sink.snapshots + sink.buckets, key=lambda m: m.seq)]
    assert seqs == list(range(1, len(seqs) + 1))
    assert sink.closed


def test_publish_every_zero_gives_one_snapshot_per_frame_with_frame_index():
    pipeline, sink = make(ListSource(30), walk_in_script(0))
    pipeline.run()
    frames = [s.frame for s in sink.snapshots]
    assert frames[:30] == list(range(30))


def test_snapshot_json_matches_the_contract():
    pipeline, sink = make(ListSource(21), walk_in_script(0))
    pipeline.run()
    data = json.loads(sink.snapshots[-1].to_json())
    assert set(data) == {"v", "site", "sensor", "ts", "boot", "seq", "frame", "zones", "lines"}
    assert data["lines"] == {"door": {"in": 1, "out": 0}}
    assert data["zones"] == {"hall": {"occupancy": 1}}
    assert data["ts"].endswith("Z") and data["boot"] == "b00t"
    Snapshot.model_validate_json(sink.snapshots[-1].to_json())
    Bucket.model_validate_json(sink.buckets[-1].to_json())


def test_transient_source_failure_reopens_and_loses_no_count():
    source = ListSource(60, fail_at=10)
    pipeline, sink = make(source, walk_in_script(0) | walk_in_script(30))
    summary = pipeline.run()
    assert summary.reopened == 1 and source.opened == 2
    assert summary.totals == {"door": (2, 0)}


def test_reset_command_zeroes_totals_and_is_announced():
    inbox = CommandInbox()
    script = walk_in_script(0)

    class ResetAt:
        def __init__(self, source):
            self.source = source

        def open(self):
            self.source.open()

        def read(self):
            frame = self.source.read()
            if frame is not None and frame.index == 30:
                inbox.put(Reset(id="test", lines=None))
            return frame

        def close(self):
            self.source.close()

    pipeline, sink = make(ResetAt(ListSource(40)), script, publish_every=1.0, inbox=inbox)
    pipeline.run()
    before = [s for s in sink.snapshots if s.frame < 30]
    after = [s for s in sink.snapshots if s.frame >= 30]
    assert before[-1].lines["door"].in_ == 1
    assert after[0].frame == 30 and after[0].lines["door"].in_ == 0 and after[0].resets == 1


def test_stop_event_closes_the_open_bucket():
    stop = threading.Event()

    class StopAt(ListSource):
        def read(self):
            frame = super().read()
            if frame is not None and frame.index == 25:
                stop.set()
            return frame

    pipeline, sink = make(StopAt(1000), walk_in_script(0), bucket=3600, stop=stop)
    summary = pipeline.run()
    assert summary.stopped
    assert len(sink.buckets) == 1 and sink.buckets[0].lines["door"].in_ == 1
