"""The whole sensor, watched from outside: disk, system calls and every published byte.

`headcount run --sink mqtt` runs as a child under `strace -f` against a real mosquitto
(the MQTT tests' broker fixture), once on a seeded synthetic scene and once on a video
written from real photos through the real detector, with the guard enforcing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.messages import Bucket, Snapshot
from lab.sim.scene import load_scene
from tests.mqtt.conftest import SITE, Broker, Lab, Subscriber, sensor_config, toml_text
from tests.privacy.audit import (
    TRACED,
    payload_problems,
    read_trace,
    tree_changes,
    tree_state,
)

REPO = Path(__file__).resolve().parents[2]
STRACE = shutil.which("strace") or "/usr/bin/strace"
DEVICES_OK = ("/dev/null",)


def samples_dir() -> Path:
    folder = Path(os.environ.get("HEADCOUNT_SAMPLES", Path.home() / ".cache/headcount/samples"))
    for name in ("person.jpg", "basketball1.png"):
        if not (folder / name).is_file():
            pytest.fail(f"{folder / name} is missing: run `make samples`")
    return folder


@pytest.fixture
def watcher(broker: Broker, lab: Lab) -> Iterator[Subscriber]:
    """An admin subscriber to everything the sensor may publish."""
    sub = Subscriber(broker.host, broker.plain_port, "admin", lab.password("admin"))
    sub.connect("headcount/#", "homeassistant/#")
    yield sub
    sub.close()


def run_sensor(
    tmp_path: Path,
    broker: Broker,
    lab: Lab,
    source: str,
    doc_extra: dict[str, object],
) -> tuple[subprocess.CompletedProcess[str], Path, Path, dict[str, tuple[str, int, int]]]:
    """Run the CLI under strace: the process result, the journal, the trace, the files before."""
    if not Path(STRACE).exists():
        pytest.fail("strace is missing: install strace (make test does)")
    journal = tmp_path / "journal"
    cwd = tmp_path / "cwd"
    home = tmp_path / "home"
    doc = sensor_config(broker, lab, journal, bucket_seconds=5)
    doc.update(doc_extra)
    doc["privacy"] = {"guard": "enforce", **doc_extra.get("privacy", {})}  # type: ignore[dict-item]
    config = tmp_path / "config" / "sensor.toml"
    config.write_text(toml_text(doc))
    trace = tmp_path / "observer" / "strace.txt"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TMPDIR": str(tmp_path / "tmp"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": str(REPO),
        "LANG": "C.UTF-8",
    }
    command = [
        STRACE,
        "-f",
        "-yy",
        "-qq",
        "-s",
        "0",
        "-o",
        str(trace),
        "-e",
        f"trace={TRACED}",
        sys.executable,
        "-m",
        "edge.cli",
        "run",
        "--config",
        str(config),
        "--source",
        source,
        "--sink",
        "mqtt",
    ]
    roots, exclude = watched_roots(tmp_path)
    before = tree_state(roots, exclude)
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    return done, journal, trace, before


def watched_roots(tmp_path: Path) -> tuple[list[Path], list[Path]]:
    """Compared before and after: the run's folder, which holds the sensor's cwd, HOME,
    TMPDIR, config and journal (the broker's and the observer's files excluded). Writes
    anywhere else on the machine show in the strace record, which covers every path."""
    return [tmp_path], [tmp_path / "broker", tmp_path / "observer"]


def prepare(tmp_path: Path) -> None:
    for name in ("cwd", "home", "tmp", "observer", "config", "journal"):
        (tmp_path / name).mkdir(exist_ok=True)


def check_run(
    tmp_path: Path,
    done: subprocess.CompletedProcess[str],
    journal: Path,
    trace_file: Path,
    before: dict[str, tuple[str, int, int]],
    watcher: Subscriber,
    broker: Broker,
    zones: set[str],
    lines: set[str],
) -> list[dict[str, object]]:
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert "privacy guard refused" not in done.stderr
    prefix = f"headcount/{SITE}/door-1/"
    watcher.wait_for(lambda: watcher.on(prefix + "status")[-1:] == [b"offline"], "status offline")

    # 1. Files: only the journal changed.
    roots, exclude = watched_roots(tmp_path)
    changes = tree_changes(before, tree_state(roots, exclude))
    outside = [p for p in changes if not (p == str(journal) or p.startswith(f"{journal}/"))]
    assert outside == []
    assert any(p.startswith(f"{journal}/") for p in changes), "the journal was not used"

    # 2. System calls: writes only in the journal, IP peers only the broker, no unix peers.
    trace = read_trace(trace_file.read_text(), tmp_path / "cwd")
    assert trace.calls > 0
    journal_real = os.path.realpath(journal)
    stray = [
        p
        for p in trace.written
        if not (p.startswith(journal_real + "/") or p == journal_real or p in DEVICES_OK)
    ]
    assert stray == []
    assert trace.ip_peers, "the sensor never connected to the broker"
    peers = set(trace.ip_peers) - trace.own_listeners  # loopback pairs stay in the process
    assert peers == {("127.0.0.1", broker.plain_port)}
    assert trace.unix_peers == []
    assert trace.other_families == []

    # 3. Payloads: every one validates and carries no array, blob or unknown field.
    messages = list(watcher.messages)
    assert {t.removeprefix(prefix) for t, _, _ in messages if t.startswith(prefix)} >= {
        "status",
        "state",
        "counts",
        "privacy",
    }
    problems = [
        problem
        for topic, payload, _ in messages
        for problem in payload_problems(topic, payload, prefix, "homeassistant/")
    ]
    assert problems == []
    states = [Snapshot.model_validate_json(p) for p in watcher.on(prefix + "state")]
    buckets = [Bucket.model_validate_json(p) for p in watcher.on(prefix + "counts")]
    for message in [*states, *buckets]:
        assert set(message.zones) <= zones
        assert set(message.lines) <= lines
    manifest = json.loads(watcher.on(prefix + "privacy")[-1])
    assert manifest["guard"] == "enforce"
    return [json.loads(p) for p in watcher.on(prefix + "state")]


def test_seeded_scene_leaves_only_the_journal_and_talks_only_to_the_broker(
    tmp_path: Path,
    broker: Broker,
    lab: Lab,
    watcher: Subscriber,
) -> None:
    scene = load_scene("door_single")
    doc: dict[str, object] = {
        "lines": [
            {"name": ln.name, "points": [list(p) for p in ln.points], "inside": list(ln.inside)}
            for ln in scene.lines
        ],
        "zones": [{"name": z.name, "polygon": [list(p) for p in z.polygon]} for z in scene.zones],
    }
    prepare(tmp_path)
    done, journal, trace, before = run_sensor(tmp_path, broker, lab, "synthetic:door_single", doc)
    states = check_run(
        tmp_path,
        done,
        journal,
        trace,
        before,
        watcher,
        broker,
        {z.name for z in scene.zones},
        {ln.name for ln in scene.lines},
    )
    assert states[-1]["lines"] == scene.ground_truth()


def test_the_sensor_runs_guarded(
    tmp_path: Path,
    broker: Broker,
    lab: Lab,
    watcher: Subscriber,
) -> None:
    """`[privacy] guard = "enforce"` installs the audit-hook guard before the camera opens,
    and a whole run passes under it without a single refusal."""
    prepare(tmp_path)
    done, _, _, _ = run_sensor(tmp_path, broker, lab, "synthetic:door_single", {})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "privacy guard installed (enforce)" in done.stderr
    assert "privacy guard refused" not in done.stderr


def test_whole_sensor_passes_under_the_enforcing_guard(
    tmp_path: Path, broker: Broker, lab: Lab, watcher: Subscriber
) -> None:
    """No false alarms: the real run (source, detector, journal, MQTT with its loop's
    socketpair, the manifest), with the guard the CLI installs itself before the first
    frame, does nothing the guard refuses."""
    prepare(tmp_path)
    journal = tmp_path / "journal"
    doc = sensor_config(broker, lab, journal, bucket_seconds=5)
    doc["privacy"] = {"guard": "enforce"}
    config = tmp_path / "config" / "sensor.toml"
    config.write_text(toml_text(doc))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "edge.cli",
            "run",
            "--config",
            str(config),
            "--source",
            "synthetic:door_single",
            "--sink",
            "mqtt",
        ],
        cwd=tmp_path / "cwd",
        env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "privacy guard installed (enforce)" in done.stderr
    assert "privacy guard refused" not in done.stderr, done.stderr[-3000:]
    assert done.returncode == 0, done.stderr[-3000:]
    prefix = f"headcount/{SITE}/door-1/"
    watcher.wait_for(lambda: watcher.on(prefix + "status")[-1:] == [b"offline"], "status offline")
    assert watcher.on(prefix + "counts"), "no bucket reached the broker"


def photo_video(path: Path, frames_per_photo: int = 6) -> None:
    """An MJPG video of real photos (darknet's person.jpg, OpenCV's basketball1.png,
    scikit-image's astronaut), each held for a few frames."""
    from skimage import data

    folder = samples_dir()
    photos = [
        cv2.imread(str(folder / "person.jpg")),
        cv2.imread(str(folder / "basketball1.png")),
        cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR),
    ]
    size = (640, 480)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, size)
    assert writer.isOpened()
    for photo in photos:
        assert photo is not None
        frame = cv2.resize(photo, size)
        for _ in range(frames_per_photo):
            writer.write(np.ascontiguousarray(frame))
    writer.release()


def test_real_photos_through_the_real_detector_leave_only_counts(
    tmp_path: Path,
    broker: Broker,
    lab: Lab,
    watcher: Subscriber,
) -> None:
    video = tmp_path / "input" / "photos.avi"
    video.parent.mkdir()
    photo_video(video)
    doc: dict[str, object] = {
        "lines": [{"name": "door", "points": [[0.0, 0.5], [1.0, 0.5]], "inside": [0.5, 0.9]}],
        "zones": [{"name": "room", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}],
    }
    prepare(tmp_path)
    done, journal, trace, before = run_sensor(tmp_path, broker, lab, str(video), doc)
    states = check_run(tmp_path, done, journal, trace, before, watcher, broker, {"room"}, {"door"})
    # The real detector saw the people in the photos: occupancy was published.
    assert max(s["zones"]["room"]["occupancy"] for s in states) >= 1
    # The manifest states the size the file is decoded at, not only the detector's.
    manifest = json.loads(watcher.on(f"headcount/{SITE}/door-1/privacy")[-1])
    assert manifest["capture"]["width"] == 300
    assert manifest["capture"]["decoded"] == {"source": "video file", "width": 640, "height": 480}
