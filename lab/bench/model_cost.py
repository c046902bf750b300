"""Cost of one detector `invoke()` per model: instructions (load-independent) and wall-clock.

Contract: `python -P lab/bench/model_cost.py A.tflite B.tflite ...` needs only a Python with
ai-edge-litert, numpy and pillow (not the project's environment; `-P` keeps `lab/bench` off
`sys.path`) and `valgrind` on the PATH. It writes a Markdown report to stdout: the versions and
the CPU, then one row a model with ratios against the first model (or `--reference`). Progress
is logged to stderr. It returns 0, or 1 when valgrind is missing or a run of it failed.

- Instructions: each model runs in a process of its own under `valgrind --tool=callgrind`, with
  one interpreter thread and the same input frame. Collection is on only inside the C++
  function that `Interpreter.invoke()` calls (`INVOKE_SYMBOL`), with a dump after each call;
  the warm-up calls are dropped and the row gives the median of the others and their spread
  (max - min). The XNNPACK
  micro-kernels seen in those dumps are listed by their instruction-set suffix (`avx2`, `fma3`,
  ...), which tells which code path ran under valgrind. `--cross-check` also counts two whole
  processes, one with the warm-up calls only and one with N calls more, and divides the
  difference by N.
- Wall-clock: every model is loaded in one process (one thread each) and invoked in turn, the
  order rotated each round; per model the best and the median call, and the median of its
  per-round ratio to the reference. Unlike the instruction counts, these depend on machine load.

Instruction counts are those of the x86-64 code valgrind ran: they compare models on this
code path and do not give the time on another CPU (a Raspberry Pi's ARM cores run other kernels).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

INVOKE_SYMBOL = "tflite::interpreter_wrapper::InterpreterWrapper::Invoke(int)"
"""The C++ function that LiteRT's Python `Interpreter.invoke()` calls (demangled; in
ai-edge-litert 2.3.0 `tflite::impl::Interpreter::Invoke()` is inlined into it)."""
DEFAULT_IMAGE = (
    Path(__file__).resolve().parents[2]
    / "edge/models/calibration/opencvdoc_studentssample_input_0.jpg"
)
"""A 300x300 lecture hall with many people, so the post-processing has candidates to sort."""
_TOTALS = re.compile(r"^(?:totals|summary):\s+(\d+)", re.MULTILINE)
_KERNEL = re.compile(r"\b(xnn_\w*?ukernel\w*?__(?:asm_[a-z0-9]+_)?([a-z0-9]+)\w*)")
"""An XNNPACK micro-kernel's name and its ISA: `..._ukernel_6x16__asm_amd64_fma3_...` is fma3."""


@dataclass(frozen=True, slots=True)
class Instructions:
    """Callgrind's count for one model: per timed invoke, and how many distinct XNNPACK
    micro-kernels ran for each instruction-set suffix."""

    per_invoke: tuple[int, ...]
    kernels: dict[str, int]
    difference: float | None = None
    """Whole-process (warm-up + N calls - warm-up calls) / N, when cross-checked."""

    @property
    def median(self) -> float:
        return float(statistics.median(self.per_invoke))


@dataclass(slots=True)
class WallClock:
    """Seconds of each timed call, and the per-round ratio to the reference."""

    seconds: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)


