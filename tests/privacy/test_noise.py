"""The two-sided geometric mechanism: exact, integer, with the documented distribution.

Statistical checks use a seeded generator so they are reproducible; production uses
the OS's cryptographic source.
"""

from __future__ import annotations

import math
import random
import secrets
from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.privacy.noise import (
    NoisyTotals,
    add_noise,
    bernoulli_exp,
    buckets_per_day,
    daily_budget,
    exact_epsilon,
    expected_abs_error,
    noise_variance,
    pmf,
    system_randomness,
    two_sided_geometric,
)

CHI2_CRITICAL_DF18_P001 = 42.312  # chi-square critical value, 18 degrees of freedom, p = 0.001

names = st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True)
counts = st.integers(min_value=0, max_value=10_000)
epsilons = st.sampled_from([0.01, 0.1, 0.3, 0.5, 1.0, 1.5, 2.0, 10.0])


@pytest.mark.parametrize(("epsilon", "seed"), [(0.3, 11), (0.5, 12), (1.5, 13)])
def test_noise_has_the_documented_distribution(epsilon: float, seed: int) -> None:
    rng = random.Random(seed)
    n = 20_000
    samples = [two_sided_geometric(epsilon, rng) for _ in range(n)]
    assert all(type(z) is int for z in samples)
    mean = sum(samples) / n
    var = sum((z - mean) ** 2 for z in samples) / (n - 1)
    m4 = sum((z - mean) ** 4 for z in samples) / n
    expected_var = noise_variance(epsilon)
    assert abs(mean) < 4 * math.sqrt(expected_var / n)
    assert abs(var - expected_var) < 4 * math.sqrt((m4 - var * var) / n)
    # Goodness of fit over -8..8 and both tails.
    histogram = Counter(samples)
    chi2 = 0.0
    for z in range(-8, 9):
        expect = n * pmf(z, epsilon)
        chi2 += (histogram[z] - expect) ** 2 / expect
    tail = sum(pmf(z, epsilon) for z in range(9, 2000))
    for side in (1, -1):
        seen = sum(c for z, c in histogram.items() if side * z > 8)
        chi2 += (seen - n * tail) ** 2 / (n * tail)
    assert chi2 < CHI2_CRITICAL_DF18_P001


def test_a_wrong_epsilon_is_detected() -> None:
    """The distribution check has teeth: noise drawn at 0.3 does not pass for 0.5."""
    rng = random.Random(11)
    n = 20_000
    samples = [two_sided_geometric(0.3, rng) for _ in range(n)]
    var = sum(z * z for z in samples) / n
    m4 = sum(z**4 for z in samples) / n
    assert abs(var - noise_variance(0.5)) > 4 * math.sqrt((m4 - var * var) / n)


@pytest.mark.parametrize("gamma", [Fraction(0), Fraction(3, 10), Fraction(1), Fraction(27, 10)])
def test_bernoulli_exp_is_exp_minus_gamma(gamma: Fraction) -> None:
    rng = random.Random(5)
    n = 40_000
    p = math.exp(-gamma)
    hits = sum(bernoulli_exp(gamma, rng) for _ in range(n))
    assert abs(hits / n - p) <= 4 * math.sqrt(p * (1 - p) / n) + 1e-12


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(names, st.tuples(counts, counts), max_size=5),
    epsilons,
    st.integers(min_value=0, max_value=2**32),
)
def test_noisy_lines_are_integers_clamped_at_zero(
    lines: dict[str, tuple[int, int]], epsilon: float, seed: int
) -> None:
    out = add_noise(lines, epsilon, random.Random(seed))
    assert set(out) == set(lines)
    for n_in, n_out in out.values():
        assert type(n_in) is int and n_in >= 0
        assert type(n_out) is int and n_out >= 0


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(counts, counts), min_size=1, max_size=8),
    epsilons,
    st.integers(min_value=0, max_value=2**32),
)
def test_state_totals_are_the_sums_of_noisy_buckets(
    per_bucket: list[tuple[int, int]], epsilon: float, seed: int
) -> None:
    rng = random.Random(seed)
    totals = NoisyTotals()
    published = [add_noise({"entrance": c}, epsilon, rng) for c in per_bucket]
    for lines in published:
        totals.add(lines)
    noisy = totals.totals(["entrance", "side"])
    assert noisy["entrance"] == (
        sum(b["entrance"][0] for b in published),
        sum(b["entrance"][1] for b in published),
    )
    assert noisy["side"] == (0, 0)
    totals.reset(["entrance"])
    assert totals.totals(["entrance"]) == {"entrance": (0, 0)}


def test_production_source_is_the_os_csprng() -> None:
    assert isinstance(system_randomness(), secrets.SystemRandom)
    assert isinstance(add_noise({"a": (5, 5)}, 1.0)["a"][0], int)


def test_budget_and_error_figures() -> None:
    assert exact_epsilon(0.3) == Fraction(3, 10)
    assert buckets_per_day(60) == 1440
    assert buckets_per_day(7) == 12343
    assert daily_budget(0.1, 3600) == pytest.approx(2.4)
    a = math.exp(-1.0)
    assert noise_variance(1.0) == pytest.approx(2 * a / (1 - a) ** 2)
    assert expected_abs_error(1.0) == pytest.approx(
        sum(abs(z) * pmf(z, 1.0) for z in range(-200, 201))
    )
    assert sum(pmf(z, 0.5) for z in range(-400, 401)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="epsilon"):
        exact_epsilon(0.0)
