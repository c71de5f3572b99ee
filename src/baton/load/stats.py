"""Per-step statistics of a load test: percentiles (numpy, exact over every sample) and saturation.

Why numpy and not an HDR histogram: a load step holds at most tens of thousands of samples, so
exact percentiles over the raw samples cost milliseconds, need no bucket precision setting, and
numpy is already installed with pandas; an HDR histogram pays off for millions of samples or
streaming aggregation across processes, neither of which a step needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["HopStats", "Percentiles", "StepStats", "keep_up_ratio", "percentiles", "saturation"]


@dataclass(frozen=True)
class Percentiles:
    """p50/p95/p99 and the sample count, in seconds."""

    n: int
    p50: float | None
    p95: float | None
    p99: float | None

    def as_json(self) -> dict[str, Any]:
        return {"n": self.n, "p50_s": self.p50, "p95_s": self.p95, "p99_s": self.p99}


def percentiles(values: Sequence[float]) -> Percentiles:
    if not len(values):
        return Percentiles(0, None, None, None)
    p50, p95, p99 = (float(v) for v in np.percentile(np.asarray(values, dtype=float), [50, 95, 99]))
    return Percentiles(len(values), p50, p95, p99)


@dataclass(frozen=True)
class HopStats:
    """One hop's latency percentiles and mean CPU per hop instance, at one offered rate."""

    name: str
    latency: Percentiles
    cpu_ms_per_call: float | None
    errors: int

    def as_json(self) -> dict[str, Any]:
        return {"hop": self.name, **self.latency.as_json(), "cpu_ms_per_call": self.cpu_ms_per_call,
                "errors": self.errors}


@dataclass(frozen=True)
class StepStats:
    """What one offered rate produced."""

    offered_rate: float
    duration_s: float
    arrivals: int
    completed: int
    errors: int
    shed: int
    timed_out: int
    elapsed_s: float
    throughput: float
    end_to_end: Percentiles
    hops: list[HopStats]
    cpu_ms_per_run: float | None
    cpu_ms_between_hops: float | None
    loop_cpu_utilisation: float
    vendor_cpu_utilisation: float | None = None
    error_kinds: dict[str, int] = field(default_factory=dict)
    saturated: bool = False
    reason: str = ""

    @property
    def error_rate(self) -> float:
        return self.errors / self.arrivals if self.arrivals else 0.0

    def as_json(self) -> dict[str, Any]:
        return {"offered_rate": self.offered_rate, "duration_s": self.duration_s, "arrivals": self.arrivals,
                "completed": self.completed, "errors": self.errors, "shed": self.shed,
                "timed_out": self.timed_out, "elapsed_s": self.elapsed_s, "throughput": self.throughput,
                "end_to_end": self.end_to_end.as_json(), "hops": [h.as_json() for h in self.hops],
                "cpu_ms_per_run": self.cpu_ms_per_run, "cpu_ms_between_hops": self.cpu_ms_between_hops,
                "loop_cpu_utilisation": self.loop_cpu_utilisation,
                "vendor_cpu_utilisation": self.vendor_cpu_utilisation, "error_kinds": self.error_kinds,
                "saturated": self.saturated, "reason": self.reason}


def keep_up_ratio(step: StepStats, service_s: float) -> float:
    """Completions over arrivals, scaled by how much longer than ``step_s + service_s`` the step
    took to finish: about 1 for a system that keeps up (its last arrival finishes one service
    time after the window), below 1 when a backlog built up or runs failed."""
    if not step.arrivals:
        return 1.0
    expected = step.duration_s + service_s
    return step.completed / step.arrivals * expected / max(step.elapsed_s, expected)


def saturation(step: StepStats, baseline: Percentiles | None, *, min_ratio: float = 0.9,
               max_error_rate: float = 0.05, p95_factor: float = 3.0) -> tuple[bool, str]:
    """Whether a step is past saturation, and why: completions fell behind arrivals
    (:func:`keep_up_ratio` below ``min_ratio``, with the lowest rate's p99 as the service time),
    errors above ``max_error_rate``, or end-to-end p95 above ``p95_factor`` times the lowest rate's."""
    reasons = []
    if step.error_rate > max_error_rate:
        reasons.append(f"error rate {step.error_rate:.1%} > {max_error_rate:.0%}")
    ratio = keep_up_ratio(step, (baseline.p99 or 0.0) if baseline else 0.0)
    if ratio < min_ratio:
        reasons.append(f"completions fell behind arrivals (keep-up ratio {ratio:.2f} < {min_ratio:g})")
    p95 = step.end_to_end.p95
    base_p95 = baseline.p95 if baseline else None
    if base_p95 and p95 is not None and p95 > p95_factor * base_p95:
        reasons.append(f"p95 {p95 * 1000:.0f} ms > {p95_factor:g}x the lowest rate's {base_p95 * 1000:.0f} ms")
    return bool(reasons), "; ".join(reasons)
