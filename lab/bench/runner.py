"""`headcount bench`: every measurement in one run, written to RESULTS.md and PNG plots."""

from __future__ import annotations

import logging
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lab.bench import plots
from lab.bench.accuracy import (
    MATCH_SECONDS,
    Stream,
    SystemFactory,
    detection_stream,
    run_all,
    run_system,
    stress_faults,
)
from lab.bench.gating import GateRun, measure_gating
from lab.bench.metrics import SceneScore
from lab.bench.peers import (
    CountingSystem,
    HeadcountSystem,
    NorfairSystem,
    PeersMissingError,
    SupervisionSystem,
    require_peers,
)
from lab.bench.pixels import SETTINGS as PIXEL_SETTINGS
from lab.bench.pixels import report_lines as pixel_report
from lab.bench.pixels import run_pixels, splice_section
from lab.bench.speed import (
    CAPTURE_NAMES,
    ROUNDS,
    STAGES,
    SensorSpeed,
    measure_in_subprocess,
    photo,
)
from lab.pixels.sprites import SamplesMissingError
from lab.sim.scene import Scene, SceneError, load_scene, scene_from_dict, scene_names

log = logging.getLogger(__name__)

NORFAIR_THRESHOLDS = (0.05, 0.1, 0.2)
"""norfair distance thresholds tried, as fractions of the frame height (mean corner distance)."""
DENSE_PEOPLE = 50
DENSE_REPEATS = 3
GATE_SCENE = "door_single"
PROFILES = ("scene", "stress")


@dataclass(frozen=True, slots=True)
class Plan:
    """How much to measure: the full run or the quick smoke run."""

    max_frames: int | None
    norfair_thresholds: tuple[float, ...]
    dense_frames: int
    speed_configs: tuple[tuple[str, int, str], ...]
    speed_frames: int
    gate_frames: int
    robust_seeds: tuple[int, ...] = ()
    pixel_frames: int | None = None
    pixel_settings: int = len(PIXEL_SETTINGS)


FULL = Plan(
    max_frames=None,
    norfair_thresholds=NORFAIR_THRESHOLDS,
    dense_frames=300,
    speed_configs=tuple(
        (m, t, c) for c in ("mjpeg", "webcam", "isp") for m in ("fp32", "uint8") for t in (1, 2, 4)
    ),
    speed_frames=320,
    gate_frames=600,
    robust_seeds=(1, 2, 3, 4),
)
QUICK = Plan(
    max_frames=150,
    norfair_thresholds=(0.1,),
    dense_frames=30,
    speed_configs=(("uint8", 1, "mjpeg"), ("uint8", 1, "isp")),
    speed_frames=10,
    gate_frames=40,
    robust_seeds=(1,),
    pixel_frames=60,
    pixel_settings=1,
)


def dense_scene(people: int = DENSE_PEOPLE, seconds: float = 30.0, seed: int = 7) -> Scene:
    """`people` walking slow straight paths, every one in view for the whole scene."""
    rng = np.random.default_rng(seed)
    start = rng.uniform([0.08, 0.35], [0.92, 0.95], (people, 2))
    heading = rng.uniform(0, 2 * np.pi, people)
    speed = rng.uniform(0.005, 0.015, people)
    end = start + np.stack([np.cos(heading), np.sin(heading)], 1) * (speed * seconds)[:, None]
    end = np.clip(end, [0.08, 0.35], [0.92, 0.98])
    data = {
        "fps": 10,
        "duration": seconds,
        "seed": seed,
        "lines": [{"name": "door", "points": [[0.05, 0.6], [0.95, 0.6]], "inside": [0.5, 0.9]}],
        "zones": [{"name": "room", "polygon": [[0, 0.6], [1, 0.6], [1, 1], [0, 1]]}],
        "faults": {"miss_rate": 0.05, "jitter": 0.03, "partial_rate": 0.1},
        "people": [
            {"times": [0.0, seconds], "path": [a.tolist(), b.tolist()], "height": 0.15}
            for a, b in zip(start, end, strict=True)
        ],
    }
    return scene_from_dict(data, f"dense{people}")


