"""PNG plots of the benchmark (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lab.bench.speed import STAGES, SensorSpeed


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def accuracy_plot(
    path: Path,
    scenes: Sequence[str],
    accuracy: Mapping[str, Sequence[float | None]],
    title: str,
) -> Path:
    """Grouped bars: line count accuracy per scene for each system (missing: no bar)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / max(len(accuracy), 1)
    x = np.arange(len(scenes))
    for k, (system, values) in enumerate(accuracy.items()):
        heights = [np.nan if v is None else v * 100 for v in values]
        ax.bar(x + (k - (len(accuracy) - 1) / 2) * width, heights, width, label=system)
    ax.axhline(98, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xticks(x, scenes, rotation=20)
    ax.set_ylabel("line count accuracy (%)")
    ax.set_ylim(0, 105)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def stage_plot(path: Path, runs: Sequence[SensorSpeed]) -> Path:
    """Stacked horizontal bars: milliseconds per frame per stage, one bar per configuration."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(runs) + 1.5))
    labels = [f"{r.capture}: {r.model}, {r.threads} thr" for r in runs]
    left = np.zeros(len(runs))
    for stage in STAGES:
        values = np.asarray([r.stages_ms.get(stage, 0.0) for r in runs])
        ax.barh(labels, values, left=left, label=stage)
        left += values
    ax.set_xlabel("ms per frame")
    ax.set_title("Whole sensor: time per frame per stage")
    ax.legend(fontsize=8, ncol=4, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def tracking_plot(path: Path, ms_per_frame: Mapping[str, float], people: int) -> Path:
    """Bars: tracking + counting time per frame of each system at `people` in view."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3))
    names = list(ms_per_frame)
    ax.bar(names, [ms_per_frame[n] for n in names], color="tab:blue")
    ax.set_ylabel("ms per frame")
    ax.set_title(f"Tracking + counting, {people} people in view")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