def load_interpreter(model: Path, image: Path, threads: int) -> Any:
    """A LiteRT interpreter with its tensors allocated and `image` set as its input."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model), num_threads=threads)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], input_tensor(image, detail))
    return interpreter


def input_tensor(image: Path, detail: dict[str, Any]) -> npt.NDArray[Any]:
    """The frame squash-resized (bilinear) to the model's input: raw pixels for a uint8 input,
    `x / 127.5 - 1` for a float32 one (MODEL_CARD.md, "Input tensor")."""
    from PIL import Image

    _, height, width, _ = (int(n) for n in detail["shape"])
    with Image.open(image) as raw:
        rgb = raw.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)
    pixels = np.asarray(rgb, np.uint8)[np.newaxis]
    if detail["dtype"] == np.uint8:
        return pixels
    if detail["dtype"] == np.float32:
        return (pixels / 127.5 - 1.0).astype(np.float32)
    raise ValueError(f"unsupported input dtype {detail['dtype']}")


def run_worker(model: Path, image: Path, threads: int, calls: int) -> None:
    """What valgrind runs: load, then `calls` invokes, nothing else."""
    interpreter = load_interpreter(model, image, threads)
    for _ in range(calls):
        interpreter.invoke()


def _worker_command(model: Path, image: Path, threads: int, calls: int) -> list[str]:
    return [
        sys.executable,
        "-P",
        str(Path(__file__).resolve()),
        "--worker",
        str(model),
        "--image",
        str(image),
        "--threads",
        str(threads),
        "--calls",
        str(calls),
    ]


def _callgrind(worker: list[str], options: Sequence[str], out_dir: Path) -> list[Path]:
    """Run `worker` under callgrind; its dump files, in the order they were written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out_dir}/callgrind.out",
        *options,
        *worker,
    ]
    # numpy's OpenBLAS threads would spin while valgrind runs the worker, and count.
    env = {**os.environ, "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1"}
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    except FileNotFoundError as error:
        raise RuntimeError("valgrind is not installed (Debian package valgrind)") from error
    if done.returncode != 0:
        raise RuntimeError(f"valgrind exited {done.returncode}: {done.stderr[-2000:]}")

    def order(path: Path) -> int:
        suffix = path.name.rsplit(".", 1)[-1]
        return int(suffix) if suffix.isdigit() else sys.maxsize

    return sorted(out_dir.glob("callgrind.out*"), key=order)


def _totals(path: Path) -> int:
    found = _TOTALS.search(path.read_text(errors="replace"))
    if found is None:
        raise RuntimeError(f"no totals in {path}")
    return int(found.group(1))


def count_instructions(
    model: Path,
    image: Path,
    *,
    threads: int,
    warmup: int,
    invokes: int,
    out_dir: Path,
    cross_check: bool,
) -> Instructions:
    """Instructions inside each `Invoke()` after `warmup` calls, by callgrind dumps."""
    options = [
        "--collect-atstart=no",
        f"--toggle-collect={INVOKE_SYMBOL}",
        f"--dump-after={INVOKE_SYMBOL}",
    ]
    worker = _worker_command(model, image, threads, warmup + invokes)
    dumps = _callgrind(worker, options, out_dir / "invokes")
    counts = [_totals(path) for path in dumps]
    calls = [count for count in counts if count > 0]
    if len(calls) != warmup + invokes:
        raise RuntimeError(f"{model}: {len(calls)} non-empty dumps, expected {warmup + invokes}")
    names: set[tuple[str, str]] = set()
    for path in dumps:
        names.update(_KERNEL.findall(path.read_text(errors="replace")))
    kernels = Counter(isa for _, isa in names)
    difference = None
    if cross_check:
        totals = []
        for calls_run in (warmup, warmup + invokes):
            worker = _worker_command(model, image, threads, calls_run)
            (dump,) = _callgrind(worker, (), out_dir / f"whole-{calls_run}")
            totals.append(_totals(dump))
        difference = (totals[1] - totals[0]) / invokes
    return Instructions(tuple(calls[warmup:]), dict(kernels), difference)


def wall_clock(
    models: Sequence[Path], image: Path, *, threads: int, warmup: int, rounds: int
) -> list[WallClock]:
    """Each model's timed invokes, interleaved; ratios against `models[0]` of the same round."""
    interpreters = [load_interpreter(model, image, threads) for model in models]
    for interpreter in interpreters:
        for _ in range(warmup):
            interpreter.invoke()
    clocks = [WallClock() for _ in models]
    for round_index in range(rounds):
        shift = round_index % len(models)
        seconds = [0.0] * len(models)
        for index in [*range(shift, len(models)), *range(shift)]:
            start = time.perf_counter()
            interpreters[index].invoke()
            seconds[index] = time.perf_counter() - start
        for clock, value in zip(clocks, seconds, strict=True):
            clock.seconds.append(value)
            clock.ratios.append(value / seconds[0])
    return clocks