def _factories(thresholds: Sequence[float]) -> list[Callable[[Scene], CountingSystem]]:
    def ours(scene: Scene) -> CountingSystem:
        return HeadcountSystem(scene.config())

    def supervision(scene: Scene) -> CountingSystem:
        return SupervisionSystem(scene.lines, scene.zones, scene.size, scene.fps)

    def norfair_at(fraction: float) -> Callable[[Scene], CountingSystem]:
        def make(scene: Scene) -> CountingSystem:
            system = NorfairSystem(
                scene.lines, scene.zones, scene.size, distance_threshold=fraction * scene.size[1]
            )
            system.name = f"norfair@{fraction:g}h"
            return system

        return make

    return [ours, supervision, *(norfair_at(f) for f in thresholds)]


def _chosen(
    factories: Sequence[SystemFactory], norfair_names: Sequence[str], best: str
) -> list[SystemFactory]:
    """Ours, supervision and the best norfair setting, out of `_factories`' list."""
    return [factories[0], factories[1], factories[2 + list(norfair_names).index(best)]]


def machine() -> dict[str, str]:
    """CPU model, cores, OS, Python and the versions of what was measured."""
    import importlib.metadata
    import os

    cpu = platform.processor() or platform.machine()
    try:
        fields = dict(
            (key.strip().lower(), value.strip())
            for key, _, value in (
                line.partition(":") for line in Path("/proc/cpuinfo").read_text().splitlines()
            )
        )
        # x86: "model name"; a Raspberry Pi: "Model" (the board) or "Hardware".
        cpu = fields.get("model name") or fields.get("model") or fields.get("hardware") or cpu
    except OSError:
        pass
    info = {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "OS": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "Python": platform.python_version(),
    }
    for package in (
        "headcount",
        "numpy",
        "ai-edge-litert",
        "opencv-python-headless",
        "supervision",
        "trackers",
        "norfair",
        "matplotlib",
    ):
        try:
            info[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            info[package] = "not installed"
    return info


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f} %"


