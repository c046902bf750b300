"""`headcount verify`: score a sensor against ground truth and report like a test suite.

Exit status: 0 every line-direction and check passed, 1 one failed, 2 a user's mistake
(told in one sentence on stderr). Registered through the `headcount.commands` entry point.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from lab.verify.score import DEFAULT_MIN_ACCURACY, Check, Observed, Score, score
from lab.verify.truth import Crossing, OccupancySample, TruthError, read_crossings, read_occupancy

log = logging.getLogger(__name__)

EXIT_PASS, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A mistake in the command line or its files; the message says what to do."""


@dataclass(frozen=True)
class Outcome:
    """A finished run to report: its score, a title and lines of context."""

    score: Score
    title: str
    details: tuple[str, ...] = ()


def register_verify(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `verify` (and its `export-truth` and `play` sub-commands) to `headcount`."""
    verify = subparsers.add_parser(
        "verify",
        help="score a sensor against ground truth (clip, scene, live over MQTT, walk test)",
        description="Score counted crossings against ground truth; exit 0 pass, 1 fail.",
    )
    _mode_arguments(verify)
    _output_arguments(verify)
    _listen_arguments(verify)
    verify.set_defaults(func=_verify)
    sub = verify.add_subparsers(dest="verify_command", metavar="{export-truth,play}")
    export = sub.add_parser("export-truth", help="write a seeded scene's truth files")
    export.add_argument("--scene", required=True, help="scene name or .toml path")
    export.add_argument("--out", type=Path, default=Path("."), help="folder for the CSV files")
    export.set_defaults(func=_export)
    play = sub.add_parser("play", help="play a clip full-screen in a browser with a start marker")
    play.add_argument("clip", type=Path)
    play.add_argument("--port", type=int, default=8089, help="local port of the player page")
    play.add_argument("--lead-in", type=float, default=3.0, help="seconds of start marker")
    play.set_defaults(func=_play)


def _mode_arguments(verify: argparse.ArgumentParser) -> None:
    verify.add_argument("--config", type=Path, help="the sensor's TOML config (lines, zones)")
    verify.add_argument("--video", type=Path, help="clip: run the sensor in-process on it")
    verify.add_argument("--truth", type=Path, help="crossings.csv: time_s,line,direction")
    verify.add_argument("--occupancy", type=Path, help="occupancy.csv: time_s,zone,count")
    verify.add_argument("--scene", help="a seeded scene (name or .toml) with its own truth")
    verify.add_argument("--listen", action="store_true", help="attach to a live sensor over MQTT")
    verify.add_argument("--walk", action="store_true", help="serve the walk-test page")
    verify.add_argument(
        "--faults",
        action="store_true",
        help="with --scene: run the sensor process behind a proxy and inject faults",
    )


def _output_arguments(verify: argparse.ArgumentParser) -> None:
    verify.add_argument("--junit", type=Path, help="write JUnit XML here")
    verify.add_argument("--report", type=Path, help="write the Markdown report here")
    verify.add_argument("--timeline", type=Path, help="write the PNG timeline here")
    verify.add_argument(
        "--min-accuracy",
        type=float,
        default=DEFAULT_MIN_ACCURACY,
        help="least accuracy of each line-direction (default 0.95)",
    )
    verify.add_argument("--tolerance", type=float, help="seconds between matched events")
    verify.add_argument("--fps", type=float, help="the clip's frame rate, if it does not say")


def _listen_arguments(verify: argparse.ArgumentParser) -> None:
    verify.add_argument("--broker", metavar="HOST:PORT", help="the sensor's MQTT broker")
    verify.add_argument("--site", help="the sensor's site (default: the config's)")
    verify.add_argument("--sensor", help="the sensor's id (default: the config's)")
    verify.add_argument("--username", help="MQTT user with read access to the sensor")
    verify.add_argument("--password-file", type=Path, help="that user's password file")
    verify.add_argument(
        "--align",
        choices=["frame", "wall"],
        default="frame",
        help="clip time from the snapshot's frame (a replay) or from arrival (a camera)",
    )
    verify.add_argument(
        "--start-at", type=float, help="epoch seconds of the clip's start (--align wall)"
    )
    verify.add_argument("--duration", type=float, help="seconds to listen (default: the truth's)")
    verify.add_argument("--port", type=int, default=8088, help="walk page port")
    verify.add_argument("--host", default="0.0.0.0", help="walk page address (phones join)")


def _fail(message: str, status: int) -> int:
    print(f"headcount verify: {message}", file=sys.stderr)
    return status


def _verify(args: argparse.Namespace) -> int:
    from edge.config import ConfigError
    from lab.sim.scene import SceneError
    from lab.verify.inprocess import RunError
    from lab.verify.listen import ListenError
    from lab.verify.serve import ServeError
    from lab.verify.timeline import TimelineError

    started = time.monotonic()
    try:
        _check_min_accuracy(args.min_accuracy)
        outcome = _run_mode(args)
        return _finish(outcome, args, time.monotonic() - started)
    except (
        UsageError,
        TruthError,
        ConfigError,
        SceneError,
        RunError,
        ListenError,
        TimelineError,
        ServeError,
    ) as error:
        return _fail(str(error), EXIT_USAGE)
    except OSError as error:  # a report path that cannot be written
        return _fail(f"cannot write {error.filename} ({error.strerror}); pass a writable path", 2)


def _check_min_accuracy(value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise UsageError(f"--min-accuracy {value:g} must lie between 0 and 1, e.g. 0.95")


def _run_mode(args: argparse.Namespace) -> Outcome:
    if args.walk:
        from lab.verify.modes import walk_mode

        return walk_mode(args)
    if args.faults:
        from lab.verify.modes import faults_mode

        return faults_mode(args)
    if args.listen:
        from lab.verify.modes import listen_mode

        return listen_mode(args)
    if args.scene:
        from lab.verify.modes import scene_mode

        return scene_mode(args)
    if args.video is not None:
        from lab.verify.modes import clip_mode

        return clip_mode(args)
    raise UsageError(
        "say what to verify: --config C --video CLIP --truth CSV, --scene NAME, --listen, "
        "or --walk (see headcount verify --help)"
    )


def load_truth(
    path: Path | None, occupancy: Path | None, lines: list[str], zones: list[str]
) -> tuple[list[Crossing], list[OccupancySample]]:
    """The truth files, names checked against the config's; UsageError if --truth is missing."""
    if path is None:
        raise UsageError("pass the ground truth with --truth crossings.csv")
    truth = read_crossings(path, lines)
    occ = read_occupancy(occupancy, zones) if occupancy is not None else []
    return truth, occ


def _finish(outcome: Outcome, args: argparse.Namespace, elapsed: float) -> int:
    from lab.verify.junit import write_junit
    from lab.verify.report import render_markdown
    from lab.verify.timeline import write_timeline

    result = outcome.score
    if args.report is not None:
        args.report.write_text(
            render_markdown(result, outcome.title, outcome.details), encoding="utf-8"
        )
    if args.junit is not None:
        write_junit(args.junit, result, outcome.title, elapsed)
    if args.timeline is not None:
        write_timeline(args.timeline, result, outcome.title)
    for s in result.lines:
        print(
            f"{s.name}: counted {s.counted} of {s.true} ({100 * s.accuracy:.1f} %) "
            f"{'pass' if s.passed else 'FAIL'}"
        )
    for c in result.checks:
        print(f"{c.name}: {'pass' if c.passed else 'FAIL'} ({c.message})")
    print(
        f"mean accuracy {100 * result.mean_accuracy:.1f} %: "
        f"{'PASS' if result.passed else 'FAIL ' + ', '.join(result.failures)}"
    )
    return EXIT_PASS if result.passed else EXIT_FAIL


def _export(args: argparse.Namespace) -> int:
    from lab.sim.scene import SceneError
    from lab.verify.scenes import export_truth

    try:
        crossings, occupancy = export_truth(args.scene, args.out)
    except SceneError as error:
        return _fail(str(error), EXIT_USAGE)
    except OSError as error:
        return _fail(f"cannot write into {args.out} ({error.strerror}); pass a writable --out", 2)
    print(crossings)
    print(occupancy)
    return EXIT_PASS


def _play(args: argparse.Namespace) -> int:
    from lab.verify.play import PlayError, serve_player

    try:
        return serve_player(args.clip, port=args.port, lead_in=args.lead_in)
    except PlayError as error:
        return _fail(str(error), EXIT_USAGE)


def scored(
    *,
    truth: list[Crossing],
    occupancy: list[OccupancySample],
    observed: Observed,
    args: argparse.Namespace,
    checks: tuple[Check, ...],
    default_tolerance: float,
) -> Score:
    """Score with the command line's accuracy and tolerance."""
    return score(
        truth,
        observed,
        occupancy=occupancy,
        tolerance_s=args.tolerance if args.tolerance is not None else default_tolerance,
        min_accuracy=args.min_accuracy,
        checks=checks,
    )
