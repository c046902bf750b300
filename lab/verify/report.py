"""The Markdown report of a verification run: verdict, per line-direction table, events."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lab.verify.score import LineScore, Score


def _times(values: Sequence[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in values) or "-"


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def _line_table(score: Score) -> list[str]:
    rows = [
        "| line direction | true | counted | accuracy | matched | misses | doubles | spurious "
        "| result |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in score.lines:
        rows.append(
            f"| {s.name} | {s.true} | {s.counted} | {_pct(s.accuracy)} | {s.matched} "
            f"| {len(s.misses)} | {len(s.doubles)} | {len(s.spurious)} "
            f"| {'pass' if s.passed else 'FAIL'} |"
        )
    return rows


def _events(lines: Sequence[LineScore]) -> list[str]:
    out: list[str] = []
    for s in lines:
        if s.misses or s.doubles or s.spurious:
            out.append(
                f"- **{s.name}**: missed at {_times(s.misses)} s; doubles at "
                f"{_times(s.doubles)} s; spurious at {_times(s.spurious)} s"
            )
    return out or ["- none: every count matched a true crossing"]


def _latency(score: Score) -> str:
    p50, p95 = score.latency_percentile(50), score.latency_percentile(95)
    if p50 is None or p95 is None:
        return "Latency: not measured in this mode (it needs counts arriving over MQTT)."
    return (
        f"Latency from a true crossing to its published count: p50 {p50:.2f} s, "
        f"p95 {p95:.2f} s over {len(score.latencies)} matched crossings."
    )


def render_markdown(score: Score, title: str, details: Sequence[str] = ()) -> str:
    """The report as Markdown text."""
    verdict = "PASS" if score.passed else "FAIL: " + ", ".join(score.failures)
    out = [
        f"# {title}",
        "",
        f"**{verdict}**",
        "",
        f"Mean accuracy over {len(score.lines)} line-directions: "
        f"{_pct(score.mean_accuracy)} (each must reach {_pct(score.min_accuracy)}; "
        "accuracy = 1 - |counted - true| / true). Events match within "
        f"{score.tolerance_s:g} s.",
        "",
        *details,
        *([""] if details else []),
        *_line_table(score),
        "",
        "## Misses and extra counts (clip time, seconds)",
        "",
        *_events(score.lines),
        "",
        _latency(score),
        "",
    ]
    if score.occupancy_mae:
        out += ["## Occupancy", "", "| zone | mean absolute error |", "|---|---:|"]
        out += [f"| {zone} | {mae:.2f} |" for zone, mae in score.occupancy_mae.items()]
        out.append("")
    if score.checks:
        out += ["## Checks", "", "| check | result | detail |", "|---|---|---|"]
        out += [
            f"| {c.name} | {'pass' if c.passed else 'FAIL'} | {c.message} |" for c in score.checks
        ]
        out.append("")
    return "\n".join(out)


def write_markdown(path: Path, score: Score, title: str, details: Sequence[str] = ()) -> None:
    path.write_text(render_markdown(score, title, details), encoding="utf-8")
