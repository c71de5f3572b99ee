"""Flattening streamed RunResults into pandas frames: one row per run, one row per hop.

Only the rows are kept, never the results themselves; the traces of failed runs are kept in a
compact form for the report's trace viewer (up to a limit).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from baton.result import RunResult
from baton.trace import Trace

SYSTEM_MODE = "system"
ISOLATED_PREFIX = "isolated:"

# Component graded by each hop name an isolated mode can name, and by each hop kind.
ISOLATED_HOP_COMPONENT = {"route": "route", "retrieve": "retrieval", "draft": "answer",
                          "answer": "answer", "act": "tool", "verify": "verifier"}
HOP_KIND_COMPONENT = {"route": "route", "retrieve": "retrieval", "generate": "answer",
                      "tool": "tool", "verify": "verifier"}

SCORE_PREFIX = "score."
METRIC_PREFIX = "metric."
HOP_PREFIX = "hop."        # hop reliability: 1.0 did its job, 0.0 did not, absent: not applicable
CHOICE_PREFIX = "choice."  # the branch a model-selection hop chose
MAX_TRACE_TEXT = 20_000


def config_label(system: str, vendor: str) -> str:
    """Display name of a configuration, e.g. 'multi_agent @ sim-frontier'."""
    return f"{system} @ {vendor}"


@dataclass(slots=True)
class Flattened:
    """A run's results as frames, plus the viewer traces of its failed and errored runs."""

    runs: pd.DataFrame
    hops: pd.DataFrame
    traces: list[dict[str, Any]]
    traces_omitted: int


def isolated_component(mode: str, trace: Trace) -> str | None:
    """The component an ``isolated:<hop>`` run measures; None for system runs.

    Known hop names map directly; then a registered component grader that declares the hop
    (``register_component_grader(..., hop=)``); for other names (adapters' nodes) the kind of the
    hop marked ``isolated`` in the trace decides.
    """
    if not mode.startswith(ISOLATED_PREFIX):
        return None
    hop = mode[len(ISOLATED_PREFIX):]
    if hop in ISOLATED_HOP_COMPONENT:
        return ISOLATED_HOP_COMPONENT[hop]
    from baton.graders.registry import component_of_hop

    declared = component_of_hop(hop)  # a user's grader of an architecture's own hop
    if declared is not None:
        return declared
    for step in trace.hops:
        if step.isolated or step.name == hop:
            return HOP_KIND_COMPONENT[step.kind]
    return None


def flatten(results: Iterable[RunResult], *, max_traces: int = 2000) -> Flattened:
    """Rows of every run and hop; viewer traces of up to ``max_traces`` failed or errored system
    runs (the ones the report's task matrix links to)."""
    run_rows: list[dict[str, Any]] = []
    hop_rows: list[dict[str, Any]] = []
    traces: list[dict[str, Any]] = []
    omitted = 0
    for result in results:
        row = _run_row(result)
        row["trace_index"] = -1
        if result.status != "passed" and result.key.mode == SYSTEM_MODE:
            if len(traces) < max_traces:
                row["trace_index"] = len(traces)
                traces.append(viewer_trace(result))
            else:
                omitted += 1
        run_rows.append(row)
        hop_rows.extend(_hop_rows(result, row["run_id"], row["config"]))
    runs = pd.DataFrame(run_rows, columns=_run_columns(run_rows))
    hops = pd.DataFrame(hop_rows, columns=list(_HOP_COLUMNS))
    return Flattened(runs=runs, hops=hops, traces=traces, traces_omitted=omitted)


_BASE_RUN_COLUMNS = ("run_id", "task_id", "task_version", "system", "vendor", "config", "architecture",
                     "mode", "trial", "seed", "status", "success", "infra_error", "simulated",
                     "isolated_component", "failure_category", "first_divergent_hop", "failed_checks",
                     "cost_usd", "input_tokens", "output_tokens", "calls", "cached_calls",
                     "latency_s", "finished_at", "trace_index")
_HOP_COLUMNS = ("run_id", "config", "mode", "index", "kind", "name", "vendor", "model", "latency_s",
                "cost_usd", "error", "infra_error", "isolated")


