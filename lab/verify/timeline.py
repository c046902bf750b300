"""The PNG timeline: true and counted crossings per line-direction, misses and extras marked."""

from __future__ import annotations

from pathlib import Path

from lab.verify.score import Score


class TimelineError(Exception):
    """matplotlib is not installed; the message says how to get it."""


def write_timeline(path: Path, score: Score, title: str) -> None:
    """One row per line-direction: true crossings above, counted below, on clip time."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise TimelineError(
            "the PNG timeline needs matplotlib: pip install 'headcount[verify]'"
        ) from None
    rows = score.lines
    fig, ax = plt.subplots(figsize=(10, 1.0 + 0.6 * max(len(rows), 1)))
    for k, s in enumerate(rows):
        y = len(rows) - 1 - k
        true = [c.time_s for c in score.truth if c.line == s.line and c.direction == s.direction]
        counted = [
            c.time_s for c in score.counted if c.line == s.line and c.direction == s.direction
        ]
        ax.scatter(true, [y + 0.15] * len(true), marker="v", color="tab:blue", s=30)
        ax.scatter(counted, [y - 0.15] * len(counted), marker="^", color="tab:green", s=30)
        ax.scatter(s.misses, [y + 0.15] * len(s.misses), marker="x", color="tab:red", s=60)
        extra = list(s.doubles) + list(s.spurious)
        ax.scatter(extra, [y - 0.15] * len(extra), marker="x", color="tab:orange", s=60)
    ax.set_yticks(range(len(rows)), [s.name for s in reversed(rows)])
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlabel("clip time (s)")
    ax.set_title(f"{title}: true (v, blue), counted (^, green), missed (red x), extra (orange x)")
    ax.title.set_fontsize(9)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
