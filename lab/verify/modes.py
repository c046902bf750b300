"""The modes of `headcount verify`: clip, scene, listen, faults, walk. Each returns an Outcome."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from edge.config import Config, load_config
from lab.verify.cli import Outcome, UsageError, load_truth, scored
from lab.verify.listen import BrokerAddress, Listener
from lab.verify.record import CountLog

if TYPE_CHECKING:
    from lab.sim.scene import Scene
    from lab.verify.faults import Fault, RigResult

FRAME_TOLERANCE_S = 1.0
"""A replay's counts carry the frame they were made on: a second covers the dead band."""
WALL_TOLERANCE_S = 3.0
"""Arrival-timed counts also carry the sensor's latency and the tester's reaction."""


def _config(args: argparse.Namespace) -> Config:
    if args.config is None:
        raise UsageError("pass the sensor's config with --config (its lines and zones are scored)")
    return load_config(args.config)


def _names(config: Config) -> tuple[list[str], list[str]]:
    return [line.name for line in config.lines], [zone.name for zone in config.zones]


def clip_mode(args: argparse.Namespace) -> Outcome:
    """The sensor in-process on a clip, scored against --truth."""
    from lab.verify.inprocess import clip_fps, run_in_process

    config = _config(args)
    if not args.video.is_file():
        raise UsageError(f"video {args.video} does not exist; pass an existing clip with --video")
    lines, zones = _names(config)
    truth, occupancy = load_truth(args.truth, args.occupancy, lines, zones)
    fps = args.fps or clip_fps(args.video)
    run = run_in_process(config, str(args.video), fps)
    details = (f"Clip `{args.video.name}` at {fps:g} frames/s, {run.frames} frames, in-process.",)
    result = scored(
        truth=truth,
        occupancy=occupancy,
        observed=run.observed,
        args=args,
        checks=run.checks,
        default_tolerance=FRAME_TOLERANCE_S,
    )
    return Outcome(result, f"headcount verify: {args.video.name}", details)


def scene_mode(args: argparse.Namespace) -> Outcome:
    """A seeded scene in-process, scored against its own truth."""
    from lab.verify.inprocess import run_in_process
    from lab.verify.scenes import scene_truth

    truth = scene_truth(args.scene)
    scene = truth.scene
    config = _config(args) if args.config is not None else scene.config("verify")
    run = run_in_process(config, f"synthetic:{args.scene}", scene.fps)
    details = (f"Seeded scene `{scene.name}`: {scene.frames} frames at {scene.fps:g} frames/s.",)
    result = scored(
        truth=list(truth.crossings),
        occupancy=list(truth.occupancy),
        observed=run.observed,
        args=args,
        checks=run.checks,
        default_tolerance=FRAME_TOLERANCE_S,
    )
    return Outcome(result, f"headcount verify: scene {scene.name}", details)


def broker_address(args: argparse.Namespace, config: Config | None) -> BrokerAddress:
    """--broker, --site, --sensor and the login, defaulting to the config's."""
    if args.broker:
        host, _, port = args.broker.rpartition(":")
        if not host or not port.isdigit():
            raise UsageError(f"--broker must be HOST:PORT, got {args.broker!r}")
    elif config is not None:
        host, port = config.mqtt.host, str(config.mqtt.port)
    else:
        raise UsageError("pass the sensor's broker with --broker HOST:PORT (or --config)")
    site = args.site or (config.sensor.site if config else None)
    sensor = args.sensor or (config.sensor.id if config else None)
    if not site or not sensor:
        raise UsageError("name the sensor with --site and --sensor (or pass its --config)")
    password = None
    if args.password_file is not None:
        try:
            password = args.password_file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise UsageError(f"cannot read --password-file ({error.strerror})") from None
    return BrokerAddress(host, int(port), site, sensor, args.username, password)


