"""The report card: per configuration (vendor x system), component scores next to system success.

Definitions (they are also printed in every report, see :data:`DEFINITIONS`):

* **Measured system success**: passed runs / counted runs, over the configuration's runs in
  ``system`` mode. Runs with an infrastructure error (``status == "error"``) are not counted;
  they are reported apart. The interval is Wilson's, 95%.
* **pass^k**: k is the number of trials per task. For each task with ``n >= k`` counted trials of
  which ``c`` passed, ``C(c, k) / C(n, k)`` (unbiased), averaged over tasks.
* **Hop reliability, predicted, coordination gap, decomposition, fix this first, branches**: see
  :mod:`baton.reports.reliability` (the card's core measure).
* **Component score** ``s_c`` of a component c (route, retrieval, tool, answer, verifier): a
  diagnostic beside hop reliability: the mean over counted runs of the grader's
  ``ComponentScore.score``, with its detailed metrics (precision, MRR, coverage, catch and
  false-alarm rates). *In-system* uses the system runs; *isolated* the ``isolated:<hop>`` runs.
* **Failure attribution**: among failed runs (not infrastructure errors), the share whose first
  divergent hop (the first hop that departed from gold) is each hop kind.
* **Cost per task**: total cost of the system runs / their number (infrastructure errors
  included: they are paid for); **per successful task**: total cost / passed runs; **per hop
  kind**: that kind's hops' cost over the same runs / their number, with what no hop carries
  shown as ``unattributed``, so the rows add up to the cost per task.
* **Latency**: p50/p95 over counted system runs, end to end and per hop kind.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from baton.manifest import Manifest
from baton.reports.flatten import METRIC_PREFIX, SCORE_PREFIX, SYSTEM_MODE, Flattened, flatten
from baton.reports.reliability import RELIABILITY_DEFINITIONS, Reliability, reliability
from baton.result import RunResult
from baton.stats import mean_pass_hat_k, proportion

COMPONENT_ORDER = ("route", "retrieval", "tool", "answer", "verifier")
HOP_ORDER = ("route", "retrieve", "generate", "tool", "verify")
UNATTRIBUTED = "unattributed"

DEFINITIONS: dict[str, str] = {
    "success": "Measured system success: passed / counted system-mode runs (infrastructure errors "
               "excluded and counted apart), with a 95% Wilson interval.",
    "pass_k": "pass^k: for each task with n >= k counted trials of which c passed, C(c,k)/C(n,k); "
              "averaged over tasks (k = trials per task).",
    **RELIABILITY_DEFINITIONS,
    "component": "Component score (diagnostic): mean over counted runs of the grader's score for that hop "
                 "(route, retrieval, tool, answer, verifier) with its detailed metrics (precision, MRR, "
                 "fact coverage, catch and false-alarm rates); in-system from system runs, isolated from "
                 "isolated:<hop> runs. Not a probability that the hop did its job: not used for predicted.",
    "attribution": "Failure attribution: share of failed runs (infrastructure errors excluded) whose "
                   "first divergent hop is each hop kind.",
    "cost": "Cost per task: total cost of system runs / runs; per successful task: total cost / "
            "passed runs; per hop kind: that kind's cost over the same runs / runs, and what no hop "
            "carries as 'unattributed' (the rows add up to the cost per task).",
    "latency": "Latency: p50/p95 of counted system runs, end to end and summed per hop kind per run.",
    "truncated": "Cut at the token limit: counted system runs where a model reply stopped at its "
                 "output-token limit (finish_reason 'length'; the profile's max_output_tokens or the "
                 "system's max_tokens). They are graded as written: a fact the reply never reached is "
                 "missing.",
}


@dataclass(frozen=True, slots=True)
class ComponentRow:
    """One component of a configuration, in-system and isolated."""

    component: str
    in_system: float | None
    in_system_n: int
    isolated: float | None
    isolated_n: int
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Share:
    """A count and its share of a whole (failure attribution)."""

    name: str
    count: int
    share: float


@dataclass(frozen=True, slots=True)
class Latency:
    name: str
    p50: float
    p95: float
    n: int


@dataclass(frozen=True, slots=True)
class HopCost:
    """What one hop kind costs per system run, and its share of the configuration's cost.

    ``unattributed`` is metered usage that no hop of the trace carries (a system behind the model
    gateway whose hops report no usage, for one): shown, so the rows add up to the cost per task."""

    name: str
    per_task: float
    share: float | None  # None when the configuration cost nothing


@dataclass(frozen=True, slots=True)
class ConfigCard:
    """The card of one configuration (one vendor x one system)."""

    label: str
    system: str
    vendor: str
    architecture: str
    simulated: bool
    runs: int
    counted: int
    successes: int
    infra_errors: int
    rate: float | None
    ci_low: float
    ci_high: float
    k: int
    pass_k: float | None
    components: list[ComponentRow]
    reliability: Reliability
    failures: int
    failure_hops: list[Share]
    failure_categories: list[Share]
    cost_total: float
    cost_per_task: float | None
    cost_per_success: float | None
    latency: Latency | None
    hop_latency: list[Latency]
    hop_cost: list[HopCost]
    isolated_runs: int
    unjudged_runs: int = 0  # counted runs with free-text assertions no LLM judge graded
    truncated_runs: int = 0  # counted runs with a model reply cut at its output-token limit

    @property
    def predicted(self) -> float | None:
        """Product of the hops' isolated reliability (see :mod:`baton.reports.reliability`)."""
        return self.reliability.predicted

    @property
    def gap(self) -> float | None:
        """Coordination gap = predicted − measured (positive: the system does worse)."""
        return self.reliability.gap

    @property
    def mostly_errors(self) -> bool:
        """Fewer counted runs than half the runs: the success rate rests on few runs."""
        return self.runs > 0 and self.counted * 2 < self.runs

    def as_row(self) -> dict[str, Any]:
        """A flat record for card.csv / card.json."""
        row: dict[str, Any] = {
            "configuration": self.label, "system": self.system, "vendor": self.vendor,
            "architecture": self.architecture, "simulated": self.simulated, "runs": self.runs,
            "counted_runs": self.counted, "successes": self.successes,
            "infra_errors": self.infra_errors, "success_rate": self.rate,
            "success_ci_low": self.ci_low, "success_ci_high": self.ci_high, "k": self.k,
            "pass_hat_k": self.pass_k, "mostly_errors": self.mostly_errors,
            "predicted_success": self.predicted, "predicted_basis": self.reliability.basis,
            "coordination_gap": self.gap, "coordination_gap_ci_low": self.reliability.gap_low,
            "coordination_gap_ci_high": self.reliability.gap_high,
            "verify_recovered": self.reliability.recovered,
            "fix_first": self.reliability.top_fix.hop if self.reliability.top_fix else None,
            "fix_first_gain": self.reliability.top_fix.gain if self.reliability.top_fix else None,
            "failures": self.failures,
            "top_failure_hop": self.failure_hops[0].name if self.failure_hops else None,
            "top_failure_hop_share": self.failure_hops[0].share if self.failure_hops else None,
            "cost_total_usd": self.cost_total, "cost_per_task_usd": self.cost_per_task,
            "cost_per_success_usd": self.cost_per_success,
            "latency_p50_s": self.latency.p50 if self.latency else None,
            "latency_p95_s": self.latency.p95 if self.latency else None,
            "isolated_runs": self.isolated_runs, "unjudged_runs": self.unjudged_runs,
            "truncated_runs": self.truncated_runs,
        }
        for hop in self.reliability.hops:
            row[f"{hop.hop}_reliability_isolated"] = hop.isolated
            row[f"{hop.hop}_reliability_in_system"] = hop.in_system
            row[f"{hop.hop}_isolated_runs"] = hop.isolated_n
            row[f"{hop.hop}_in_system_runs"] = hop.in_system_n
            row[f"{hop.hop}_in_system_not_applicable"] = hop.in_system_not_applicable
        for comp in self.components:
            row[f"{comp.component}_in_system"] = comp.in_system
            row[f"{comp.component}_isolated"] = comp.isolated
            for name, value in comp.metrics.items():
                row[f"{comp.component}_{name}"] = value
        for share in self.failure_hops:
            row[f"failures_at_{share.name}"] = share.count
        for lat in self.hop_latency:
            row[f"{lat.name}_latency_p50_s"] = lat.p50
            row[f"{lat.name}_latency_p95_s"] = lat.p95
        for cost in self.hop_cost:
            row[f"{cost.name}_cost_per_task_usd"] = cost.per_task
        return row


