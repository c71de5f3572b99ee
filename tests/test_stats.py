"""Worked examples for baton.stats."""

from __future__ import annotations

import math

import pytest

from baton.stats import (mcnemar_test, mean_pass_hat_k, paired_test, pass_hat_k,
                         proportion, trials_for_half_width, wilcoxon_test,
                         wilson_interval)


@pytest.mark.parametrize(("successes", "n", "expected"), [
    (8, 10, (0.4902, 0.9433)),
    (0, 10, (0.0, 0.2775)),
    (10, 10, (0.7225, 1.0)),
    (50, 100, (0.4038, 0.5962)),
])
def test_wilson_known_bounds(successes: int, n: int, expected: tuple[float, float]) -> None:
    low, high = wilson_interval(successes, n)
    assert low == pytest.approx(expected[0], abs=5e-4)
    assert high == pytest.approx(expected[1], abs=5e-4)


def test_wilson_formula_by_hand_and_confidence() -> None:
    # Closed form for 8/10 at 90%: z = 1.6449.
    z, p, n = 1.6448536269514722, 0.8, 10
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low, high = wilson_interval(8, 10, confidence=0.90)
    assert (low, high) == pytest.approx((centre - half, centre + half), abs=1e-9)


def test_wilson_edge_cases_and_errors() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    for bad in [(11, 10), (-1, 10), (1, -1)]:
        with pytest.raises(ValueError):
            wilson_interval(*bad)
    with pytest.raises(ValueError):
        wilson_interval(1, 2, confidence=1.0)


def test_proportion_carries_rate_and_interval() -> None:
    prop = proportion(8, 10)
    assert prop.rate == 0.8 and prop.low == pytest.approx(0.4902, abs=5e-4)
    assert proportion(0, 0).rate is None


def test_trials_for_half_width_matches_simulation_budget() -> None:
    # 0.97^6 at ±0.03 with 95%: 1.96^2 * 0.833 * 0.167 / 0.03^2 ~= 594 trials.
    n = trials_for_half_width(0.97 ** 6, 0.03)
    assert 590 <= n <= 600
    low, high = wilson_interval(round(n * 0.97 ** 6), n)
    assert high - low < 0.061


@pytest.mark.parametrize(("n", "c", "k", "expected"), [
    (4, 4, 4, 1.0),
    (4, 3, 1, 0.75),        # pass^1 is the success rate
    (4, 3, 2, 0.5),         # C(3,2)/C(4,2) = 3/6
    (5, 3, 3, 0.1),         # 1/10
    (5, 2, 3, 0.0),         # fewer successes than k
    (8, 6, 4, 15 / 70),     # C(6,4)/C(8,4)
])
def test_pass_hat_k_examples(n: int, c: int, k: int, expected: float) -> None:
    assert pass_hat_k(n, c, k) == pytest.approx(expected)


def test_pass_hat_k_is_unbiased_for_iid_trials() -> None:
    # E[C(c,k)/C(n,k)] over c ~ Binomial(n, p) equals p^k.
    n, k, p = 6, 3, 0.7
    expectation = sum(math.comb(n, c) * p ** c * (1 - p) ** (n - c) * pass_hat_k(n, c, k)
                      for c in range(n + 1))
    assert expectation == pytest.approx(p ** k)


def test_pass_hat_k_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        pass_hat_k(3, 3, 4)
    with pytest.raises(ValueError):
        pass_hat_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_hat_k(3, 1, 0)


def test_mean_pass_hat_k_skips_short_tasks() -> None:
    assert mean_pass_hat_k([(4, 4), (4, 3), (1, 1)], 2) == pytest.approx((1.0 + 0.5) / 2)
    with pytest.raises(ValueError):
        mean_pass_hat_k([(1, 1)], 2)


def test_mcnemar_exact_worked_example() -> None:
    # 5 tasks only the candidate passes, 1 only the baseline: p = 2 * P(X <= 1 | n=6) = 0.21875.
    baseline = [True] * 3 + [True] * 1 + [False] * 5 + [False] * 2
    candidate = [True] * 3 + [False] * 1 + [True] * 5 + [False] * 2
    result = mcnemar_test(baseline, candidate)
    assert result.p_value == pytest.approx(0.21875)
    assert result.direction == "better" and result.candidate_better == 5 and result.baseline_better == 1
    assert not result.significant()


def test_mcnemar_regression_is_significant_and_identical_runs_are_same() -> None:
    baseline = [True] * 12
    candidate = [False] * 12
    result = mcnemar_test(baseline, candidate)
    assert result.direction == "worse" and result.p_value == pytest.approx(2 * 0.5 ** 12)
    same = mcnemar_test([True, False], [True, False])
    assert same.p_value == 1.0 and same.direction == "same"
    with pytest.raises(ValueError):
        mcnemar_test([True], [True, False])


def test_wilcoxon_on_rates() -> None:
    baseline = [0.9, 0.8, 1.0, 0.7, 0.9, 0.6, 0.8, 1.0]
    candidate = [0.5, 0.4, 0.7, 0.3, 0.6, 0.2, 0.5, 0.9]
    result = wilcoxon_test(baseline, candidate)
    assert result.direction == "worse"
    assert result.p_value == pytest.approx(2 / 2 ** 8)   # exact: all 8 differences negative
    assert result.mean_difference == pytest.approx(-2.6 / 8)
    assert wilcoxon_test([0.5, 0.5], [0.5, 0.5]).p_value == 1.0


def test_paired_test_dispatches_on_binary_outcomes() -> None:
    assert paired_test([1, 0, 1], [1, 1, 1]).method == "mcnemar_exact"
    assert paired_test([0.5, 0.0], [1.0, 0.5]).method == "wilcoxon_signed_rank"
