"""The benchmark: counting accuracy and speed side by side with peer counters, and gating.

`run_bench(out, quick)` is what `headcount bench` calls; it writes `out/RESULTS.md` and PNG
plots and prints a short summary. The peers (supervision, trackers, norfair) and
matplotlib are the `bench` extra, imported only here.
"""

from __future__ import annotations

from lab.bench.runner import run_bench

__all__ = ["run_bench"]
