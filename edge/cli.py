"""The `headcount` command: run, schema, privacy, and the sub-commands other packages register.

Exit status: 0 done, 1 a failure while running, 2 a problem the user can fix
(config, model file, source, broker settings). Logs go to stderr; stdout carries only
the requested output (snapshot JSON lines, schemas, the privacy text).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from edge import __version__
from edge.config import Config, ConfigError, load_config
from edge.plugins import register_commands
from edge.quiet import held_stderr, quiet_native_logs

if TYPE_CHECKING:
    from edge.pipeline import RunSummary

log = logging.getLogger("edge.cli")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _install_signal_handlers(stop: threading.Event) -> None:
    def handle(signum: int, _frame: object) -> None:
        log.info("received %s; closing the open bucket and stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def _fail(message: str, status: int) -> int:
    print(f"headcount: {message}", file=sys.stderr)
    return status


def cmd_run(args: argparse.Namespace) -> int:
    from edge.bootstrap import StartupError, build_sensor
    from edge.frames import SourceError
    from edge.privacy.guard import PrivacyViolation
    from edge.sources.prefetch import ReaderError

    config: Config = load_config(args.config)
    stop = threading.Event()
    _install_signal_handlers(stop)
    from edge.watchdog import SystemdNotifier

    watchdog = SystemdNotifier.from_env()
    try:
        with held_stderr():  # libraries' load-time chatter never precedes our sentence
            sensor = build_sensor(
                config,
                source_uri=args.source,
                sink=args.sink,
                publish_every=args.publish_every,
                realtime=args.realtime,
                watchdog=watchdog,
                stop=stop,
            )
    except StartupError as error:
        return _fail(str(error), EXIT_USAGE)
    try:
        summary = sensor.pipeline.run()
    except PrivacyViolation as error:
        return _fail(f"stopped: {error}", EXIT_FAILURE)
    except ReaderError as error:
        return _fail(f"stopped: {error}; the counts so far were published", EXIT_FAILURE)
    except SourceError as error:
        if sensor.pipeline.frames == 0:
            return _fail(f"{error}; check [source] uri or --source", EXIT_USAGE)
        return _fail(f"{error}; the counts so far were published", EXIT_FAILURE)
    log.info(
        "stopped after %d frames (%d detector runs); %s",
        summary.frames,
        summary.detector_runs,
        _totals_for_log(summary, config),
    )
    return EXIT_OK


def _totals_for_log(summary: RunSummary, config: Config) -> str:
    """The line totals as published; none when they carry noise (no log holds an exact
    count, and a noisy total that happens to equal the exact one would)."""
    if config.privacy.epsilon is not None:
        return "line totals carry noise: see the last published state"
    return f"totals {summary.published}"


def cmd_schema(args: argparse.Namespace) -> int:
    import json

    from edge.schema import message_schemas

    print(json.dumps(message_schemas(), indent=2))
    return EXIT_OK


def cmd_privacy(args: argparse.Namespace) -> int:
    from edge.privacy.manifest import manifest_for_config, render_text

    config = load_config(args.config) if args.config else None
    print(render_text(manifest_for_config(config)))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="headcount",
        description="Count people with a camera; publish only anonymous counts.",
    )
    parser.add_argument("--version", action="version", version=f"headcount {__version__}")
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the sensor")
    run.add_argument("--config", required=True, type=Path, help="TOML config file")
    run.add_argument("--source", help="override [source] uri")
    run.add_argument("--sink", default="stdout", choices=["stdout", "mqtt", "both"])
    run.add_argument(
        "--publish-every",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="least frame time between snapshots on change; 0 = after every frame",
    )
    run.add_argument("--realtime", action="store_true", help="pace a video file in real time")
    run.set_defaults(func=cmd_run)

    schema = sub.add_parser("schema", help="print the JSON Schema of every message")
    schema.set_defaults(func=cmd_schema)

    privacy = sub.add_parser("privacy", help="print the privacy manifest")
    privacy.add_argument("--config", type=Path, help="TOML config file")
    privacy.set_defaults(func=cmd_privacy)

    register_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    quiet_native_logs()
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.log_level)
    try:
        status: int = args.func(args)
    except ConfigError as error:
        return _fail(f"{error}", EXIT_USAGE)
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:  # e.g. `headcount schema | head`
        sys.stderr.close()
        return EXIT_OK
    return status


if __name__ == "__main__":
    sys.exit(main())
