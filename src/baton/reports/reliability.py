"""The card's core measure, per configuration: hop reliability alone and in the system, the
predicted versus the measured system success, the coordination gap and where it comes from.

Definitions (also printed in every report and in card.json, see :data:`RELIABILITY_DEFINITIONS`):

* **Hop reliability** (:mod:`baton.graders.reliability`): the share of runs where the hop did its
  job, over the runs where it is applicable; runs where it is not applicable are counted apart.
  *In-system*: the configuration's counted system runs. *Isolated*: its counted
  ``isolated:<hop>`` runs, where the hop was fed the gold of everything upstream.
* **Predicted** system success: the product, over the hops applicable on at least one run, of
  their isolated reliability (in-system where the hop has no isolated runs; ``basis`` says which):
  what independent hop failures would give.
* **Coordination gap** = predicted − measured. Positive: the system does worse than its parts
  predict. Its 95% interval is a percentile bootstrap over tasks (:data:`BOOTSTRAP_SAMPLES`
  resamples, seed :data:`BOOTSTRAP_SEED`; a hop absent from a resample drops out of its product).
* **Decomposition**: per hop, isolated − in-system (what upstream errors cost it). The waterfall
  goes from predicted to measured: one step per hop (the product with that hop's isolated
  reliability replaced by its in-system one), then what the verify hop recovered (counted runs
  where the verifier rejected a failing state and the run passed, as a share of counted runs),
  then the rest (hops failing together rather than independently), ending at measured.
* **Fix this first**: for each hop, the success to expect were it always right, estimated from
  the measured runs: runs where it is not applicable keep their outcome, runs where it is
  applicable succeed at the rate of the runs where it was right. Gain = that − measured. It
  assumes a hop's failures fall on tasks as hard as its successes, so read it as a ranking.
  Where the vendor is simulated, ``baton whatif fix-first`` adds the simulator's answer beside
  it (:mod:`baton.sim.fixfirst`): the configuration rerun in process with that hop's mistake
  rates at zero, against the same reruns at the profile's rates; labelled simulated.
* **Model-selection branches**: per model-selection hop and chosen branch, its share of counted
  runs, the mean cost of those runs and their success rate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from baton.reports.flatten import CHOICE_PREFIX, HOP_PREFIX
from baton.result import RELIABILITY_HOPS
from baton.sim.fixfirst import SimulatedFixFirst, read_simulated

BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 20260101
SYSTEM_MODE = "system"

RELIABILITY_DEFINITIONS: dict[str, str] = {
    "hop_reliability": (
        "Hop reliability: share of runs where the hop did its job, judged from gold, over the runs where "
        "it is applicable (runs where it is not are counted apart, never as a success). route: the "
        "intent-routing hop chose gold's label; retrieve: every gold evidence document was retrieved by the "
        "retrieval step (and every gold record on a task without tools; with tools, record lookups are "
        "part of acting); act: every gold tool call made (in order where gold requires), no extra "
        "side-effecting call, no forbidden action; draft: the reply passes every fact check of system "
        "success (each gold fact stated and right, no forbidden claim); verify: the verdict was right "
        "(approve a passing state, reject a failing one)."),
    "isolated": "Isolated: the hop run alone, fed the gold of everything upstream (route label, evidence, "
                "and for draft and verify the gold tool results): the number a vendor would quote.",
    "in_system": "In-system: the same hop inside the configuration's real system runs.",
    "predicted": "Predicted system success: product over the applicable hops of their isolated "
                 "reliability (in-system where a hop has no isolated runs; 'basis' says which): what "
                 "independent hop failures would give.",
    "gap": "Coordination gap = predicted - measured system success, in points, with a 95% bootstrap "
           "interval over tasks. Positive: the system does worse than its parts predict; negative: better.",
    "decomposition": "Decomposition: per hop, isolated - in-system reliability (what upstream errors cost "
                     "it); the waterfall steps from predicted to measured: each hop's upstream cost in "
                     "the product, what the verify hop recovered, and the rest (hops failing together).",
    "recovered": "Verify recovered: share of counted runs where the verifier rejected a failing state and "
                 "the run passed in the end.",
    "fix_first": "Fix this first: success expected if the hop were always right (runs where it is not "
                 "applicable keep their outcome; the others succeed at the rate of runs where it was "
                 "right) minus measured success. An estimate from measured runs: a ranking, not a promise. The "
                 "card's headline names a hop only when its expected gain is above zero.",
    "fix_first_simulated": "Fix this first, simulated (only where the vendor is Baton's simulated one and "
                           "`baton whatif fix-first` was run): the configuration rerun in process with the "
                           "hop's mistake rates set to zero, minus the same reruns at the profile's rates. "
                           "retrieve has no simulated model, so no simulated estimate.",
    "branches": "Model-selection hops are never graded against the intent label: per chosen branch, share "
                "of counted runs, mean cost per run and success rate.",
    "errors": "A configuration with fewer counted runs than half its runs (the rest infrastructure "
              "errors) is marked 'mostly errors' next to its success rate.",
}


@dataclass(frozen=True, slots=True)
class HopRow:
    """One hop of a configuration: reliability alone and in the system."""

    hop: str
    isolated: float | None
    isolated_n: int
    isolated_not_applicable: int
    in_system: float | None
    in_system_n: int
    in_system_not_applicable: int

    @property
    def upstream_cost(self) -> float | None:
        """Isolated − in-system: what upstream errors cost this hop."""
        if self.isolated is None or self.in_system is None:
            return None
        return self.isolated - self.in_system

    @property
    def used(self) -> float | None:
        """The value the prediction uses: isolated where measured, else in-system."""
        return self.isolated if self.isolated is not None else self.in_system


@dataclass(frozen=True, slots=True)
class Step:
    """One bar of the waterfall: ``kind`` 'total' (predicted, measured) or 'change'."""

    label: str
    value: float
    kind: str


@dataclass(frozen=True, slots=True)
class FixGain:
    hop: str
    success_if_right: float
    gain: float
    wrong_runs: int


@dataclass(frozen=True, slots=True)
class Branch:
    hop: str
    choice: str
    runs: int
    share: float
    cost_per_run: float
    successes: int
    rate: float


@dataclass(frozen=True, slots=True)
class Reliability:
    """The core measure of one configuration."""

    hops: list[HopRow]
    predicted: float | None
    basis: str
    measured: float | None
    gap: float | None
    gap_low: float | None
    gap_high: float | None
    recovered: float | None
    waterfall: list[Step] = field(default_factory=list)
    fix_first: list[FixGain] = field(default_factory=list)
    branches: list[Branch] = field(default_factory=list)
    simulated_fix_first: SimulatedFixFirst | None = None  # baton whatif fix-first, where run

    @property
    def top_fix(self) -> FixGain | None:
        """The hop to fix first: the best gain, only if fixing it is expected to help at all (a
        hop that was right only on runs that failed anyway is ranked, not recommended)."""
        if self.fix_first and self.fix_first[0].gain > 1e-12:
            return self.fix_first[0]
        return None

    def as_json(self) -> dict[str, Any]:
        return {
            "hops": [{"hop": h.hop, "isolated": h.isolated, "isolated_runs": h.isolated_n,
                      "isolated_not_applicable": h.isolated_not_applicable, "in_system": h.in_system,
                      "in_system_runs": h.in_system_n, "in_system_not_applicable": h.in_system_not_applicable,
                      "isolated_minus_in_system": h.upstream_cost} for h in self.hops],
            "predicted": self.predicted, "predicted_basis": self.basis, "measured": self.measured,
            "coordination_gap": self.gap, "coordination_gap_ci": [self.gap_low, self.gap_high],
            "verify_recovered": self.recovered,
            "waterfall": [{"step": s.label, "value": s.value, "kind": s.kind} for s in self.waterfall],
            "fix_first": [{"hop": f.hop, "success_if_right": f.success_if_right, "gain": f.gain,
                           "runs_where_wrong": f.wrong_runs} for f in self.fix_first],
            "fix_first_simulated": (self.simulated_fix_first.as_dict()
                                    if self.simulated_fix_first is not None else None),
            "branches": [{"hop": b.hop, "choice": b.choice, "runs": b.runs, "share": b.share,
                          "cost_per_run_usd": b.cost_per_run, "successes": b.successes, "success_rate": b.rate}
                         for b in self.branches],
        }


def _ok(frame: pd.DataFrame, hop: str) -> pd.Series:
    column = f"{HOP_PREFIX}{hop}"
    if column not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype=float)
    return frame[column].astype(float)


def _rate(values: pd.Series) -> tuple[float | None, int, int]:
    """(mean of applicable values, applicable runs, not-applicable runs)."""
    applicable = values.dropna()
    return (float(applicable.mean()) if len(applicable) else None, len(applicable),
            int(values.isna().sum()))


def hops_in(*frames: pd.DataFrame) -> list[str]:
    """The built-in hops in pipeline order, then the other hops with verdicts in ``frames`` (those
    a user's component grader declares), by name."""
    seen = {c[len(HOP_PREFIX):] for frame in frames for c in frame.columns if c.startswith(HOP_PREFIX)}
    return [*RELIABILITY_HOPS, *sorted(seen - set(RELIABILITY_HOPS))]


def hop_rows(counted: pd.DataFrame, isolated: pd.DataFrame) -> list[HopRow]:
    """Per hop, in-system from ``counted`` system runs, isolated from ``isolated:<hop>`` runs."""
    rows = []
    for hop in hops_in(counted, isolated):
        in_rate, in_n, in_na = _rate(_ok(counted, hop))
        mine = isolated[isolated["mode"] == f"isolated:{hop}"] if not isolated.empty else isolated
        iso_rate, iso_n, iso_na = _rate(_ok(mine, hop))
        if in_n or iso_n:
            rows.append(HopRow(hop, iso_rate, iso_n, iso_na, in_rate, in_n, in_na))
    return rows


def _basis(rows: list[HopRow]) -> str:
    isolated = sum(1 for r in rows if r.isolated is not None)
    if not rows:
        return "none"
    return "isolated" if isolated == len(rows) else ("in-system" if isolated == 0 else "mixed")


def _bootstrap_gap(rows: list[HopRow], counted: pd.DataFrame, isolated: pd.DataFrame
                   ) -> tuple[float | None, float | None]:
    """95% percentile interval of predicted − measured, resampling tasks (see the module docstring)."""
    tasks = sorted(set(counted["task_id"]) | (set(isolated["task_id"]) if not isolated.empty else set()))
    if not tasks or counted.empty or not rows:
        return None, None
    index = {t: i for i, t in enumerate(tasks)}
    size = len(tasks)
    ok = np.zeros((size, len(rows)))
    applicable = np.zeros((size, len(rows)))
    for j, row in enumerate(rows):
        source = (isolated[isolated["mode"] == f"isolated:{row.hop}"] if row.isolated is not None else counted)
        values = _ok(source, row.hop)
        for task_id, value in zip(source["task_id"], values, strict=True):
            if value is not None and not (isinstance(value, float) and math.isnan(value)):
                applicable[index[task_id], j] += 1
                ok[index[task_id], j] += float(value)
    successes = np.zeros(size)
    runs = np.zeros(size)
    for task_id, success in zip(counted["task_id"], counted["success"], strict=True):
        runs[index[task_id]] += 1
        successes[index[task_id]] += float(bool(success))
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    weights = rng.multinomial(size, np.full(size, 1.0 / size), size=BOOTSTRAP_SAMPLES).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = (weights @ ok) / (weights @ applicable)
        measured = (weights @ successes) / (weights @ runs)
    rates = np.where(np.isnan(rates), 1.0, rates)
    gaps = rates.prod(axis=1) - measured
    gaps = gaps[~np.isnan(gaps)]
    if not len(gaps):
        return None, None
    low, high = np.percentile(gaps, [2.5, 97.5])
    return float(low), float(high)


def _recovered(counted: pd.DataFrame) -> float | None:
    flagged, failing = "metric.verifier.flagged", "metric.verifier.pre_failing"
    if counted.empty or flagged not in counted.columns or failing not in counted.columns:
        return None
    if _ok(counted, "verify").dropna().empty:
        return None
    saved = (counted[flagged] == 1.0) & (counted[failing] == 1.0) & counted["success"].astype(bool)
    return float(saved.sum()) / len(counted)


def _waterfall(rows: list[HopRow], predicted: float | None, measured: float | None,
               recovered: float | None) -> list[Step]:
    if predicted is None or measured is None:
        return []
    steps = [Step("predicted", predicted, "total")]
    current = {r.hop: r.used for r in rows}
    level = predicted
    for row in rows:
        if row.isolated is None or row.in_system is None:
            continue
        current[row.hop] = row.in_system
        after = math.prod(v for v in current.values() if v is not None)
        steps.append(Step(f"{row.hop}: upstream errors", after - level, "change"))
        level = after
    if recovered:
        steps.append(Step("verify recovered", recovered, "change"))
        level += recovered
    steps.append(Step("hops failing together (rest)", measured - level, "change"))
    steps.append(Step("measured", measured, "total"))
    return steps


def _fix_first(counted: pd.DataFrame, measured: float | None) -> list[FixGain]:
    if counted.empty or measured is None:
        return []
    gains = []
    success = counted["success"].astype(bool)
    order = hops_in(counted)
    for hop in order:
        values = _ok(counted, hop)
        applicable = values.notna()
        right = values == 1.0
        wrong = int((applicable & ~right).sum())
        if not wrong or not right.any():
            continue
        rate_right = float(success[right].mean())
        expected = (float(success[~applicable].sum()) + int(applicable.sum()) * rate_right) / len(counted)
        gains.append(FixGain(hop, expected, expected - measured, wrong))
    return sorted(gains, key=lambda g: (-g.gain, order.index(g.hop)))


def _branches(counted: pd.DataFrame) -> list[Branch]:
    result = []
    for column in sorted(c for c in counted.columns if c.startswith(CHOICE_PREFIX)):
        chosen = counted[counted[column].notna()]
        if chosen.empty:
            continue
        for choice, group in chosen.groupby(column, sort=True):
            successes = int(group["success"].astype(bool).sum())
            result.append(Branch(column[len(CHOICE_PREFIX):], str(choice), len(group), len(group) / len(counted),
                                 float(group["cost_usd"].mean()), successes, successes / len(group)))
    return result


def reliability(group: pd.DataFrame, measured: float | None) -> Reliability:
    """The core measure of one configuration's rows (all modes) and its measured success."""
    valid = group[~group["infra_error"]]
    counted = valid[valid["mode"] == SYSTEM_MODE]
    isolated = valid[valid["mode"] != SYSTEM_MODE]
    rows = hop_rows(counted, isolated)
    used = [r.used for r in rows if r.used is not None]
    predicted = math.prod(used) if used else None
    gap = predicted - measured if predicted is not None and measured is not None else None
    low, high = _bootstrap_gap(rows, counted, isolated) if gap is not None else (None, None)
    recovered = _recovered(counted)
    return Reliability(hops=rows, predicted=predicted, basis=_basis(rows), measured=measured, gap=gap,
                       gap_low=low, gap_high=high, recovered=recovered,
                       waterfall=_waterfall(rows, predicted, measured, recovered),
                       fix_first=_fix_first(counted, measured), branches=_branches(counted))


def with_simulated_fix_first(configs: Iterable[Any], run_dir: Path) -> list[Any]:
    """The card's configuration summaries, each with the run directory's stored simulated
    fix-first (if any, matched by label) beside its measured one."""
    stored = read_simulated(run_dir)
    return [replace(c, reliability=replace(c.reliability, simulated_fix_first=stored[c.label]))
            if c.label in stored else c for c in configs]