@dataclass(frozen=True, slots=True)
class TaskCell:
    """One task on one configuration: passes out of counted system runs, and failed runs' traces."""

    successes: int
    counted: int
    infra_errors: int
    failed: list[tuple[int, str, int]]  # (trial, status, trace index or -1)


@dataclass(frozen=True, slots=True)
class TaskRow:
    task_id: str
    cells: dict[str, TaskCell]  # configuration label -> cell


@dataclass(slots=True)
class ReportCard:
    """Everything the renderers need: the per-configuration cards, the task matrix, the traces."""

    manifest: Manifest | None
    configs: list[ConfigCard]
    tasks: list[TaskRow]
    traces: list[dict[str, Any]]
    traces_omitted: int
    runs: pd.DataFrame
    hops: pd.DataFrame
    attribution: list[Share]
    definitions: dict[str, str]

    @property
    def labels(self) -> list[str]:
        return [c.label for c in self.configs]

    @property
    def simulated_labels(self) -> set[str]:
        return {c.label for c in self.configs if c.simulated}

    def card_frame(self) -> pd.DataFrame:
        """One row per configuration (card.csv / card.json)."""
        return pd.DataFrame([c.as_row() for c in self.configs])


def build_card(results: Iterable[RunResult], manifest: Manifest | None = None, *,
               max_traces: int = 2000) -> ReportCard:
    """Aggregate streamed results into the report card (see the module docstring)."""
    return card_from_frames(flatten(results, max_traces=max_traces), manifest)


