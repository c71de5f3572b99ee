"""Statistics for trials: Wilson intervals, the pass^k estimator, paired tests.

(Predicted success and the coordination gap are the card's: :mod:`baton.reports.reliability`.)

The interval and the tests come from statsmodels and SciPy; this module only fixes the
conventions Baton reports with (edge cases, direction of a difference, argument checks).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from scipy.stats import norm, wilcoxon
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

Direction = Literal["better", "worse", "same"]


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for ``successes`` out of ``n``; ``(0.0, 1.0)`` when ``n`` is 0."""
    _check_confidence(confidence)
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return (0.0, 1.0)
    low, high = proportion_confint(successes, n, alpha=1.0 - confidence, method="wilson")
    return (max(0.0, float(low)), min(1.0, float(high)))


@dataclass(frozen=True, slots=True)
class Proportion:
    """A success rate with its Wilson interval. ``rate`` is None when ``n`` is 0."""

    successes: int
    n: int
    rate: float | None
    low: float
    high: float


def proportion(successes: int, n: int, confidence: float = 0.95) -> Proportion:
    """``successes / n`` with its Wilson interval."""
    low, high = wilson_interval(successes, n, confidence)
    return Proportion(successes, n, successes / n if n else None, low, high)


def trials_for_half_width(rate: float, half_width: float, confidence: float = 0.95) -> int:
    """Trials needed for a normal-approximation interval of ``rate`` to be ``±half_width`` wide."""
    _check_confidence(confidence)
    if not 0.0 <= rate <= 1.0 or half_width <= 0.0:
        raise ValueError(f"need 0 <= rate <= 1 and half_width > 0, got {rate}, {half_width}")
    z = float(norm.ppf(0.5 + confidence / 2.0))
    return max(1, math.ceil(z * z * rate * (1.0 - rate) / (half_width * half_width)))


def pass_hat_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate of pass^k (all of k trials succeed) from ``c`` successes in ``n`` trials.

    ``C(c, k) / C(n, k)``, the estimator tau-bench introduced. Needs ``1 <= k <= n``.
    """
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got c={c}, n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"pass^k needs 1 <= k <= n trials, got k={k}, n={n}")
    return math.comb(c, k) / math.comb(n, k)


def mean_pass_hat_k(per_task: Iterable[tuple[int, int]], k: int) -> float:
    """Mean of :func:`pass_hat_k` over tasks given as ``(n, c)`` pairs.

    Tasks with fewer than ``k`` counted trials (e.g. after infrastructure errors) are left out;
    a ``ValueError`` says so when no task has ``k`` trials.
    """
    values = [pass_hat_k(n, c, k) for n, c in per_task if n >= k]
    if not values:
        raise ValueError(f"no task has at least k={k} counted trials")
    return sum(values) / len(values)


@dataclass(frozen=True, slots=True)
class PairedComparison:
    """Result of comparing a candidate run with a baseline run on the same tasks.

    ``direction`` is the candidate's: "better", "worse" or "same" (no per-task difference in
    either direction). ``p_value`` is two-sided.
    """

    method: str
    n: int
    p_value: float
    direction: Direction
    candidate_better: int
    baseline_better: int
    mean_difference: float

    def significant(self, alpha: float = 0.05) -> bool:
        return self.p_value < alpha


def _direction(candidate_better: int | float, baseline_better: int | float) -> Direction:
    if candidate_better > baseline_better:
        return "better"
    if candidate_better < baseline_better:
        return "worse"
    return "same"


def _paired(baseline: Sequence[float], candidate: Sequence[float]) -> list[tuple[float, float]]:
    if len(baseline) != len(candidate):
        raise ValueError(f"paired samples differ in length: {len(baseline)} vs {len(candidate)}")
    return [(float(a), float(b)) for a, b in zip(baseline, candidate, strict=True)]


def mcnemar_test(baseline: Sequence[bool], candidate: Sequence[bool]) -> PairedComparison:
    """Exact McNemar test on per-task binary outcomes (passed or not) of two runs."""
    pairs = _paired(baseline, candidate)
    for a, b in pairs:
        if a not in (0.0, 1.0) or b not in (0.0, 1.0):
            raise ValueError("McNemar's test needs binary per-task outcomes")
    both = sum(1 for a, b in pairs if a and b)
    only_base = sum(1 for a, b in pairs if a and not b)
    only_cand = sum(1 for a, b in pairs if b and not a)
    neither = len(pairs) - both - only_base - only_cand
    if only_base + only_cand == 0:
        p_value = 1.0
    else:
        p_value = float(mcnemar([[both, only_base], [only_cand, neither]], exact=True).pvalue)
    mean_diff = (only_cand - only_base) / len(pairs) if pairs else 0.0
    return PairedComparison("mcnemar_exact", len(pairs), min(1.0, p_value),
                            _direction(only_cand, only_base), only_cand, only_base, mean_diff)


def wilcoxon_test(baseline: Sequence[float], candidate: Sequence[float]) -> PairedComparison:
    """Wilcoxon signed-rank test on per-task success rates of two runs (ties dropped).

    With no non-zero difference the runs are the same (p = 1).
    """
    pairs = _paired(baseline, candidate)
    diffs = [b - a for a, b in pairs]
    nonzero = [d for d in diffs if d != 0.0]
    cand_better = sum(1 for d in nonzero if d > 0)
    base_better = len(nonzero) - cand_better
    mean_diff = sum(diffs) / len(diffs) if diffs else 0.0
    if not nonzero:
        p_value = 1.0
    else:
        p_value = float(wilcoxon(nonzero, zero_method="wilcox", alternative="two-sided").pvalue)
    rank_direction = _direction(sum(d for d in nonzero if d > 0), -sum(d for d in nonzero if d < 0))
    return PairedComparison("wilcoxon_signed_rank", len(pairs), min(1.0, p_value), rank_direction,
                            cand_better, base_better, mean_diff)


def paired_test(baseline: Sequence[float], candidate: Sequence[float]) -> PairedComparison:
    """McNemar when every per-task outcome is 0/1 (one trial per task), else Wilcoxon on rates."""
    values = [*baseline, *candidate]
    if all(float(v) in (0.0, 1.0) for v in values):
        return mcnemar_test([bool(v) for v in baseline], [bool(v) for v in candidate])
    return wilcoxon_test(baseline, candidate)
