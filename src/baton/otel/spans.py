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

Spans are built from a stored result *record* (one ``results.jsonl`` line, decoded by
:func:`parse_record`: ``json.loads`` without the final world state), with explicit timestamps: the run ends at ``finished_at`` and lasts
``latency_s``; hops are laid end to end from its start with their own latencies (the trace stores
durations, not start times). Trace and span ids are derived from the run key, so exporting a run
twice yields the same ids. The result is plain :class:`SpanRecord` tuples: the OTLP/JSON encoder
(:mod:`baton.otel.otlp_json`) writes them directly, and :func:`readable_spans` makes SDK spans of
them only for the OTLP/HTTP exporter. No OpenTelemetry import happens here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

EVALUATION_EVENT = "gen_ai.evaluation.result"
KIND_INTERNAL, KIND_CLIENT = 1, 3  # OTLP Span.SpanKind values
# component -> the hop kind whose first (or last, for answers) span it judges
_COMPONENT_HOPS = {"route": "route", "retrieval": "retrieve", "tool": "tool", "verifier": "verify",
                   "answer": "generate"}


class SpanEvent(NamedTuple):
    name: str
    time_ns: int
    attributes: dict[str, Any]


class SpanRecord(NamedTuple):
    """One finished span: ids as integers, times in ns since the epoch, ``error`` the status message
    of a failed span (None: status unset)."""

    trace_id: int
    span_id: int
    parent_id: int | None
    name: str
    kind: int
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    events: tuple[SpanEvent, ...] | list[SpanEvent]
    error: str | None


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


def key_str(key: Mapping[str, Any]) -> str:
    """``RunKey.as_str()`` of a stored key object."""
    return (f"{key['task_id']}@v{key['task_version']}|{key['system']}|{key['vendor']}|"
            f"{key.get('mode', 'system')}|t{key['trial']}")


def operation(hop: Mapping[str, Any]) -> str:
    """The GenAI operation a (stored) hop is."""
    kind = hop["kind"]
    if kind == "tool":
        return "execute_tool"
    if kind == "retrieve":
        return "retrieval"
    if hop.get("model") or (hop.get("usage") or {}).get("calls"):
        return "chat"
    return "invoke_agent"


def span_name(hop: Mapping[str, Any], op: str | None = None) -> str:
    op = op or operation(hop)
    if op == "execute_tool":
        return f"execute_tool {(hop.get('output') or {}).get('name') or hop['name']}"
    if op == "chat":
        return f"chat {hop.get('model') or hop.get('vendor') or hop['name']}"
    return f"{op} {hop['name']}"


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def hop_attributes(hop: Mapping[str, Any], *, content: bool, op: str | None = None) -> dict[str, Any]:
    """GenAI and ``baton.*`` attributes of one stored hop."""
    usage = hop.get("usage") or {}
    attrs: dict[str, Any] = {"gen_ai.operation.name": op or operation(hop), "baton.hop.kind": hop["kind"],
                             "baton.hop.name": hop["name"], "baton.latency_s": float(hop.get("latency_s", 0.0)),
                             "baton.cost_usd": float(usage.get("cost_usd", 0.0))}
    if hop.get("purpose"):
        attrs["baton.hop.purpose"] = hop["purpose"]
    if hop.get("isolated"):
        attrs["baton.hop.isolated"] = True
    if vendor := hop.get("vendor"):
        attrs["baton.vendor"] = vendor
        attrs["gen_ai.provider.name"] = vendor
    if model := hop.get("model"):
        attrs["gen_ai.request.model"] = model
        attrs["gen_ai.response.model"] = model
    if calls := usage.get("calls"):
        attrs["gen_ai.usage.input_tokens"] = int(usage.get("input_tokens", 0))
        attrs["gen_ai.usage.output_tokens"] = int(usage.get("output_tokens", 0))
        attrs["baton.calls"] = int(calls)
        if cached := usage.get("cached_calls"):
            attrs["baton.cached_calls"] = int(cached)
    out = hop.get("output") or {}
    kind = hop["kind"]
    if kind == "tool":
        attrs["gen_ai.tool.name"] = str(out.get("name") or hop["name"])
        attrs["gen_ai.tool.type"] = "function"
        attrs["baton.tool.side_effect"] = bool(out.get("side_effect"))
        if content:
            attrs["gen_ai.tool.call.arguments"] = _json(out.get("arguments") or {})
            attrs["gen_ai.tool.call.result"] = _json(out.get("result"))
    elif kind == "route" and out.get("route") is not None:
        attrs["baton.route"] = str(out["route"])
    elif kind == "retrieve":
        attrs["baton.retrieval.doc_ids"] = [str(d) for d in out.get("doc_ids") or []]
        attrs["baton.retrieval.record_ids"] = [str(r) for r in out.get("record_ids") or []]
    elif kind == "verify" and out.get("verdict") is not None:
        attrs["baton.verdict"] = str(out["verdict"])
    if error := hop.get("error"):
        infra = bool(hop.get("infra_error"))
        attrs["error.type"] = "infrastructure" if infra else "hop_error"
        attrs["baton.hop.error"] = error
        if infra:
            attrs["baton.hop.infra_error"] = True
    if content:
        attrs["baton.hop.output"] = _json(out)  # prompts (hop.input) stay in results.jsonl
    return attrs