def _run_columns(rows: list[dict[str, Any]]) -> list[str]:
    extra = sorted({name for row in rows for name in row} - set(_BASE_RUN_COLUMNS))
    return [*_BASE_RUN_COLUMNS, *extra]


def _run_row(result: RunResult) -> dict[str, Any]:
    key, grade = result.key, result.grade
    row: dict[str, Any] = {
        "run_id": key.as_str(), "task_id": key.task_id, "task_version": key.task_version,
        "system": key.system, "vendor": key.vendor, "config": config_label(key.system, key.vendor),
        "architecture": result.trace.architecture, "mode": key.mode, "trial": key.trial,
        "seed": result.seed, "status": result.status, "success": result.status == "passed",
        "infra_error": result.status == "error", "simulated": result.simulated,
        "isolated_component": isolated_component(key.mode, result.trace),
        "failure_category": grade.failure_category if result.status == "failed" else None,
        "first_divergent_hop": grade.first_divergent_hop if result.status == "failed" else None,
        "failed_checks": "; ".join(c.name for c in grade.checks if not c.passed),
        "unjudged": len(grade.unjudged),
        "truncated": sum(hop.truncated for hop in result.trace.hops),
        "cost_usd": result.usage.cost_usd, "input_tokens": result.usage.input_tokens,
        "output_tokens": result.usage.output_tokens, "calls": result.usage.calls,
        "cached_calls": result.usage.cached_calls, "latency_s": result.latency_s,
        "finished_at": result.finished_at,
    }
    for score in grade.components.values():
        value = score.score if score.score is not None else (
            None if score.passed is None else float(score.passed))
        if value is not None:
            row[f"{SCORE_PREFIX}{score.component}"] = float(value)
        for name, metric in score.metrics.items():
            if metric is not None:
                row[f"{METRIC_PREFIX}{score.component}.{name}"] = float(metric)
    for name, verdict in grade.hops.items():
        row[f"{HOP_PREFIX}{name}"] = None if verdict.ok is None else float(verdict.ok)
    for name, choice in grade.choices.items():
        row[f"{CHOICE_PREFIX}{name}"] = choice
    return row


def _hop_rows(result: RunResult, run_id: str, config: str) -> list[dict[str, Any]]:
    return [{"run_id": run_id, "config": config, "mode": result.key.mode, "index": i,
             "kind": hop.kind, "name": hop.name, "vendor": hop.vendor, "model": hop.model,
             "latency_s": hop.latency_s, "cost_usd": hop.usage.cost_usd, "error": hop.error is not None,
             "infra_error": hop.infra_error, "isolated": hop.isolated}
            for i, hop in enumerate(result.trace.hops)]


def viewer_trace(result: RunResult) -> dict[str, Any]:
    """What the report's trace viewer shows of a run: plain JSON data, long strings shortened."""
    trace = result.trace
    data = {
        "run_id": result.key.as_str(), "task_id": result.key.task_id,
        "config": config_label(result.key.system, result.key.vendor), "mode": result.key.mode,
        "trial": result.key.trial, "status": result.status, "simulated": result.simulated,
        "failure_category": result.grade.failure_category,
        "first_divergent_hop": result.grade.first_divergent_hop,
        "failed_checks": [{"name": c.name, "detail": c.detail} for c in result.grade.checks if not c.passed],
        "hop_verdicts": [{"hop": v.hop, "ok": v.ok, "detail": v.detail} for v in result.grade.hops.values()],
        "choices": dict(result.grade.choices),
        "infra_error": trace.infra_error, "answer": trace.answer, "latency_s": result.latency_s,
        "cost_usd": result.usage.cost_usd,
        "hops": [{"kind": h.kind, "name": h.name, "vendor": h.vendor, "model": h.model,
                  "input": h.input, "output": h.output, "latency_s": h.latency_s, "error": h.error,
                  "infra_error": h.infra_error, "isolated": h.isolated, "truncated": h.truncated,
                  "purpose": h.purpose}
                 for h in trace.hops],
        "final_state": trace.final_state,
    }
    return _shorten(data)


def _shorten(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_TRACE_TEXT:
        return value[:MAX_TRACE_TEXT] + f"… [{len(value) - MAX_TRACE_TEXT} more characters]"
    if isinstance(value, dict):
        return {str(k): _shorten(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shorten(v) for v in value]
    return value