def environment() -> list[str]:
    """The versions and machine the figures belong to."""
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        valgrind = subprocess.run(
            ["valgrind", "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except FileNotFoundError:
        valgrind = "not found"
    return [
        f"- ai-edge-litert {metadata.version('ai-edge-litert')}, numpy {np.__version__}, "
        f"Python {platform.python_version()}, {valgrind}",
        f"- CPU: {cpu} ({os.cpu_count()} logical), {platform.machine()}",
    ]


def _kernel_summary(kernels: dict[str, int]) -> str:
    ranked = sorted(kernels.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{isa} ({n})" for isa, n in ranked) or "none"


def report(
    models: Sequence[Path],
    instructions: Sequence[Instructions | None],
    clocks: Sequence[WallClock | None],
) -> list[str]:
    """Markdown: one row a model; the first model is the reference of every ratio."""
    lines = [
        "| model | bytes | instructions / invoke (median; max - min) | vs ref | whole-process "
        "cross-check | wall best / median (ms) | vs ref (median of per-round ratios) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    reference = instructions[0]
    for model, count, clock in zip(models, instructions, clocks, strict=True):
        cells = [f"`{model.name}`", f"{model.stat().st_size:,}"]
        if count is None:
            cells += ["-", "-", "-"]
        else:
            spread = max(count.per_invoke) - min(count.per_invoke)
            cells.append(f"{count.median:,.0f}; {spread:,}")
            cells.append(f"{count.median / reference.median:.3f}" if reference else "-")
            diff = count.difference
            cells.append("-" if diff is None else f"{diff:,.0f}")
        if clock is None:
            cells += ["-", "-"]
        else:
            best, median = min(clock.seconds) * 1e3, statistics.median(clock.seconds) * 1e3
            cells += [f"{best:.1f} / {median:.1f}", f"{statistics.median(clock.ratios):.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    for model, count in zip(models, instructions, strict=True):
        if count is not None:
            kernels = _kernel_summary(count.kernels)
            lines.append(f"- `{model.name}` distinct XNNPACK micro-kernels by ISA: {kernels}")
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path, help=".tflite files")
    parser.add_argument("--reference", type=Path, help="the model of every ratio (default: first)")
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE, help="the input frame")
    parser.add_argument("--threads", type=int, default=1, help="interpreter threads")
    parser.add_argument("--warmup", type=int, default=3, help="untimed, uncounted calls first")
    parser.add_argument("--invokes", type=int, default=10, help="counted calls under callgrind")
    parser.add_argument("--rounds", type=int, default=200, help="wall-clock rounds")
    parser.add_argument("--cross-check", action="store_true", help="also count whole processes")
    parser.add_argument("--no-callgrind", action="store_true", help="wall-clock only")
    parser.add_argument("--no-wall-clock", action="store_true", help="instructions only")
    parser.add_argument("--keep", type=Path, help="keep callgrind's files in this directory")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _measure(args: argparse.Namespace, models: list[Path], out_dir: Path) -> list[str]:
    instructions: list[Instructions | None] = [None] * len(models)
    if not args.no_callgrind:
        for index, model in enumerate(models):
            log.info("callgrind: %s", model)
            instructions[index] = count_instructions(
                model,
                args.image,
                threads=args.threads,
                warmup=args.warmup,
                invokes=args.invokes,
                out_dir=out_dir / f"{index}-{model.stem}",
                cross_check=args.cross_check,
            )
    clocks: list[WallClock | None] = [None] * len(models)
    load = os.getloadavg()
    if not args.no_wall_clock:
        log.info("wall-clock: %d rounds of %d models", args.rounds, len(models))
        clocks = list(
            wall_clock(
                models, args.image, threads=args.threads, warmup=args.warmup, rounds=args.rounds
            )
        )
    lines = environment()
    lines.append(
        f"- {args.threads} thread(s), input `{args.image.name}`, warm-up {args.warmup}, "
        f"{args.invokes} counted invokes, {args.rounds} wall-clock rounds; load average "
        f"{load[0]:.2f} before and {os.getloadavg()[0]:.2f} after the wall-clock rounds"
    )
    return [*lines, "", *report(models, instructions, clocks)]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    if args.worker:
        run_worker(args.models[0], args.image, args.threads, args.calls)
        return 0
    models: list[Path] = list(args.models)
    if args.reference is not None:
        models = [args.reference, *(m for m in models if m != args.reference)]
    try:
        if args.keep is not None:
            lines = _measure(args, models, args.keep)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                lines = _measure(args, models, Path(tmp))
    except RuntimeError as error:
        log.error("%s", error)
        return 1
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