def _evaluation(name: str, at: int, *, score: float | None = None, label: str | None = None,
                explanation: str | None = None) -> SpanEvent:
    attrs: dict[str, Any] = {"gen_ai.evaluation.name": name}
    if score is not None:
        attrs["gen_ai.evaluation.score.value"] = float(score)
    if label is not None:
        attrs["gen_ai.evaluation.score.label"] = label
    if explanation:
        attrs["gen_ai.evaluation.explanation"] = explanation
    return SpanEvent(EVALUATION_EVENT, at, attrs)


_CHECKS: dict[tuple[Any, ...], dict[str, Any]] = {}


def _check_attributes(name: str, passed: Any, detail: Any) -> dict[str, Any]:
    """The evaluation attributes of a check's result (shared: the same checks recur run after run;
    nothing modifies them)."""
    key = (name, passed.__class__, passed, detail.__class__, detail)
    attrs = _CHECKS.get(key)
    if attrs is None:
        attrs = _evaluation(f"baton.check.{name}", 0, score=1.0 if passed else 0.0,
                            label="pass" if passed else "fail", explanation=detail or None).attributes
        if len(_CHECKS) >= 4096:
            _CHECKS.clear()
        _CHECKS[key] = attrs
    return attrs


def _component_event(name: str, component: Mapping[str, Any], at: int) -> SpanEvent:
    passed = component.get("passed")
    event = _evaluation(f"baton.component.{name}", at, score=component.get("score"),
                        label=None if passed is None else ("pass" if passed else "fail"),
                        explanation=component.get("detail") or None)
    for metric, value in (component.get("metrics") or {}).items():
        if value is not None:
            event.attributes[f"baton.metric.{metric}"] = float(value)
    return event


def _judged_hop(kind: str, hops: Sequence[Mapping[str, Any]]) -> int | None:
    """Index of the hop a component judges: the first of its kind (the last generate hop)."""
    indices = [i for i, h in enumerate(hops) if h["kind"] == kind]
    if not indices:
        return None
    return indices[-1] if kind == "generate" else indices[0]


_scan_value = json.JSONDecoder().scan_once  # the C scanner: one JSON value from an index
_scan_string = json.decoder.scanstring  # type: ignore[attr-defined]
_STATE_END = ',"infra_error":'


def _members(text: str, at: int, skip_state: bool) -> tuple[dict[str, Any], int]:
    """The object that opens at ``text[at]`` (compact JSON, as the store writes it) and its end;
    with ``skip_state`` the trace's ``final_state`` is not decoded (None): it ends where the
    line's last ``,"infra_error":`` starts, a key that only the fixed-schema fields after it could
    hold otherwise, and JSON strings escape their quotes."""
    if text[at] != "{":
        raise ValueError(at)
    out: dict[str, Any] = {}
    at += 1
    if text[at] == "}":
        return out, at + 1
    while True:
        if text[at] != '"':
            raise ValueError(at)
        key, at = _scan_string(text, at + 1)
        if text[at] != ":":
            raise ValueError(at)
        if key == "trace" and not skip_state:
            out[key], at = _members(text, at + 1, True)
        elif key == "final_state" and skip_state:
            end = text.rfind(_STATE_END)
            if end <= at:
                raise ValueError(at)
            out[key], at = None, end
        else:
            out[key], at = _scan_value(text, at + 1)
        if text[at] == "}":
            return out, at + 1
        if text[at] != ",":
            raise ValueError(at)
        at += 1


def parse_record(line: bytes | str) -> dict[str, Any]:
    """A stored result line as :func:`record_spans` needs it: ``json.loads`` of it, except that
    the trace's final world state (a large part of the line, not exported) is left undecoded
    (None). A line that is not compact JSON of that shape is decoded whole."""
    text = line.decode() if isinstance(line, bytes) else line
    text = text.rstrip("\r\n")
    try:
        record, end = _members(text, 0, False)
    except (ValueError, IndexError, StopIteration):
        return json.loads(text)  # type: ignore[no-any-return]
    if end != len(text) or not isinstance(record.get("trace"), dict) or "infra_error" not in record["trace"]:
        return json.loads(text)  # type: ignore[no-any-return]
    return record