def listen_mode(args: argparse.Namespace) -> Outcome:
    """Attach to a live sensor over MQTT for the truth's span, then score."""
    config = load_config(args.config) if args.config is not None else None
    if args.scene:
        from lab.verify.scenes import scene_truth

        st = scene_truth(args.scene)
        truth, occupancy, fps = list(st.crossings), list(st.occupancy), st.scene.fps
        lines, zones = [x.name for x in st.scene.lines], [z.name for z in st.scene.zones]
    else:
        lines, zones = _names(config) if config else ([], [])
        truth, occupancy = load_truth(args.truth, args.occupancy, lines, zones)
        fps = args.fps or (_video_fps(args.video) if args.video else 0.0)
        if args.align == "frame" and not fps:
            raise UsageError("--align frame needs the clip's frame rate: pass --fps or --video")
    lines = lines or sorted({c.line for c in truth})
    address = broker_address(args, config)
    counts = CountLog(tuple(lines), tuple(zones))
    listener = Listener(address, counts, align=args.align, fps=fps or 1.0, start=args.start_at)
    listener.connect()
    span = args.duration or (max((c.time_s for c in truth), default=0.0) + 10.0)
    try:
        _listen_until(listener, span, args.align)
    finally:
        listener.close()
    tolerance = FRAME_TOLERANCE_S if args.align == "frame" else WALL_TOLERANCE_S
    result = scored(
        truth=truth,
        occupancy=occupancy,
        observed=counts.observed(),
        args=args,
        checks=(),
        default_tolerance=tolerance,
    )
    details = (
        f"Listened to `{address.base}` on {address.host}:{address.port} "
        f"({args.align} clock) for up to {span:.0f} s; {counts.snapshots} snapshots.",
    )
    return Outcome(result, f"headcount verify: live sensor {address.sensor}", details)


def _video_fps(video: Path) -> float:
    from lab.verify.inprocess import clip_fps

    return clip_fps(video)


def _listen_until(listener: Listener, span: float, align: str) -> None:
    """Until `span` seconds of clip time passed, or the sensor went offline.

    Clip time is the sensor's frame clock (`frame`), waited for at most 30 s past the span
    in wall-clock time; or (`wall`) the wall clock from the clip's start.
    """
    if align == "frame":
        deadline = time.time() + span + 30.0
    else:
        deadline = (listener.start or time.time()) + span
    while time.time() < deadline:
        last = listener.last_snapshot
        if align == "frame" and last is not None and last[1].frame / listener.fps >= span:
            return
        if last is not None and listener.is_offline():
            return
        time.sleep(0.2)


def faults_mode(args: argparse.Namespace) -> Outcome:
    """A seeded scene through a real sensor process, a local mosquitto and a proxy, with faults."""
    from lab.verify.faults import default_plan
    from lab.verify.scenes import scene_truth

    if not args.scene:
        raise UsageError("--faults runs a seeded scene: pass --scene NAME")
    st = scene_truth(args.scene)
    scene = st.scene
    plan = default_plan(scene.frames / scene.fps, [c.time_s for c in st.crossings])
    counts = CountLog(tuple(x.name for x in scene.lines), tuple(z.name for z in scene.zones))
    result = _fault_run(args.scene, scene, plan, counts)
    details = tuple(
        f"Fault: {i.fault.kind} at {i.fault.at_s:.1f} s for {i.fault.seconds:g} s."
        for i in result.injected
    )
    outcome = scored(
        truth=list(st.crossings),
        occupancy=list(st.occupancy),
        observed=counts.observed(),
        args=args,
        checks=result.checks,
        default_tolerance=FRAME_TOLERANCE_S,
    )
    return Outcome(outcome, f"headcount verify: scene {scene.name} with faults", details)


def _fault_run(name: str, scene: Scene, plan: tuple[Fault, ...], counts: CountLog) -> RigResult:
    """Start a private mosquitto, listen on it, run the rig, stop everything."""
    from lab.verify.faults import LocalMosquitto, Rig, run_rig, stall_option

    with tempfile.TemporaryDirectory(prefix="headcount-verify-") as tmp:
        work = Path(tmp)
        try:
            broker = LocalMosquitto(work)
        except FileNotFoundError as error:
            raise UsageError(str(error)) from None
        broker.start()
        try:
            address = BrokerAddress("127.0.0.1", broker.port, "sim", "verify")
            listener = Listener(address, counts, align="frame", fps=scene.fps)
            listener.connect()
            source = f"paced:{name}{stall_option(plan)}"
            rig = Rig(rig_config(scene), source, broker, ("127.0.0.1", broker.port), plan, work)
            try:
                return run_rig(rig, listener)
            finally:
                listener.close()
        finally:
            broker.stop()


def rig_config(scene: Scene) -> dict[str, object]:
    """The fault run's sensor: the scene's lines and zones, quick reconnects, 5 s buckets."""
    return {
        "sensor": {"id": "verify", "site": "sim"},
        "lines": [line.model_dump(mode="json") for line in scene.lines],
        "zones": [zone.model_dump(mode="json") for zone in scene.zones],
        "mqtt": {"keepalive": 5, "reconnect_min_seconds": 0.2, "reconnect_max_seconds": 1.0},
        "publish": {"bucket_seconds": 5, "heartbeat_seconds": 1},
    }


def walk_mode(args: argparse.Namespace) -> Outcome:
    """Serve the walk page; the tester's taps are the truth, the live sensor's counts are scored."""
    from lab.verify.walk import run_walk

    config = _config(args)
    address = broker_address(args, config)
    return run_walk(config, address, args)
