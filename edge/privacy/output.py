"""The publication-time privacy transforms of one boot, built from `[privacy]`.

Wire `snapshot` and `bucket` as the Publisher's filters. With `epsilon` set, buckets
get noise first and `state` totals become the sums of the noisy buckets (so exact
totals never leave); then k-suppression applies to zone counts of both.
"""

from __future__ import annotations

from collections.abc import Iterable

from edge.config import PrivacyConfig
from edge.messages import Bucket, Snapshot
from edge.privacy.noise import NoisyTotals, Randomness, add_noise, system_randomness
from edge.privacy.suppress import apply_k


class OutputPrivacy:
    """Stateful only for the noisy cumulative totals; otherwise pure."""

    def __init__(self, config: PrivacyConfig, rng: Randomness | None = None) -> None:
        self.k = config.k
        self.epsilon = config.epsilon
        self._rng = rng if rng is not None else system_randomness()
        self._totals = NoisyTotals()

    def snapshot(self, snapshot: Snapshot) -> Snapshot:
        if self.epsilon is not None:
            snapshot = self._totals.apply(snapshot)
        return apply_k(snapshot, self.k)

    def bucket(self, bucket: Bucket) -> Bucket:
        if self.epsilon is not None:
            bucket = add_noise(bucket, self.epsilon, self._rng)
            self._totals.add(bucket)
        return apply_k(bucket, self.k)

    def reset(self, lines: Iterable[str] | None = None) -> None:
        """Call when a reset command zeroes the counters' totals (all lines when None)."""
        self._totals.reset(lines)