def card_from_frames(flat: Flattened, manifest: Manifest | None) -> ReportCard:
    runs, hops = flat.runs, flat.hops
    configs: list[ConfigCard] = []
    if not runs.empty:
        for (vendor, system), group in runs.groupby(["vendor", "system"], sort=True):
            configs.append(_config_card(str(system), str(vendor), group, hops))
    system_runs = runs[runs["mode"] == SYSTEM_MODE] if not runs.empty else runs
    return ReportCard(manifest=manifest, configs=configs,
                      tasks=_task_rows(system_runs), traces=flat.traces,
                      traces_omitted=flat.traces_omitted, runs=runs, hops=hops,
                      attribution=_failure_shares(system_runs, "first_divergent_hop", HOP_ORDER),
                      definitions=dict(DEFINITIONS))


def _config_card(system: str, vendor: str, group: pd.DataFrame, hops: pd.DataFrame) -> ConfigCard:
    sysrun = group[group["mode"] == SYSTEM_MODE]
    counted = sysrun[~sysrun["infra_error"]]
    isolated = group[(group["mode"] != SYSTEM_MODE) & ~group["infra_error"]]
    successes = int(counted["success"].sum())
    prop = proportion(successes, len(counted))
    k, pass_k = _pass_k(sysrun)
    components = _components(counted, isolated)
    cost_total = float(sysrun["cost_usd"].sum())
    return ConfigCard(
        label=str(group["config"].iloc[0]), system=system, vendor=vendor,
        architecture=str(group["architecture"].iloc[0]), simulated=bool(group["simulated"].any()),
        runs=len(sysrun), counted=len(counted), successes=successes,
        infra_errors=int(sysrun["infra_error"].sum()), rate=prop.rate, ci_low=prop.low,
        ci_high=prop.high, k=k, pass_k=pass_k, components=components,
        reliability=reliability(group, prop.rate),
        failures=int((sysrun["status"] == "failed").sum()),
        failure_hops=_failure_shares(sysrun, "first_divergent_hop", HOP_ORDER),
        failure_categories=_failure_shares(sysrun, "failure_category", ()),
        cost_total=cost_total, cost_per_task=cost_total / len(sysrun) if len(sysrun) else None,
        cost_per_success=cost_total / successes if successes else None,
        latency=_latency("end to end", counted["latency_s"]),
        hop_latency=_hop_latency(hops, counted["run_id"]),
        hop_cost=_hop_cost(hops, sysrun),
        isolated_runs=len(isolated),
        unjudged_runs=int((counted["unjudged"] > 0).sum()) if "unjudged" in counted.columns else 0,
        truncated_runs=int((counted["truncated"] > 0).sum()) if "truncated" in counted.columns else 0)


def _pass_k(sysrun: pd.DataFrame) -> tuple[int, float | None]:
    if sysrun.empty:
        return 0, None
    k = int(sysrun.groupby("task_id")["trial"].nunique().max())
    counted = sysrun[~sysrun["infra_error"]]
    per_task = counted.groupby("task_id")["success"].agg(["count", "sum"])
    pairs = [(int(n), int(c)) for n, c in zip(per_task["count"], per_task["sum"], strict=True)]
    try:
        return k, mean_pass_hat_k(pairs, k)
    except ValueError:
        return k, None


def _components(counted: pd.DataFrame, isolated: pd.DataFrame) -> list[ComponentRow]:
    names = {c[len(SCORE_PREFIX):] for c in counted.columns if c.startswith(SCORE_PREFIX)}
    rows = []
    for name in sorted(names, key=_component_sort_key):
        column = f"{SCORE_PREFIX}{name}"
        in_values = counted[column].dropna()
        iso_values = (isolated.loc[isolated["isolated_component"] == name, column].dropna()
                      if column in isolated.columns else pd.Series(dtype=float))
        metric_prefix = f"{METRIC_PREFIX}{name}."
        metrics = {col[len(metric_prefix):]: float(counted[col].mean())
                   for col in counted.columns if col.startswith(metric_prefix) and counted[col].notna().any()}
        if in_values.empty and iso_values.empty:
            continue
        rows.append(ComponentRow(
            component=name, in_system=float(in_values.mean()) if len(in_values) else None,
            in_system_n=len(in_values), isolated=float(iso_values.mean()) if len(iso_values) else None,
            isolated_n=len(iso_values), metrics=metrics))
    return rows


