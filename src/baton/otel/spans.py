"""A stored run as OpenTelemetry spans, named and attributed per the GenAI semantic conventions.

One trace per run: a root ``invoke_workflow <system>`` span and one child span per hop:

==========================  ==================================  ==============================
hop                         span name                           ``gen_ai.operation.name``
==========================  ==================================  ==============================
model call (usage/model)    ``chat <model>``                    ``chat``
``tool``                    ``execute_tool <tool name>``        ``execute_tool``
``retrieve``                ``retrieval <hop name>``            ``retrieval``
any other step              ``invoke_agent <hop name>``         ``invoke_agent``
==========================  ==================================  ==============================

Every grade is a ``gen_ai.evaluation.result`` event (``gen_ai.evaluation.name``,
``gen_ai.evaluation.score.value``, ``gen_ai.evaluation.score.label``,
``gen_ai.evaluation.explanation``) on the span it judges: component scores on their hop's span,
system success, checks and the judge's verdict on the root span. ``baton.*`` attributes carry the
run's identity (task, gold version, trial, seed, mode, system, vendor, run key) and
``baton.hop.output`` the hop's output as the trace stores it, so a run can be graded again from
its spans (:mod:`baton.otel.ingest`).

Spans are built after the run from the stored :class:`~baton.result.RunResult`, with explicit
timestamps: the run ends at ``finished_at`` and lasts ``latency_s``; hops are laid end to end
from its start with their own latencies (the trace stores durations, not start times). Trace
and span ids are derived from the run key, so exporting a run twice yields the same ids.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from baton import __version__
from baton.result import ComponentScore, RunResult
from baton.trace import Hop

EVALUATION_EVENT = "gen_ai.evaluation.result"
SCOPE = InstrumentationScope("baton", __version__)
# component -> the hop kind whose first (or last, for answers) span it judges
_COMPONENT_HOPS = {"route": "route", "retrieval": "retrieve", "tool": "tool", "verifier": "verify",
                   "answer": "generate"}


@functools.cache
def _default_resource() -> Resource:
    return Resource.create({"service.name": "baton", "service.version": __version__})


def _ids(seed: str, n: int) -> Iterator[int]:
    """Deterministic non-zero ids: the trace id (128 bits), then ``n`` span ids (64 bits)."""
    digest = hashlib.sha256(seed.encode()).digest()
    yield int.from_bytes(digest[:16], "big") or 1
    for i in range(n):
        yield int.from_bytes(hashlib.blake2b(f"{seed}#{i}".encode(), digest_size=8).digest(), "big") or 1


def _ns(iso: str) -> int:
    moment = dt.datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1e9)


def operation(hop: Hop) -> str:
    """The GenAI operation a hop is."""
    if hop.kind == "tool":
        return "execute_tool"
    if hop.kind == "retrieve":
        return "retrieval"
    if hop.model or hop.usage.calls:
        return "chat"
    return "invoke_agent"


def span_name(hop: Hop) -> str:
    op = operation(hop)
    if op == "execute_tool":
        return f"execute_tool {hop.output.get('name') or hop.name}"
    if op == "chat":
        return f"chat {hop.model or hop.vendor or hop.name}"
    return f"{op} {hop.name}"


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def hop_attributes(hop: Hop, *, content: bool) -> dict[str, Any]:
    """GenAI and ``baton.*`` attributes of one hop."""
    attrs: dict[str, Any] = {"gen_ai.operation.name": operation(hop), "baton.hop.kind": hop.kind,
                             "baton.hop.name": hop.name, "baton.latency_s": hop.latency_s,
                             "baton.cost_usd": hop.usage.cost_usd}
    if hop.purpose:
        attrs["baton.hop.purpose"] = hop.purpose
    if hop.isolated:
        attrs["baton.hop.isolated"] = True
    if hop.vendor:
        attrs["baton.vendor"] = hop.vendor
        attrs["gen_ai.provider.name"] = hop.vendor
    if hop.model:
        attrs["gen_ai.request.model"] = hop.model
        attrs["gen_ai.response.model"] = hop.model
    if hop.usage.calls:
        attrs["gen_ai.usage.input_tokens"] = hop.usage.input_tokens
        attrs["gen_ai.usage.output_tokens"] = hop.usage.output_tokens
        attrs["baton.calls"] = hop.usage.calls
        if hop.usage.cached_calls:
            attrs["baton.cached_calls"] = hop.usage.cached_calls
    out = hop.output
    if hop.kind == "tool":
        attrs["gen_ai.tool.name"] = str(out.get("name") or hop.name)
        attrs["gen_ai.tool.type"] = "function"
        attrs["baton.tool.side_effect"] = bool(out.get("side_effect"))
        if content:
            attrs["gen_ai.tool.call.arguments"] = _json(out.get("arguments") or {})
            attrs["gen_ai.tool.call.result"] = _json(out.get("result"))
    elif hop.kind == "route" and out.get("route") is not None:
        attrs["baton.route"] = str(out["route"])
    elif hop.kind == "retrieve":
        attrs["baton.retrieval.doc_ids"] = [str(d) for d in out.get("doc_ids") or []]
        attrs["baton.retrieval.record_ids"] = [str(r) for r in out.get("record_ids") or []]
    elif hop.kind == "verify" and out.get("verdict") is not None:
        attrs["baton.verdict"] = str(out["verdict"])
    if hop.error:
        attrs["error.type"] = "infrastructure" if hop.infra_error else "hop_error"
        attrs["baton.hop.error"] = hop.error
        if hop.infra_error:
            attrs["baton.hop.infra_error"] = True
    if content:
        attrs["baton.hop.output"] = _json(out)  # prompts (hop.input) stay in results.jsonl
    return attrs


def _evaluation(name: str, at: int, *, score: float | None = None, label: str | None = None,
                explanation: str | None = None) -> Event:
    attrs: dict[str, Any] = {"gen_ai.evaluation.name": name}
    if score is not None:
        attrs["gen_ai.evaluation.score.value"] = float(score)
    if label is not None:
        attrs["gen_ai.evaluation.score.label"] = label
    if explanation:
        attrs["gen_ai.evaluation.explanation"] = explanation
    return Event(EVALUATION_EVENT, attrs, at)


def _component_event(name: str, component: ComponentScore, at: int) -> Event:
    label = None if component.passed is None else ("pass" if component.passed else "fail")
    event = _evaluation(f"baton.component.{name}", at, score=component.score, label=label,
                        explanation=component.detail or None)
    metrics = {f"baton.metric.{k}": float(v) for k, v in component.metrics.items() if v is not None}
    return Event(event.name, {**(event.attributes or {}), **metrics}, at)


def _judged_hop(kind: str, hops: list[Hop]) -> int | None:
    """Index of the hop a component judges: the first of its kind (the last generate hop)."""
    indices = [i for i, h in enumerate(hops) if h.kind == kind]
    if not indices:
        return None
    return indices[-1] if kind == "generate" else indices[0]


def run_spans(result: RunResult, *, run_key: str = "", fixture_set_hash: str | None = None,
              resource: Resource | None = None, content: bool = True) -> list[ReadableSpan]:
    """The run as spans: the root ``invoke_workflow`` span first, then one span per hop."""
    trace, key, grade = result.trace, result.key, result.grade
    ids = _ids(f"{run_key}|{key.as_str()}", len(trace.hops) + 1)
    trace_id = next(ids)
    root_id = next(ids)
    end = _ns(result.finished_at)
    start = end - int(trace.latency_s * 1e9)
    root_ctx = SpanContext(trace_id, root_id, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    resource = resource or _default_resource()

    spans: list[ReadableSpan] = []
    events_for: dict[int, list[Event]] = {}
    for name, component in grade.components.items():
        index = _judged_hop(_COMPONENT_HOPS.get(component.component, ""), trace.hops)
        if index is not None and component.score is not None:
            events_for.setdefault(index, []).append(_component_event(name, component, end))

    cursor = start
    for index, hop in enumerate(trace.hops):
        hop_start = min(cursor, end)
        hop_end = min(hop_start + int(hop.latency_s * 1e9), end)
        cursor = hop_end
        status = Status(StatusCode.ERROR, hop.error) if hop.error else Status(StatusCode.UNSET)
        spans.append(ReadableSpan(
            name=span_name(hop),
            context=SpanContext(trace_id, next(ids), is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED)),
            parent=root_ctx, resource=resource, attributes=hop_attributes(hop, content=content),
            events=events_for.get(index, ()),
            kind=SpanKind.CLIENT if operation(hop) == "chat" else SpanKind.INTERNAL,
            status=status, start_time=hop_start, end_time=max(hop_end, hop_start), instrumentation_scope=SCOPE))

    root_attrs: dict[str, Any] = {
        "gen_ai.operation.name": "invoke_workflow", "gen_ai.workflow.name": key.system,
        "baton.run_key": run_key, "baton.task.id": key.task_id, "baton.task.version": key.task_version,
        "baton.gold.version": key.task_version, "baton.trial": key.trial, "baton.seed": result.seed,
        "baton.mode": key.mode, "baton.system": key.system, "baton.architecture": trace.architecture,
        "baton.vendor": key.vendor, "baton.simulated": result.simulated, "baton.status": result.status,
        "baton.cost_usd": result.usage.cost_usd, "baton.latency_s": result.latency_s,
        "gen_ai.usage.input_tokens": result.usage.input_tokens,
        "gen_ai.usage.output_tokens": result.usage.output_tokens,
    }
    if fixture_set_hash:
        root_attrs["baton.fixture_set_hash"] = fixture_set_hash
    for role, vendor in trace.vendors.items():
        root_attrs[f"baton.vendors.{role}"] = vendor
    if grade.failure_category:
        root_attrs["baton.failure_category"] = grade.failure_category
    if grade.first_divergent_hop:
        root_attrs["baton.first_divergent_hop"] = grade.first_divergent_hop
    if trace.infra_error:
        root_attrs["error.type"] = "infrastructure"
        root_attrs["baton.infra_error"] = trace.infra_error
    if content:
        root_attrs["baton.answer"] = trace.answer
    root_events = [_evaluation("baton.system_success", end, score=1.0 if result.status == "passed" else 0.0,
                               label=result.status, explanation=grade.failure_category)]
    root_events += [_evaluation(f"baton.check.{c.name}", end, score=1.0 if c.passed else 0.0,
                                label="pass" if c.passed else "fail", explanation=c.detail or None)
                    for c in grade.checks]
    for name, component in grade.components.items():
        if component.score is not None and _judged_hop(_COMPONENT_HOPS.get(component.component, ""),
                                                       trace.hops) is None:
            root_events.append(_component_event(name, component, end))
    if grade.judge:
        verdict = grade.judge.get("verdict") if isinstance(grade.judge.get("verdict"), str) else None
        score = grade.judge.get("score")
        root_events.append(_evaluation("baton.judge", end, score=score if isinstance(score, (int, float)) else None,
                                       label=verdict, explanation=str(grade.judge.get("reasons") or "") or None))
    root_status = Status(StatusCode.ERROR, trace.infra_error) if trace.infra_error else Status(StatusCode.UNSET)
    root = ReadableSpan(name=f"invoke_workflow {key.system}", context=root_ctx, parent=None, resource=resource,
                        attributes=root_attrs, events=root_events, kind=SpanKind.INTERNAL, status=root_status,
                        start_time=start, end_time=end, instrumentation_scope=SCOPE)
    return [root, *spans]


def results_spans(results: Iterable[RunResult], **options: Any) -> Iterator[list[ReadableSpan]]:
    """Each run's spans, one list per run."""
    for result in results:
        yield run_spans(result, **options)
