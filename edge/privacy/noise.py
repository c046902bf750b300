"""Differential privacy for bucketed line counts: the two-sided geometric mechanism.

Each line's `in` and `out` of a closed bucket gets independent integer noise Z with
P(Z = z) = (1 - a) / (1 + a) * a^|z|, a = exp(-epsilon / sensitivity), then is clamped
at 0 (post-processing, so the guarantee is unchanged). Z is drawn exactly, in integer
and rational arithmetic (Canonne, Kamath and Steinke's Bernoulli(exp(-g)) sampler), from
a cryptographic random source; no floating-point Laplace is involved. The unit of
privacy is one crossing: it changes one count of one bucket by 1.

`NoisyTotals` keeps the cumulative line totals published in `state` equal to the sum
of the noisy buckets, so the exact totals never leave the process when noise is on.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Final, Protocol

SECONDS_PER_DAY = 86_400
MECHANISM: Final = "two-sided geometric"


class Randomness(Protocol):
    """A uniform integer source: `randrange(n)` is uniform on 0..n-1.

    Production uses `secrets.SystemRandom()` (the OS CSPRNG); tests may pass a seeded
    `random.Random` for reproducibility.
    """

    def randrange(self, start: int, /) -> int: ...


def system_randomness() -> Randomness:
    """The OS's cryptographic random source."""
    return secrets.SystemRandom()


def exact_epsilon(epsilon: float) -> Fraction:
    """The epsilon as the exact decimal written in the config (0.3 -> 3/10)."""
    if not math.isfinite(epsilon) or epsilon <= 0:
        raise ValueError(f"epsilon must be a positive number, got {epsilon!r}")
    return Fraction(repr(epsilon))


def bernoulli(p: Fraction, rng: Randomness) -> bool:
    """True with probability p (0 <= p <= 1), exactly."""
    return rng.randrange(p.denominator) < p.numerator


def bernoulli_exp(gamma: Fraction, rng: Randomness) -> bool:
    """True with probability exp(-gamma) for rational gamma >= 0, exactly."""
    if gamma < 0:
        raise ValueError("gamma must be >= 0")
    whole = math.floor(gamma)
    for _ in range(whole):
        if not _bernoulli_exp_unit(Fraction(1), rng):
            return False
    return _bernoulli_exp_unit(gamma - whole, rng)


def _bernoulli_exp_unit(gamma: Fraction, rng: Randomness) -> bool:
    # For 0 <= gamma <= 1: the first k with a failed Bernoulli(gamma / k) is odd with
    # probability exp(-gamma).
    k = 1
    while bernoulli(gamma / k, rng):
        k += 1
    return k % 2 == 1


def geometric(rate: Fraction, rng: Randomness) -> int:
    """G >= 0 with P(G = g) = (1 - a) a^g, a = exp(-rate), for rational rate > 0.

    With rate = n/d: U + d V is geometric with exp(-1/d) when U in 0..d-1 has weight
    exp(-U/d) and V is geometric with exp(-1); its floor division by n has exp(-n/d).
    """
    if rate <= 0:
        raise ValueError("rate must be > 0")
    n, d = rate.numerator, rate.denominator
    while True:
        u = rng.randrange(d)
        if bernoulli_exp(Fraction(u, d), rng):
            break
    v = 0
    while bernoulli_exp(Fraction(1), rng):
        v += 1
    return (u + d * v) // n


def two_sided_geometric(epsilon: float, rng: Randomness, sensitivity: int = 1) -> int:
    """Integer noise Z with P(Z = z) proportional to exp(-epsilon / sensitivity)^|z|."""
    if sensitivity < 1:
        raise ValueError(f"sensitivity must be >= 1, got {sensitivity}")
    rate = exact_epsilon(epsilon) / sensitivity
    return geometric(rate, rng) - geometric(rate, rng)


LineCounts = dict[str, tuple[int, int]]
"""Per line: (in, out)."""


def add_noise(
    lines: Mapping[str, tuple[int, int]], epsilon: float, rng: Randomness | None = None
) -> LineCounts:
    """Every line's in and out with independent noise added, clamped at 0.

    Only line counts get noise; zone statistics are protected by k (see PRIVACY.md).
    """
    source = rng if rng is not None else system_randomness()
    return {
        name: (
            max(0, n_in + two_sided_geometric(epsilon, source)),
            max(0, n_out + two_sided_geometric(epsilon, source)),
        )
        for name, (n_in, n_out) in lines.items()
    }


class NoisyTotals:
    """Cumulative line totals built from noisy buckets only, for `state` when noise is on.

    Feed every published (noisy) bucket's lines to `add`; `totals` gives their sums, so
    the buckets of a run add up to its published totals and exact totals never leave.
    """

    def __init__(self) -> None:
        self._sums: dict[str, tuple[int, int]] = {}

    def add(self, lines: Mapping[str, tuple[int, int]]) -> None:
        for name, (n_in, n_out) in lines.items():
            old_in, old_out = self._sums.get(name, (0, 0))
            self._sums[name] = (old_in + n_in, old_out + n_out)

    def reset(self, lines: Iterable[str] | None = None) -> None:
        """Zero the named lines (all when None), as a reset command does to the counters."""
        names = list(self._sums) if lines is None else list(lines)
        for name in names:
            self._sums.pop(name, None)

    def totals(self, names: Iterable[str]) -> LineCounts:
        """The noisy sums of these lines (0 for a line with no bucket yet)."""
        return {name: self._sums.get(name, (0, 0)) for name in names}


def alpha(epsilon: float, sensitivity: int = 1) -> float:
    """a = exp(-epsilon / sensitivity), the mechanism's decay per unit of |z|."""
    return math.exp(-float(exact_epsilon(epsilon)) / sensitivity)


def pmf(z: int, epsilon: float, sensitivity: int = 1) -> float:
    """P(Z = z) of the two-sided geometric distribution."""
    a = alpha(epsilon, sensitivity)
    return (1 - a) / (1 + a) * a ** abs(z)


def noise_variance(epsilon: float, sensitivity: int = 1) -> float:
    """Var Z = 2a / (1 - a)^2 (before clamping)."""
    a = alpha(epsilon, sensitivity)
    return 2 * a / (1 - a) ** 2


def expected_abs_error(epsilon: float, sensitivity: int = 1) -> float:
    """E|Z| = 2a / (1 - a^2): the mean absolute error noise adds to one count."""
    a = alpha(epsilon, sensitivity)
    return 2 * a / (1 - a * a)


def buckets_per_day(bucket_seconds: int) -> int:
    """How many buckets close in a day (a partial bucket counts as one)."""
    if bucket_seconds < 1:
        raise ValueError(f"bucket_seconds must be >= 1, got {bucket_seconds}")
    return math.ceil(SECONDS_PER_DAY / bucket_seconds)


def daily_budget(epsilon: float, bucket_seconds: int) -> float:
    """epsilon x buckets per day: the loss for someone who crosses once in every bucket.

    One crossing costs epsilon; a visitor who comes in and goes out once costs 2 epsilon.
    """
    return float(exact_epsilon(epsilon)) * buckets_per_day(bucket_seconds)
