"""Trace-based evaluation: a system's own OpenTelemetry spans as Baton traces, graded like native ones.

Spans come from an OTLP JSON-lines file (the Collector's file exporter, ``baton otel export``) or
from :mod:`baton.otel.receiver` (OTLP/HTTP, JSON or protobuf). Each OTel trace is one run; its root
span names the task (``baton.task.id`` unless ``task_attribute`` says otherwise) and may carry the
trial (``baton.trial``). Spans become hops by the first dialect that recognises them:

* **Baton** (``baton.hop.kind``): what :mod:`baton.otel.spans` exports, restored exactly.
* **GenAI semantic conventions** (``gen_ai.operation.name``): ``chat``/``text_completion``/
  ``generate_content`` -> generate, ``execute_tool`` -> tool (``gen_ai.tool.name``,
  ``gen_ai.tool.call.arguments``/``result``), ``retrieval`` -> retrieve; ``invoke_agent`` and
  ``invoke_workflow`` spans that contain other spans are structure, not hops.
* **OpenInference** (``openinference.span.kind``): LLM -> generate, TOOL -> tool, RETRIEVER ->
  retrieve (``retrieval.documents.N.document.id``); CHAIN/AGENT with children are structure.
* **OpenLLMetry** (``traceloop.span.kind`` / ``llm.request.type``): LLM calls -> generate
  (``gen_ai.completion.0.content``), ``tool`` -> tool (``traceloop.entity.input``/``output``);
  workflow/task/agent spans with children are structure.
* **Your mapping** (``[tool.baton.otel.ingest.spans]``, checked first): span-name glob ->
  ``{kind, name, output = {hop output key = span attribute}}`` for custom spans.

A model-call hop's kind is read from its name like the LangGraph adapter's (``route``,
``verify``, ...). The final world state is rebuilt by replaying the tool calls, in order, on the
task's world, so state checks grade what the calls did.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baton.errors import BatonError, ConfigError
from baton.task import GoldenTask
from baton.trace import HOP_KINDS, Hop, HopKind, Trace, Usage

_MODEL_OPS = {"chat", "text_completion", "generate_content"}
_STRUCTURE_OPS = {"invoke_agent", "invoke_workflow", "create_agent"}


@dataclass(slots=True)
class OtelSpan:
    """One span, whatever its wire encoding: ids as hex, times in ns, attributes as plain values."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def duration_s(self) -> float:
        return max(0, self.end_ns - self.start_ns) / 1e9


@dataclass(frozen=True, slots=True)
class SpanRule:
    """A user mapping for custom spans: hop kind, hop name, output keys read from attributes."""

    kind: HopKind
    name: str | None = None
    output: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IngestSettings:
    """How spans map to runs and hops (``[tool.baton.otel.ingest]``)."""

    task_attribute: str = "baton.task.id"
    trial_attribute: str = "baton.trial"
    answer_attribute: str | None = None
    rules: Mapping[str, SpanRule] = field(default_factory=dict)


def parse_ingest_table(table: Mapping[str, Any], source: str) -> IngestSettings:
    """``[tool.baton.otel.ingest]`` as settings, with errors naming the key."""
    known = {"task_attribute", "trial_attribute", "answer_attribute", "spans"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(unknown)}; expected {', '.join(sorted(known))}")
    for key in ("task_attribute", "trial_attribute", "answer_attribute"):
        if key in table and not isinstance(table[key], str):
            raise ConfigError(f"{source}: {key}: expected an attribute name (string), got {table[key]!r}")
    rules: dict[str, SpanRule] = {}
    spans = table.get("spans", {})
    if not isinstance(spans, dict):
        raise ConfigError(f"{source}: spans: expected a table of span-name glob -> {{kind, name, output}}")
    for pattern, rule in spans.items():
        where = f"{source}: spans.{pattern!r}"
        if not isinstance(rule, dict) or rule.get("kind") not in HOP_KINDS:
            raise ConfigError(f"{where}: expected {{kind = one of {', '.join(HOP_KINDS)}, name = ..., "
                              f"output = {{key = 'attribute'}}}}")
        output = rule.get("output", {})
        if not isinstance(output, dict) or not all(isinstance(v, str) for v in output.values()):
            raise ConfigError(f"{where}: output: expected a table of hop output key -> span attribute name")
        extra = sorted(set(rule) - {"kind", "name", "output"})
        if extra:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(extra)}; expected kind, name, output")
        rules[pattern] = SpanRule(kind=rule["kind"], name=rule.get("name"), output=output)
    return IngestSettings(task_attribute=table.get("task_attribute", "baton.task.id"),
                          trial_attribute=table.get("trial_attribute", "baton.trial"),
                          answer_attribute=table.get("answer_attribute"), rules=rules)


