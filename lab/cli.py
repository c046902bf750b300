"""The lab's sub-commands of `headcount`, registered as `headcount.commands` entry points."""

from __future__ import annotations

import argparse
from pathlib import Path


def _bench(args: argparse.Namespace) -> int:
    from lab.bench import run_bench
    from lab.bench.runner import run_pixel_bench

    if args.pixels:
        return run_pixel_bench(out=args.out, quick=args.quick)
    return run_bench(out=args.out, quick=args.quick)


def register_bench(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = subparsers.add_parser("bench", help="measure accuracy and speed; write benchmarks/")
    bench.add_argument("--out", type=Path, default=Path("benchmarks"))
    bench.add_argument("--quick", action="store_true", help="small scenes, for a smoke run")
    bench.add_argument(
        "--pixels",
        action="store_true",
        help="only the rendered scenes through the whole sensor (updates that section)",
    )
    bench.set_defaults(func=_bench)


def _demo(args: argparse.Namespace) -> int:
    from lab.demo import run_demo

    return run_demo(video=args.video, broker=args.broker, realtime=args.realtime)


def register_demo(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = subparsers.add_parser("demo", help="count people in a real sample video, live")
    demo.add_argument("--video", type=Path, required=True, help="the sample video file")
    demo.add_argument("--broker", metavar="HOST:PORT", help="use this MQTT broker")
    demo.add_argument("--realtime", action="store_true", help="play at the video's speed")
    demo.set_defaults(func=_demo)