def record_spans(record: Mapping[str, Any], *, run_key: str = "", fixture_set_hash: str | None = None,
                 content: bool = True) -> list[SpanRecord]:
    """A stored result record (a parsed ``results.jsonl`` line) as spans: the root
    ``invoke_workflow`` span first, then one span per hop. Raises KeyError/TypeError/ValueError on
    a record that is not a RunResult (the caller names the file and record)."""
    trace, key, grade = record["trace"], record["key"], record["grade"]
    hops: list[Mapping[str, Any]] = trace.get("hops") or []
    ids = _ids(f"{run_key}|{key_str(key)}", len(hops) + 1)
    trace_id = next(ids)
    root_id = next(ids)
    end = _ns(record["finished_at"])
    start = end - int(float(trace.get("latency_s", 0.0)) * 1e9)

    components: dict[str, Mapping[str, Any]] = grade.get("components") or {}
    events_for: dict[int, list[SpanEvent]] = {}
    root_events = [_evaluation("baton.system_success", end, score=1.0 if record["status"] == "passed" else 0.0,
                               label=record["status"], explanation=grade.get("failure_category"))]
    root_events += [SpanEvent(EVALUATION_EVENT, end, _check_attributes(c["name"], c["passed"], c.get("detail")))
                    for c in grade.get("checks") or []]
    for name, component in components.items():
        if component.get("score") is None:
            continue
        index = _judged_hop(_COMPONENT_HOPS.get(component.get("component", ""), ""), hops)
        if index is None:
            root_events.append(_component_event(name, component, end))
        else:
            events_for.setdefault(index, []).append(_component_event(name, component, end))
    if judge := grade.get("judge"):
        verdict = judge.get("verdict") if isinstance(judge.get("verdict"), str) else None
        score = judge.get("score")
        root_events.append(_evaluation("baton.judge", end,
                                       score=score if isinstance(score, (int, float)) else None,
                                       label=verdict, explanation=str(judge.get("reasons") or "") or None))

    usage = record.get("usage") or {}
    root_attrs: dict[str, Any] = {
        "gen_ai.operation.name": "invoke_workflow", "gen_ai.workflow.name": key["system"],
        "baton.run_key": run_key, "baton.task.id": key["task_id"], "baton.task.version": int(key["task_version"]),
        "baton.gold.version": int(key["task_version"]), "baton.trial": int(key["trial"]),
        "baton.seed": int(record["seed"]), "baton.mode": key.get("mode", "system"), "baton.system": key["system"],
        "baton.architecture": trace["architecture"], "baton.vendor": key["vendor"],
        "baton.simulated": bool(record["simulated"]), "baton.status": record["status"],
        "baton.cost_usd": float(usage.get("cost_usd", 0.0)), "baton.latency_s": float(record["latency_s"]),
        "gen_ai.usage.input_tokens": int(usage.get("input_tokens", 0)),
        "gen_ai.usage.output_tokens": int(usage.get("output_tokens", 0)),
    }
    if fixture_set_hash:
        root_attrs["baton.fixture_set_hash"] = fixture_set_hash
    for role, vendor in (trace.get("vendors") or {}).items():
        root_attrs[f"baton.vendors.{role}"] = vendor
    if grade.get("failure_category"):
        root_attrs["baton.failure_category"] = grade["failure_category"]
    if grade.get("first_divergent_hop"):
        root_attrs["baton.first_divergent_hop"] = grade["first_divergent_hop"]
    infra_error = trace.get("infra_error")
    if infra_error:
        root_attrs["error.type"] = "infrastructure"
        root_attrs["baton.infra_error"] = infra_error
    if content:
        root_attrs["baton.answer"] = trace.get("answer", "")

    spans = [SpanRecord(trace_id, root_id, None, f"invoke_workflow {key['system']}", KIND_INTERNAL, start, end,
                        root_attrs, root_events, infra_error or None)]
    cursor = start
    for index, hop in enumerate(hops):
        hop_start = min(cursor, end)
        hop_end = min(hop_start + int(float(hop.get("latency_s", 0.0)) * 1e9), end)
        cursor = hop_end
        op = operation(hop)
        spans.append(SpanRecord(trace_id, next(ids), root_id, span_name(hop, op),
                                KIND_CLIENT if op == "chat" else KIND_INTERNAL, hop_start, max(hop_end, hop_start),
                                hop_attributes(hop, content=content, op=op), events_for.get(index, ()),
                                hop.get("error") or None))
    return spans


def run_spans(result: Any, **options: Any) -> list[SpanRecord]:
    """A :class:`~baton.result.RunResult` as spans (see :func:`record_spans`)."""
    return record_spans(json.loads(result.model_dump_json()), **options)


def readable_spans(spans: Sequence[SpanRecord], resource: Any, scope: Any) -> list[Any]:
    """SDK ``ReadableSpan`` objects of ``spans``, for the OTLP/HTTP exporter (imports the SDK)."""
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

    sampled = TraceFlags(TraceFlags.SAMPLED)
    kinds = {KIND_INTERNAL: SpanKind.INTERNAL, KIND_CLIENT: SpanKind.CLIENT}
    unset = Status(StatusCode.UNSET)
    out = []
    for span in spans:
        parent = (SpanContext(span.trace_id, span.parent_id, is_remote=False, trace_flags=sampled)
                  if span.parent_id is not None else None)
        out.append(ReadableSpan(
            name=span.name, context=SpanContext(span.trace_id, span.span_id, is_remote=False, trace_flags=sampled),
            parent=parent, resource=resource, attributes=span.attributes,
            events=[Event(e.name, e.attributes, e.time_ns) for e in span.events], kind=kinds[span.kind],
            status=Status(StatusCode.ERROR, span.error) if span.error else unset,
            start_time=span.start_ns, end_time=span.end_ns, instrumentation_scope=scope))
    return out