# --------------------------------------------------------------------------- wire formats

def _value(node: Mapping[str, Any]) -> Any:
    """An OTLP/JSON AnyValue as a Python value."""
    if not node:
        return None
    (kind, raw), = node.items() if len(node) == 1 else [next(iter(node.items()))]
    if kind == "intValue":
        return int(raw)
    if kind == "doubleValue":
        return float(raw)
    if kind == "arrayValue":
        return [_value(v) for v in (raw or {}).get("values", [])]
    if kind == "kvlistValue":
        return {kv["key"]: _value(kv.get("value", {})) for kv in (raw or {}).get("values", [])}
    return raw


def _attributes(items: Iterable[Mapping[str, Any]] | None) -> dict[str, Any]:
    return {kv["key"]: _value(kv.get("value") or {}) for kv in items or ()}


def _hex(value: str | None) -> str | None:
    if not value:
        return None
    try:
        int(value, 16)
        return value.lower()
    except ValueError:  # protobuf-JSON writers (and some SDKs) use base64 ids
        import base64

        return base64.b64decode(value).hex()


def spans_from_otlp_json(document: Mapping[str, Any]) -> Iterator[OtelSpan]:
    """The spans of one OTLP/JSON ExportTraceServiceRequest."""
    for resource_spans in document.get("resourceSpans") or []:
        resource = _attributes((resource_spans.get("resource") or {}).get("attributes"))
        for scope in resource_spans.get("scopeSpans") or resource_spans.get("instrumentationLibrarySpans") or []:
            for span in scope.get("spans") or []:
                status = span.get("status") or {}
                code = status.get("code")
                failed = code in (2, "STATUS_CODE_ERROR")
                attrs = {**{f"resource.{k}": v for k, v in resource.items()}, **_attributes(span.get("attributes"))}
                yield OtelSpan(trace_id=_hex(span.get("traceId")) or "", span_id=_hex(span.get("spanId")) or "",
                               parent_id=_hex(span.get("parentSpanId")), name=str(span.get("name", "")),
                               start_ns=int(span.get("startTimeUnixNano") or 0),
                               end_ns=int(span.get("endTimeUnixNano") or 0), attributes=attrs,
                               events=[{"name": e.get("name"), "attributes": _attributes(e.get("attributes"))}
                                       for e in span.get("events") or []],
                               error=(status.get("message") or "error") if failed else None)


def spans_from_otlp_protobuf(body: bytes) -> list[OtelSpan]:
    """The spans of an OTLP/HTTP protobuf body (needs ``opentelemetry-proto``)."""
    try:
        from google.protobuf.json_format import MessageToDict
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    except ImportError:
        raise BatonError("OTLP protobuf needs the optional extra: pip install 'baton-evals[otel]'") from None
    request = ExportTraceServiceRequest.FromString(body)
    return list(spans_from_otlp_json(MessageToDict(request)))