def _component_sort_key(name: str) -> tuple[int, str]:
    return (COMPONENT_ORDER.index(name) if name in COMPONENT_ORDER else len(COMPONENT_ORDER), name)


def _failure_shares(runs: pd.DataFrame, column: str, order: tuple[str, ...]) -> list[Share]:
    failed = runs[runs["status"] == "failed"] if not runs.empty else runs
    if failed.empty:
        return []
    counts = failed[column].fillna(UNATTRIBUTED).value_counts()
    total = int(counts.sum())
    shares = [Share(str(name), int(count), int(count) / total) for name, count in counts.items()]

    def key(share: Share) -> tuple[int, int, str]:
        return (-share.count, order.index(share.name) if share.name in order else len(order), share.name)

    return sorted(shares, key=key)


def _latency(name: str, values: pd.Series) -> Latency | None:
    values = values.dropna()
    if values.empty:
        return None
    return Latency(name, float(values.quantile(0.5)), float(values.quantile(0.95)), len(values))


def _kind_order(kind: str) -> tuple[int, str]:
    """Sort key of a hop kind: the pipeline's order, then other kinds by name."""
    return (HOP_ORDER.index(kind) if kind in HOP_ORDER else len(HOP_ORDER), kind)


def _hops_of(hops: pd.DataFrame, run_ids: pd.Series) -> pd.DataFrame:
    """The hop rows of these runs."""
    return hops[hops["run_id"].isin(set(run_ids))] if not hops.empty else hops


def _hop_latency(hops: pd.DataFrame, run_ids: pd.Series) -> list[Latency]:
    mine = _hops_of(hops, run_ids)
    if mine.empty:
        return []
    per_run = mine.groupby(["kind", "run_id"])["latency_s"].sum().reset_index()
    result = []
    for kind, group in per_run.groupby("kind"):
        lat = _latency(str(kind), group["latency_s"])
        if lat is not None:
            result.append(lat)
    return sorted(result, key=lambda lat: _kind_order(lat.name))


def _hop_cost(hops: pd.DataFrame, sysrun: pd.DataFrame) -> list[HopCost]:
    """Cost per system run of each hop kind, over the same runs as the cost per task (infrastructure
    errors included: they are paid for), and what no hop carries; the rows sum to the cost per task."""
    if sysrun.empty:
        return []
    runs = len(sysrun)
    total = float(sysrun["cost_usd"].sum())
    mine = _hops_of(hops, sysrun["run_id"])
    by_kind = [(str(kind), float(cost)) for kind, cost in mine.groupby("kind")["cost_usd"].sum().items()] \
        if not mine.empty else []
    by_kind.sort(key=lambda item: _kind_order(item[0]))
    rest = total - sum(cost for _, cost in by_kind)
    if rest > max(1e-12, 1e-9 * total):  # more than float rounding
        by_kind.append((UNATTRIBUTED, rest))
    return [HopCost(name, cost / runs, cost / total if total > 0 else None) for name, cost in by_kind]


def _task_rows(system_runs: pd.DataFrame) -> list[TaskRow]:
    if system_runs.empty:
        return []
    keys = ["task_id", "config"]
    runs = system_runs[[*keys, "trial", "status", "success", "infra_error", "trace_index"]]
    counted = runs[~runs["infra_error"]]
    cells = (runs.groupby(keys)["infra_error"].sum().rename("infra_errors").to_frame()
             .join(counted.groupby(keys)["success"].agg(successes="sum", counted="size"))
             .fillna(0).reset_index())
    failed: dict[tuple[str, str], list[tuple[int, str, int]]] = {}
    for task_id, label, trial, status, index in (
            runs[~runs["success"]].sort_values([*keys, "trial"])[[*keys, "trial", "status", "trace_index"]]
            .itertuples(index=False, name=None)):
        failed.setdefault((task_id, label), []).append((int(trial), str(status), int(index)))
    rows: dict[str, dict[str, TaskCell]] = {}
    for task_id, label, infra_errors, successes, n in cells[
            [*keys, "infra_errors", "successes", "counted"]].itertuples(index=False, name=None):
        rows.setdefault(str(task_id), {})[str(label)] = TaskCell(
            successes=int(successes), counted=int(n), infra_errors=int(infra_errors),
            failed=failed.get((task_id, label), []))
    return [TaskRow(task_id, dict(sorted(cells_.items()))) for task_id, cells_ in sorted(rows.items())]