def _num(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


@dataclass
class Results:
    plan: Plan
    info: dict[str, str]
    scores: list[tuple[str, SceneScore]]
    norfair_best: str
    dense: list[SceneScore]
    speed: list[SensorSpeed]
    gating: list[GateRun]
    seconds: float
    robust: list[tuple[int, str, SceneScore]] = field(default_factory=list)


def _scores_for(results: Results, profile: str, system: str) -> dict[str, SceneScore]:
    return {s.scene: s for p, s in results.scores if p == profile and s.system == system}


def _robust_runs(results: Results, profile: str, system: str, scene: str) -> list[SceneScore]:
    return [
        s for _, p, s in results.robust if p == profile and s.system == system and s.scene == scene
    ]


def _robust_accuracies(results: Results, profile: str, system: str, scene: str) -> list[float]:
    """A system's line accuracy on one scene and profile, per other detector seed."""
    runs = _robust_runs(results, profile, system, scene)
    return [r.line_accuracy for r in runs if r.line_accuracy is not None]


def _behind(
    peers: Sequence[str],
    scenes: Sequence[str],
    accuracy: Callable[[str, str, str], float | None],
) -> list[str]:
    """Where a peer beat us: "profile/scene: peer x vs ours", for every profile and scene,
    `accuracy(profile, system, scene)` giving each system's figure (None: not measured)."""
    behind = []
    for profile in PROFILES:
        for scene in scenes:
            mine = accuracy(profile, "headcount", scene)
            for peer in peers:
                other = accuracy(profile, peer, scene)
                if mine is not None and other is not None and other > mine + 1e-9:
                    behind.append(f"{profile}/{scene}: {peer} {_pct(other)} vs {_pct(mine)}")
    return behind


def _pick_norfair(scores: list[tuple[str, SceneScore]], names: Sequence[str]) -> str:
    """The norfair setting with the best mean pooled line accuracy over every scene run."""

    def mean_accuracy(name: str) -> float:
        values = [s.line_accuracy for _, s in scores if s.system == name]
        return float(np.mean([v for v in values if v is not None] or [0.0]))

    return max(names, key=mean_accuracy)


def write_report(out: Path, results: Results) -> Path:
    """RESULTS.md and the PNG plots into `out`; returns the markdown file."""
    out.mkdir(parents=True, exist_ok=True)
    systems = ["headcount", "supervision", results.norfair_best]
    scenes = sorted({s.scene for _, s in results.scores})
    md: list[str] = []
    _header_section(md, results)
    _accuracy_section(md, out, results, systems, scenes)
    _detail_section(md, results)
    _robust_section(md, results, systems, scenes)
    _timing_section(md, out, results, systems)
    _speed_section(md, out, results)
    _gating_section(md, results)
    _reproduce_section(md)
    path = out / "RESULTS.md"
    path.write_text("\n".join(md), encoding="utf-8")
    return path


def _header_section(md: list[str], results: Results) -> None:
    """Title, the aims' verdicts, the machine and versions."""
    add = md.append
    add("# headcount benchmark results\n")
    add(
        "Written by `headcount bench` (`make bench`)"
        + (
            " in **quick** mode (truncated scenes, smoke run only)"
            if results.plan.max_frames
            else ""
        )
        + f"; the whole run took {results.seconds:.0f} s. Every ratio below is measured in "
        "this one run; absolute times depend on the machine and on what else ran on it.\n"
    )
    add("## The issue's aims, checked on this run\n")
    md.extend(f"- {line}" for line in aims(results))
    add("")
    add("## Machine and versions\n")
    add("| | |\n|---|---|")
    for key, value in results.info.items():
        add(f"| {key} | {value} |")
    add("")


def _accuracy_section(
    md: list[str], out: Path, results: Results, systems: list[str], scenes: list[str]
) -> None:
    """Line count accuracy per profile, with its plots."""
    add = md.append
    add("## Counting accuracy on seeded scenes\n")
    add(
        "Every system gets the same simulated detections per frame (`lab/sim`), with the "
        "scene's own faults (`scene`) and with the issue's target conditions (`stress`: at "
        "least 10 % missed detections, box jitter 0.03, occlusion gaps of 3-8 frames at "
        "0.2 per person per second, and 20 % of crossings hidden for 4 frames at the line "
        "to break ids). Accuracy = 1 - |counted - true| / true, pooled over lines and "
        "directions (the worst direction is in the detail table). Double counts and missed "
        f"crossings pair counted with true events of the same line and direction within "
        f"{MATCH_SECONDS:g} s. Occupancy error is the mean absolute error per frame.\n"
    )
    add(
        "Peers: `supervision` = supervision `LineZone` + `PolygonZone` (bottom-centre "
        "anchor) on `trackers.ByteTrackTracker` (documented defaults, the scene's frame "
        "rate; unconfirmed tracks with id -1 dropped before counting). `norfair` = "
        "`norfair.Tracker(distance_function='euclidean')` on box corners of detections with "
        "score >= 0.5 and a plain line test on the tracked bottom-centre; the distance "
        "threshold was tried at "
        + ", ".join(f"{f:g}" for f in results.plan.norfair_thresholds)
        + f" of the frame height and the best overall (`{results.norfair_best}`) is shown; "
        "all settings are in the detail table.\n"
    )
    for profile in PROFILES:
        add(f"### Line count accuracy, `{profile}` faults\n")
        add("| scene | " + " | ".join(systems) + " |")
        add("|---" * (len(systems) + 1) + "|")
        by_system = {sys_: _scores_for(results, profile, sys_) for sys_ in systems}
        for scene in scenes:
            row = [
                _pct(by_system[sys_][scene].line_accuracy) if scene in by_system[sys_] else "n/a"
                for sys_ in systems
            ]
            add(f"| {scene} | " + " | ".join(row) + " |")
        add("")
        plots.accuracy_plot(
            out / f"accuracy_{profile}.png",
            scenes,
            {
                sys_: [
                    by_system[sys_][sc].line_accuracy if sc in by_system[sys_] else None
                    for sc in scenes
                ]
                for sys_ in systems
            },
            f"Line count accuracy per scene, {profile} faults",
        )
        add(f"![accuracy, {profile} faults](accuracy_{profile}.png)\n")


def _detail_section(md: list[str], results: Results) -> None:
    """Every system, scene and fault profile in one table."""
    add = md.append
    add("### Detail: every system, scene and fault profile\n")
    add(
        "| profile | scene | system | in (counted/true) | out (counted/true) | accuracy | "
        "worst direction | double counts | missed | occupancy MAE | ms/frame |"
    )
    add("|---|---|---|---|---|---|---|---|---|---|---|")
    for profile, s in results.scores:
        ins = " ".join(f"{ln.counted_in}/{ln.true_in}" for ln in s.lines)
        outs = " ".join(f"{ln.counted_out}/{ln.true_out}" for ln in s.lines)
        add(
            f"| {profile} | {s.scene} | {s.system} | {ins} | {outs} | {_pct(s.line_accuracy)} | "
            f"{_pct(s.min_direction_accuracy)} | {s.matching.double_counts} | "
            f"{s.matching.missed} | {_num(s.occupancy_mae)} | {s.seconds_per_frame * 1e3:.3f} |"
        )
    add("")


def _robust_section(md: list[str], results: Results, systems: list[str], scenes: list[str]) -> None:
    """Mean and worst accuracy over the other detector seeds."""
    add = md.append
    if not results.robust:
        return
    seeds = sorted({seed for seed, _, _ in results.robust})
    add("### Other detector seeds\n")
    add(
        "The same scenes and fault rates, with the simulated detector's faults (which "
        "detections are missed, gaps, jitter, false positives) drawn from "
        f"{len(seeds)} other seeds ({', '.join(str(k) for k in seeds)}): mean and worst "
        "line accuracy over the seeds, and our double counts and missed crossings summed "
        "over them. They check that the figures above are not luck of seed 0; the "
        "tracker and counter were developed looking at seeds 1-12, these included.\n"
    )
    for profile in PROFILES:
        add(f"#### `{profile}` faults, {len(seeds)} seeds\n")
        add(
            "| scene | "
            + " | ".join(f"{sys_} mean (worst)" for sys_ in systems)
            + " | headcount double / missed |"
        )
        add("|---" * (len(systems) + 2) + "|")
        for scene in scenes:
            cells = []
            for sys_ in systems:
                accs = _robust_accuracies(results, profile, sys_, scene)
                cells.append(f"{_pct(float(np.mean(accs)))} ({_pct(min(accs))})" if accs else "n/a")
            ours = _robust_runs(results, profile, "headcount", scene)
            doubles = sum(r.matching.double_counts for r in ours)
            missed = sum(r.matching.missed for r in ours)
            add(f"| {scene} | " + " | ".join(cells) + f" | {doubles} / {missed} |")
        add("")


def _timing_section(md: list[str], out: Path, results: Results, systems: list[str]) -> None:
    """Tracking + counting time per frame, with its plot."""
    add = md.append
    add("## Tracking + counting time per frame\n")
    add(
        "`perf_counter` around each system's per-frame update (for the peers including the "
        "conversion into their own types), on the same detection streams. Mean over the "
        "accuracy runs above, and on a scene with "
        f"{DENSE_PEOPLE} people in view in every frame (the fastest of {DENSE_REPEATS} "
        "interleaved runs of each system).\n"
    )
    add(
        "| system | mean over scene runs (ms) | crowd scene (ms) | "
        f"{DENSE_PEOPLE} people (ms) | ours faster by ({DENSE_PEOPLE} people) |"
    )
    add("|---|---|---|---|---|")
    dense = {s.system: s.seconds_per_frame * 1e3 for s in results.dense}
    ours_dense = dense.get("headcount", float("nan"))
    for sys_ in [*systems, *sorted({s.system for _, s in results.scores} - set(systems))]:
        runs = [s for _, s in results.scores if s.system == sys_]
        if not runs:
            continue
        total = sum(s.seconds_per_frame * s.frames for s in runs) / sum(s.frames for s in runs)
        crowd = [
            s.seconds_per_frame * 1e3
            for _, s in results.scores
            if s.system == sys_ and s.scene == "crowd"
        ]
        crowd_ms = float(np.mean(crowd)) if crowd else None
        factor = dense[sys_] / ours_dense if sys_ in dense and sys_ != "headcount" else None
        add(
            f"| {sys_} | {total * 1e3:.3f} | {_num(crowd_ms, 3)} | "
            f"{_num(dense.get(sys_), 3)} | {'—' if factor is None else f'{factor:.2f}x'} |"
        )
    add("")
    if dense:
        plots.tracking_plot(out / "tracking_time.png", dense, DENSE_PEOPLE)
        add("![tracking + counting time](tracking_time.png)\n")


def _speed_section(md: list[str], out: Path, results: Results) -> None:
    """The whole sensor's speed per capture, model and thread count."""
    add = md.append
    add("## Whole sensor speed\n")
    add(
        "One fresh process per configuration (so peak RSS is that configuration's own): the "
        "real pipeline on frames panned over a real photo (scikit-image's `astronaut`), "
        "through "
        "preprocess, LiteRT inference, decode, tracking, counting and publishing (to no "
        f"sink), in {ROUNDS} rounds, each next to a bare `invoke()` loop of as many frames on "
        "the same interpreter and thread count (alternately before and after it); the ratio "
        f"is the median of the {ROUNDS} rounds' ratios, so a burst of load from a neighbour "
        "on a shared machine moves one round, not the figure. CPU = process CPU seconds per frame "
        "(all threads). Capture `mjpeg`: a 640x480 JPEG per frame, as from a video file (or a "
        "webcam that ignores the size asked for); `webcam`: a 320x240 JPEG per frame, the "
        "nearest mode a USB webcam offers to the detector's size, which the sensor asks for. "
        "Both are decoded, resized to the model's input and turned into RGB in the sensor's "
        "prefetching reader thread, as `edge/sources/opencv.py` does. `isp`: the frames "
        "arrive at the model's input size, as the Pi camera's ISP delivers its "
        "low-resolution stream (no decode, no resize in the process). The reader's "
        "decode is work the bare loop does not do: where the interpreter's threads "
        "already take every core of the machine (see Machine and versions), it competes "
        "with inference for them, which the ratio shows.\n"
    )
    add(
        "| capture | model | threads | "
        + " | ".join(f"{s} (ms)" for s in STAGES)
        + " | pipeline fps | bare invoke fps | ratio | CPU ms/frame | peak RSS (MB) |"
    )
    add("|---" * (len(STAGES) + 8) + "|")
    for r in results.speed:
        add(
            f"| {r.capture} | {r.model} | {r.threads} | "
            + " | ".join(f"{r.stages_ms.get(s, 0.0):.2f}" for s in STAGES)
            + f" | {r.pipeline_fps:.1f} | {r.bare_fps:.1f} | {r.ratio:.2f} | "
            f"{r.cpu_ms_per_frame:.1f} | {r.peak_rss_mb:.0f} |"
        )
    add("")
    if results.speed:
        plots.stage_plot(out / "stages.png", results.speed)
        add("![time per stage](stages.png)\n")


def _gating_section(md: list[str], results: Results) -> None:
    """CPU and accuracy with the motion gate off and on."""
    add = md.append
    add("## Motion gating\n")
    add(
        "The gate (`edge/gate.py`, defaults) compares a 32x24 grey block-mean thumbnail with "
        "the one of the last frame the detector ran on; the detector runs when enough cells "
        "changed, for 1 s after motion, and every 2 s as a keep-alive. Empty scene: a real "
        "photo without people with per-frame sensor noise. Busy scene: the seeded scene "
        f"`{GATE_SCENE}` drawn as person-shaped blobs on that photo. The real uint8 model "
        "(2 threads) runs whenever the gate lets it; on the busy scene its answer is "
        "replaced by the scene's simulated detections, so accuracy is scored against exact "
        "ground truth.\n"
    )
    add("| scene | gate | frames | detector runs | CPU ms/frame | line accuracy | occupancy MAE |")
    add("|---|---|---|---|---|---|---|")
    for g in results.gating:
        add(
            f"| {g.scene} | {'on' if g.gated else 'off'} | {g.frames} | {g.detector_runs} | "
            f"{g.cpu_ms_per_frame:.2f} | {_pct(g.line_accuracy)} | {_num(g.occupancy_mae, 3)} |"
        )
    add("")
    for scene in dict.fromkeys(g.scene for g in results.gating):
        pair = {g.gated: g for g in results.gating if g.scene == scene}
        if True in pair and False in pair and pair[True].cpu_ms_per_frame > 0:
            ratio = pair[False].cpu_ms_per_frame / pair[True].cpu_ms_per_frame
            add(f"- {scene}: CPU per frame {ratio:.1f}x lower with the gate on.")
    add("")


def _reproduce_section(md: list[str]) -> None:
    """How to run it again."""
    add = md.append
    add("## How to reproduce\n")
    add(
        "`make bench` (installs the `bench` extra and runs `headcount bench --out "
        "benchmarks`). The scenes are in `lab/sim/scenes/`; the code is `lab/bench/`. "
        "`headcount bench --pixels` re-measures only the real-pixels section (the pixel "
        "scenes are in `lab/pixels/scenes/`, the code in `lab/pixels/` and "
        "`lab/bench/pixels.py`).\n"
    )


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def aims(results: Results) -> list[str]:
    """One line per aim of the issue: met or not, with the figures of this run."""
    out: list[str] = []
    peers = ["supervision", results.norfair_best]
    stress = _scores_for(results, "stress", "headcount")
    low = {
        n: s.line_accuracy
        for n, s in stress.items()
        if s.line_accuracy is not None and s.line_accuracy < 0.98
    }
    out.append(
        f"98 % line count accuracy under `stress` faults on every scene: {_verdict(not low)}"
        + (
            " (below: " + ", ".join(f"{n} {_pct(v)}" for n, v in sorted(low.items())) + ")"
            if low
            else ""
        )
    )
    doubles = [
        s.matching.double_counts
        for p, s in results.scores
        if s.system == "headcount" and s.scene == "loiter_line"
    ]
    if doubles:
        out.append(
            f"no double count from loitering on the line: {_verdict(max(doubles) == 0)} "
            f"({max(doubles)} in the worst profile)"
        )
    by_run = {(p, s.system, s.scene): s.line_accuracy for p, s in results.scores}
    scenes = sorted({s.scene for _, s in results.scores})
    behind = _behind(peers, scenes, lambda p, system, scene: by_run.get((p, system, scene)))
    out.append(
        f"accuracy at least the best peer's on every scene: {_verdict(not behind)}"
        + (" (behind on " + "; ".join(behind) + ")" if behind else "")
    )
    out.extend(_robust_aims(results, peers))
    dense = {s.system: s.seconds_per_frame * 1e3 for s in results.dense}
    if "headcount" in dense:
        ours_ms = dense["headcount"]
        factors = {k: v / ours_ms for k, v in dense.items() if k != "headcount"}
        out.append(
            f"tracking + counting at least 3x faster than each peer at {DENSE_PEOPLE} people: "
            f"{_verdict(all(f >= 3 for f in factors.values()))} ("
            + ", ".join(f"{k} {f:.1f}x" for k, f in factors.items())
            + ")"
        )
        out.append(
            f"counting core under 1 ms per frame at {DENSE_PEOPLE} people: "
            f"{_verdict(ours_ms < 1.0)} ({ours_ms:.2f} ms)"
        )
    if results.speed:
        by_capture: dict[str, list[SensorSpeed]] = {}
        for r in results.speed:
            by_capture.setdefault(r.capture, []).append(r)
        for capture, runs in by_capture.items():
            ratios = ", ".join(f"{r.model}/{r.threads}: {r.ratio:.2f}" for r in runs)
            out.append(
                "pipeline frame rate at least 0.9 of the bare invoke loop, "
                f"{CAPTURE_NAMES.get(capture, capture)}: "
                f"{_verdict(all(r.ratio >= 0.9 for r in runs))} (model/threads: {ratios})"
            )
        peak = max(r.peak_rss_mb for r in results.speed)
        out.append(f"peak RSS under 200 MB: {_verdict(peak < 200)} (largest {peak:.0f} MB)")
        share = max(
            r.stages_ms.get("preprocess", 0.0) / max(sum(r.stages_ms.values()), 1e-9)
            for r in results.speed
        )
        out.append(
            f"preprocessing not the bottleneck: {_verdict(share < 0.1)} "
            f"(at most {share * 100:.1f} % of a frame's time)"
        )
    pairs: dict[str, dict[bool, GateRun]] = {}
    for g in results.gating:
        pairs.setdefault(g.scene, {})[g.gated] = g
    for scene, pair in pairs.items():
        if True not in pair or False not in pair:
            continue
        on, off = pair[True], pair[False]
        if scene == "empty":
            ratio = off.cpu_ms_per_frame / max(on.cpu_ms_per_frame, 1e-9)
            out.append(
                f"gating: 5x less CPU on an empty scene: {_verdict(ratio >= 5)} ({ratio:.1f}x)"
            )
        else:
            same = on.line_accuracy == off.line_accuracy and on.occupancy_mae == off.occupancy_mae
            out.append(
                f"gating: accuracy unchanged on the busy scene {scene}: {_verdict(same)} "
                f"(line {_pct(off.line_accuracy)} -> {_pct(on.line_accuracy)}, occupancy MAE "
                f"{_num(off.occupancy_mae, 3)} -> {_num(on.occupancy_mae, 3)})"
            )
    return out


def _robust_aims(results: Results, peers: Sequence[str]) -> list[str]:
    """The accuracy aims again, over the other detector seeds."""
    if not results.robust:
        return []
    seeds = sorted({seed for seed, _, _ in results.robust})
    label = f"over {len(seeds)} other detector seeds"
    out = []
    low = [
        f"{s.scene} {_pct(s.line_accuracy)} (seed {seed})"
        for seed, p, s in results.robust
        if p == "stress"
        and s.system == "headcount"
        and s.line_accuracy is not None
        and s.line_accuracy < 0.98
    ]
    out.append(
        f"{label}, 98 % line count accuracy under `stress` faults on every scene: "
        f"{_verdict(not low)}" + (f" (below: {', '.join(low)})" if low else "")
    )
    loiter = [
        (seed, p, s.matching.double_counts)
        for seed, p, s in results.robust
        if s.system == "headcount" and s.scene == "loiter_line"
    ]
    if loiter:
        bad = [f"{n} ({p}, seed {seed})" for seed, p, n in loiter if n]
        out.append(
            f"{label}, no double count from loitering on the line: {_verdict(not bad)}"
            + (f" (double counts: {', '.join(bad)})" if bad else "")
        )

    def mean(profile: str, system: str, scene: str) -> float | None:
        accs = _robust_accuracies(results, profile, system, scene)
        return float(np.mean(accs)) if accs else None

    scenes = sorted({s.scene for _, _, s in results.robust})
    behind = _behind(peers, scenes, mean)
    out.append(
        f"{label}, mean accuracy at least the best peer's on every scene: {_verdict(not behind)}"
        + (" (behind on " + "; ".join(behind) + ")" if behind else "")
    )
    return out


def summary_lines(results: Results) -> list[str]:
    """A few lines for the terminal: the headline figures of this run."""
    lines = []
    for profile in PROFILES:
        ours = _scores_for(results, profile, "headcount")
        worst = min(
            (s.line_accuracy for s in ours.values() if s.line_accuracy is not None), default=None
        )
        lines.append(f"{profile} faults: worst scene line accuracy (headcount) {_pct(worst)}")
    dense = {s.system: s.seconds_per_frame * 1e3 for s in results.dense}
    if "headcount" in dense:
        others = ", ".join(f"{k} {v:.2f} ms" for k, v in dense.items() if k != "headcount")
        lines.append(
            f"tracking+counting at {DENSE_PEOPLE} people: headcount {dense['headcount']:.2f} ms; "
            + others
        )
    for r in results.speed:
        lines.append(
            f"sensor {r.capture} {r.model}/{r.threads} thr: {r.pipeline_fps:.1f} fps, ratio to "
            f"bare invoke "
            f"{r.ratio:.2f}, {r.cpu_ms_per_frame:.1f} CPU ms/frame, peak RSS {r.peak_rss_mb:.0f} MB"
        )
    for g in results.gating:
        lines.append(
            f"gating {g.scene} {'on' if g.gated else 'off'}: {g.cpu_ms_per_frame:.2f} CPU ms/frame"
        )
    return lines


def run_pixel_bench(out: Path, quick: bool) -> int:
    """Only the real-pixels section: measured and spliced into `out`/RESULTS.md."""
    plan = QUICK if quick else FULL
    try:
        require_peers()
    except PeersMissingError as error:
        sys.stderr.write(f"headcount bench: {error}\n")
        return 2
    started = time.perf_counter()
    try:
        runs = run_pixels(PIXEL_SETTINGS[: plan.pixel_settings], max_frames=plan.pixel_frames)
    except (SceneError, SamplesMissingError) as error:
        sys.stderr.write(f"headcount bench: {error}\n")
        return 2
    section = pixel_report(runs, time.perf_counter() - started)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "RESULTS.md"
    splice_section(path, section)
    sys.stdout.write("\n".join(line for line in section if line.startswith("|")) + "\n")
    sys.stdout.write(f"wrote the real-pixels section of {path}\n")
    return 0


def _other_seeds(
    plan: Plan, scenes: list[Scene], chosen: list[SystemFactory]
) -> list[tuple[int, str, SceneScore]]:
    """Every chosen system on every scene and profile, with the detector's faults per seed."""
    robust: list[tuple[int, str, SceneScore]] = []
    for seed in plan.robust_seeds:
        log.info("accuracy, detector seed %d", seed)
        for scene in scenes:
            for profile, faults in (("scene", None), ("stress", stress_faults(scene))):
                stream = detection_stream(scene, profile, faults, plan.max_frames, seed)
                robust.extend((seed, profile, run_system(stream, f(scene))) for f in chosen)
    return robust


def _dense_scores(plan: Plan, chosen: list[SystemFactory]) -> list[SceneScore]:
    """Timing only: each system runs DENSE_REPEATS times, interleaved, and keeps its fastest
    run, so a neighbour's burst of load does not decide the ratio."""
    dense = dense_scene()
    dense_stream = detection_stream(dense, "dense", None, plan.dense_frames)
    repeats: list[list[SceneScore]] = [[] for _ in chosen]
    for _ in range(DENSE_REPEATS):
        for runs, factory in zip(repeats, chosen, strict=True):
            runs.append(run_system(dense_stream, factory(dense)))
    return [min(runs, key=lambda s: s.seconds_per_frame) for runs in repeats]


def _speed_runs(plan: Plan) -> list[SensorSpeed]:
    """The whole sensor in one fresh process per configuration."""
    log.info("whole sensor speed: %d configurations", len(plan.speed_configs))
    speed: list[SensorSpeed] = []
    with tempfile.TemporaryDirectory() as tmp:
        image_file = Path(tmp) / "astronaut.npy"
        np.save(image_file, photo("astronaut"))
        for model, threads, capture in plan.speed_configs:
            speed.append(
                measure_in_subprocess(model, threads, plan.speed_frames, image_file, capture)
            )
    return speed


def run_bench(out: Path, quick: bool) -> int:
    """Measure everything, write `out`/RESULTS.md and PNGs, print a summary; exit status."""
    started = time.perf_counter()
    plan = QUICK if quick else FULL
    try:
        require_peers()
        import matplotlib  # noqa: F401
    except (PeersMissingError, ImportError) as error:
        message = (
            str(error)
            if isinstance(error, PeersMissingError)
            else "matplotlib is needed for the plots; run `pip install -e '.[bench]'`"
        )
        sys.stderr.write(f"headcount bench: {message}\n")
        return 2
    try:
        names = scene_names()
        scenes = [load_scene(name) for name in names]
    except SceneError as error:
        sys.stderr.write(f"headcount bench: {error}\n")
        return 2

    streams: list[Stream] = []
    for scene in scenes:
        streams.append(detection_stream(scene, "scene", None, plan.max_frames))
        streams.append(detection_stream(scene, "stress", stress_faults(scene), plan.max_frames))
    log.info("accuracy: %d scenes x %d profiles", len(scenes), len(PROFILES))
    factories = _factories(plan.norfair_thresholds)
    scores = run_all(streams, factories)
    norfair_names = [f"norfair@{f:g}h" for f in plan.norfair_thresholds]
    best = _pick_norfair(scores, norfair_names)

    chosen = _chosen(factories, norfair_names, best)
    robust = _other_seeds(plan, scenes, chosen)
    dense_scores = _dense_scores(plan, chosen)
    speed = _speed_runs(plan)

    log.info("motion gating")
    gating = measure_gating(load_scene(GATE_SCENE), plan.gate_frames)

    log.info("real pixels")
    pixels_started = time.perf_counter()
    pixel_runs = run_pixels(PIXEL_SETTINGS[: plan.pixel_settings], max_frames=plan.pixel_frames)
    pixel_section = pixel_report(pixel_runs, time.perf_counter() - pixels_started)

    results = Results(
        plan=plan,
        info=machine(),
        scores=scores,
        norfair_best=best,
        dense=dense_scores,
        speed=speed,
        gating=gating,
        seconds=time.perf_counter() - started,
        robust=robust,
    )
    path = write_report(out, results)
    splice_section(path, pixel_section)
    for line in summary_lines(results) + aims(results):
        sys.stdout.write(line.replace("**", "") + "\n")
    sys.stdout.write(f"wrote {path}\n")
    from lab.bench.setup_page import write_setup_report

    log.info("the setup page's cost to the frame rate")
    _, setup_path = write_setup_report(out, *((3.0, 2, 1) if quick else ()))
    sys.stdout.write(f"wrote {setup_path}\n")
    return 0