def read_span_file(path: Path) -> list[OtelSpan]:
    """Every span of an OTLP JSON-lines file (one ExportTraceServiceRequest per line)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BatonError(f"{path}: cannot read: {exc.strerror or exc}") from None
    spans: list[OtelSpan] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except ValueError as exc:
            raise BatonError(f"{path}:{number}: not JSON ({exc}); expected one OTLP/JSON "
                             f"ExportTraceServiceRequest per line") from None
        if not isinstance(document, dict) or "resourceSpans" not in document:
            raise BatonError(f"{path}:{number}: expected an OTLP/JSON object with 'resourceSpans'")
        spans.extend(spans_from_otlp_json(document))
    return spans


# --------------------------------------------------------------------------- spans -> hops

def _json_value(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _name_kind(name: str) -> HopKind:
    from baton.runners.adapters.langgraph import node_kind

    return node_kind(name, {})


def _messages_text(value: Any) -> str:
    """Text of GenAI ``gen_ai.output.messages`` (parts) or OpenAI-style messages."""
    messages = _json_value(value)
    if not isinstance(messages, list):  # plain text, or a JSON object that is the text itself
        return value if isinstance(value, str) else json.dumps(messages)
    texts: list[str] = []
    for message in messages if isinstance(messages, list) else [messages]:
        if not isinstance(message, dict):
            continue
        for part in message.get("parts") or []:
            if isinstance(part, dict) and part.get("type") == "text":
                texts.append(str(part.get("content", "")))
        if isinstance(message.get("content"), str):
            texts.append(message["content"])
    return "\n".join(texts)


def _usage(attrs: Mapping[str, Any]) -> Usage:
    tokens_in = attrs.get("gen_ai.usage.input_tokens", attrs.get("gen_ai.usage.prompt_tokens",
                          attrs.get("llm.token_count.prompt", 0)))
    tokens_out = attrs.get("gen_ai.usage.output_tokens", attrs.get("gen_ai.usage.completion_tokens",
                           attrs.get("llm.token_count.completion", 0)))
    calls = attrs.get("baton.calls")
    return Usage(input_tokens=int(tokens_in or 0), output_tokens=int(tokens_out or 0),
                 cost_usd=float(attrs.get("baton.cost_usd") or 0.0),
                 calls=int(calls) if calls is not None else int(bool(tokens_in or tokens_out)),
                 cached_calls=int(attrs.get("baton.cached_calls") or 0))


def _tool_output(name: str, arguments: Any, result: Any, error: str | None, side_effect: bool = False) -> dict:
    args = _json_value(arguments)
    return {"name": name, "arguments": args if isinstance(args, dict) else {},
            "result": _json_value(result), "error": error, "side_effect": side_effect}


def _baton_hop(span: OtelSpan) -> Hop:
    a = span.attributes
    kind = a["baton.hop.kind"]
    output = _json_value(a.get("baton.hop.output"))
    if not isinstance(output, dict):
        output = _dialect_output(kind, span) or {}
    return Hop(kind=kind, name=str(a.get("baton.hop.name") or span.name), vendor=a.get("baton.vendor"),
               model=a.get("gen_ai.request.model"), output=output,
               latency_s=float(a.get("baton.latency_s", span.duration_s)), usage=_usage(a),
               error=a.get("baton.hop.error"), infra_error=bool(a.get("baton.hop.infra_error")),
               isolated=bool(a.get("baton.hop.isolated")), purpose=a.get("baton.hop.purpose"))


def _dialect_output(kind: str, span: OtelSpan) -> dict[str, Any] | None:
    a = span.attributes
    if kind == "tool":
        name = a.get("gen_ai.tool.name") or a.get("tool.name") or a.get("traceloop.entity.name") or span.name
        arguments = a.get("gen_ai.tool.call.arguments", a.get("tool.parameters", a.get("input.value")))
        result = a.get("gen_ai.tool.call.result", a.get("output.value"))
        if "traceloop.entity.input" in a:
            entity_in = _json_value(a["traceloop.entity.input"])
            arguments = entity_in.get("inputs", entity_in) if isinstance(entity_in, dict) else entity_in
            result = a.get("traceloop.entity.output")
        return _tool_output(str(name), arguments, result, span.error, bool(a.get("baton.tool.side_effect")))
    if kind == "retrieve":
        ids = a.get("baton.retrieval.doc_ids")
        if ids is None:
            ids, i = [], 0
            while f"retrieval.documents.{i}.document.id" in a:
                ids.append(str(a[f"retrieval.documents.{i}.document.id"]))
                i += 1
        if not ids and "gen_ai.retrieval.documents" in a:
            docs = _json_value(a["gen_ai.retrieval.documents"])
            ids = [str(d.get("id")) for d in docs if isinstance(d, dict)] if isinstance(docs, list) else []
        return {"doc_ids": list(ids), "record_ids": list(a.get("baton.retrieval.record_ids") or [])}
    text = ""
    for key in ("gen_ai.output.messages", "llm.output_messages.0.message.content", "gen_ai.completion.0.content",
                "output.value", "traceloop.entity.output"):
        if key in a:
            text = _messages_text(a[key])
            break
    if kind == "route":
        return {"route": a.get("baton.route", text or None)}
    if kind == "verify":
        verdict = a.get("baton.verdict")
        if verdict is None and text:
            parsed = _json_value(text)
            verdict = parsed.get("verdict") if isinstance(parsed, dict) else None
        return {"verdict": verdict, "issues": []}
    return {"text": text}


def _dialect(span: OtelSpan) -> tuple[str, HopKind | None]:
    """(dialect, hop kind) of a span; kind None: not a hop by itself (structure or unknown)."""
    a = span.attributes
    op = a.get("gen_ai.operation.name")
    oi = str(a.get("openinference.span.kind", "")).upper()
    tl = str(a.get("traceloop.span.kind", "")).lower()
    if op in _MODEL_OPS or oi == "LLM" or a.get("llm.request.type") in ("chat", "completion"):
        return "model", _name_kind(str(a.get("gen_ai.agent.name") or a.get("traceloop.entity.name") or span.name))
    if op == "execute_tool" or oi == "TOOL" or tl == "tool":
        return "tool", "tool"
    if op == "retrieval" or oi == "RETRIEVER":
        return "retrieval", "retrieve"
    if op in _STRUCTURE_OPS or oi in ("AGENT", "CHAIN") or tl in ("workflow", "task", "agent"):
        return "step", _name_kind(str(a.get("gen_ai.agent.name") or a.get("traceloop.entity.name") or span.name))
    return "unknown", None


def span_hop(span: OtelSpan, settings: IngestSettings, *, has_children: bool) -> Hop | None:
    """The hop a span is, or None when it is structure (a parent of hops) or unrecognised."""
    for pattern, rule in settings.rules.items():
        if fnmatch.fnmatchcase(span.name, pattern):
            output = _dialect_output(rule.kind, span) or {}
            output.update({key: _json_value(span.attributes.get(attr)) for key, attr in rule.output.items()})
            return Hop(kind=rule.kind, name=rule.name or span.name, output=output, latency_s=span.duration_s,
                       usage=_usage(span.attributes), error=span.error)
    if "baton.hop.kind" in span.attributes:
        return _baton_hop(span)
    dialect, kind = _dialect(span)
    if kind is None or (dialect == "step" and has_children):
        return None
    a = span.attributes
    name = str(a.get("gen_ai.agent.name") or a.get("traceloop.entity.name") or span.name)
    model = a.get("gen_ai.response.model") or a.get("gen_ai.request.model") or a.get("llm.model_name")
    vendor = a.get("gen_ai.provider.name") or a.get("gen_ai.system") or a.get("llm.provider")
    output = _dialect_output(kind, span) or {}
    if kind == "tool":
        name = str(output.get("name") or name)
    return Hop(kind=kind, name=name, vendor=str(vendor) if vendor else None, model=str(model) if model else None,
               output=output, latency_s=span.duration_s, usage=_usage(a), error=span.error)


# --------------------------------------------------------------------------- spans -> traces

@dataclass(slots=True)
class IngestedRun:
    """One OTel trace read as a run: the task it belongs to, its trial and the Baton trace."""

    task_id: str
    trial: int
    trace: Trace
    source_system: str | None = None  # the root span's baton.system, when it names one


def _root(spans: list[OtelSpan]) -> OtelSpan:
    ids = {s.span_id for s in spans}
    roots = [s for s in spans if not s.parent_id or s.parent_id not in ids]
    return min(roots, key=lambda s: s.start_ns)


def _answer(root: OtelSpan, hops: list[Hop], settings: IngestSettings) -> str:
    a = root.attributes
    for key in (settings.answer_attribute, "baton.answer"):
        if key and isinstance(a.get(key), str):
            return a[key]
    for key in ("gen_ai.output.messages", "output.value", "traceloop.entity.output"):
        if key in a:
            return _messages_text(a[key])
    generated = [h for h in hops if h.kind == "generate" and h.output.get("text")]
    return str(generated[-1].output["text"]) if generated else ""


def _replay(task: GoldenTask, hops: list[Hop]) -> dict[str, dict[str, dict[str, Any]]]:
    """The world after the trace's tool calls, replayed in order on a fresh copy of the task's world."""
    from baton.world import ToolError, World

    world = World(task)
    for hop in hops:
        if hop.kind != "tool" or hop.output.get("error") or hop.error:
            continue
        try:
            world.call(str(hop.output.get("name")), hop.output.get("arguments") or {})
        except ToolError:
            continue
    return world.snapshot()


def group_traces(spans: Iterable[OtelSpan]) -> dict[str, list[OtelSpan]]:
    grouped: dict[str, list[OtelSpan]] = {}
    for span in spans:
        grouped.setdefault(span.trace_id, []).append(span)
    return grouped


def build_run(spans: list[OtelSpan], task: GoldenTask, *, system: str, settings: IngestSettings,
              trial: int = 0) -> Trace:
    """One OTel trace's spans as a Baton trace of ``task``."""
    root = _root(spans)
    parents = {s.parent_id for s in spans if s.parent_id}
    ordered = sorted((s for s in spans if s is not root), key=lambda s: s.start_ns)
    hops = [h for s in ordered if (h := span_hop(s, settings, has_children=s.span_id in parents)) is not None]
    if not hops and (root_hop := span_hop(root, settings, has_children=False)) is not None:
        hops = [root_hop]
    a = root.attributes
    usage = Usage()
    for hop in hops:
        usage.add(hop.usage)
    vendors = {k.removeprefix("baton.vendors."): str(v) for k, v in a.items() if k.startswith("baton.vendors.")}
    simulated = a.get("baton.simulated")
    trace = Trace(task_id=task.id, task_version=task.version, system=system,
                  architecture=str(a.get("baton.architecture") or "otel"), vendors=vendors,
                  simulated=bool(simulated) if simulated is not None else any(
                      (h.vendor or "").startswith("sim-") for h in hops),
                  trial=trial, seed=int(a.get("baton.seed") or 0), mode=str(a.get("baton.mode") or "system"),
                  hops=hops, answer=_answer(root, hops, settings), latency_s=root.duration_s, usage=usage,
                  infra_error=a.get("baton.infra_error"))
    trace.final_state = _replay(task, hops)
    return trace


def ingest(spans: Iterable[OtelSpan], tasks: Mapping[str, GoldenTask], *, system: str,
           settings: IngestSettings | None = None) -> list[IngestedRun]:
    """Every OTel trace among ``spans`` whose root names a known task, as runs."""
    settings = settings or IngestSettings()
    runs: list[IngestedRun] = []
    unknown: set[str] = set()
    for trace_spans in group_traces(spans).values():
        root = _root(trace_spans)
        task_id = root.attributes.get(settings.task_attribute)
        if not isinstance(task_id, str) or task_id not in tasks:
            unknown.add(str(task_id))
            continue
        trial = int(root.attributes.get(settings.trial_attribute) or 0)
        source = root.attributes.get("baton.system")
        runs.append(IngestedRun(task_id, trial, build_run(trace_spans, tasks[task_id], system=system,
                                                          settings=settings, trial=trial),
                                str(source) if source is not None else None))
    if not runs:
        raise BatonError(f"no trace names a task of the golden set through its root span's "
                         f"{settings.task_attribute!r} attribute (found: {', '.join(sorted(unknown)[:5]) or 'none'})")
    return runs
