"""The exporter's cheap paths give what the plain ones give: a stored line decoded without its
final world state, remembered check and event encodings, and the OTLP/JSON text against
``json.dumps`` of the same spans written as dicts."""

from __future__ import annotations

import copy
import json
import math

from baton.otel.otlp_json import export_request, span_json
from baton.otel.spans import EVALUATION_EVENT, SpanEvent, SpanRecord, parse_record, record_spans


def _record(final_state: dict, output: dict | None = None) -> dict:
    """A stored result record (the RunResult field order the store writes) with a tool hop."""
    hop = {"kind": "tool", "name": "lookup", "vendor": None, "model": None, "input": {"q": '"final_state":{}'},
           "output": output or {"name": "lookup", "arguments": {"id": 7}, "result": {"ok": True}},
           "latency_s": 0.25, "usage": {"input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0, "calls": 0,
                                         "cached_calls": 0, "retries": 0},
           "error": None, "infra_error": False, "isolated": False, "purpose": "act"}
    usage = {"input_tokens": 12, "output_tokens": 3, "cost_usd": 0.001, "calls": 1, "cached_calls": 0, "retries": 0}
    return {
        "version": 1,
        "key": {"task_id": "shop/returns-x", "task_version": 2, "system": "agentic", "vendor": "v1", "trial": 1,
                "mode": "system"},
        "seed": 99, "status": "failed", "simulated": True,
        "grade": {"status": "failed", "checks": [{"name": "state", "passed": True, "detail": 'has ,"infra_error":'},
                                                 {"name": "facts", "passed": False, "detail": ""}],
                  "components": {"tool": {"component": "tool", "score": 0.5, "passed": False,
                                          "metrics": {"arg_match": 0.5, "nan": None}, "detail": "half"}},
                  "failure_category": "wrong_tool", "first_divergent_hop": "act", "judge": None},
        "trace": {"version": 1, "task_id": "shop/returns-x", "task_version": 2, "system": "agentic",
                  "architecture": "agentic", "vendors": {"agent": "v1"}, "simulated": True, "trial": 1, "seed": 99,
                  "mode": "system", "hops": [hop], "answer": 'done "quoted" ,"infra_error":',
                  "final_state": final_state, "infra_error": None, "latency_s": 1.5, "usage": usage},
        "usage": usage, "latency_s": 1.5, "finished_at": "2026-12-07T04:00:00+00:00",
    }


def _line(record: dict, **dumps) -> bytes:
    return (json.dumps(record, separators=(",", ":"), **dumps) + "\n").encode()


def _without_state(record: dict) -> dict:
    out = copy.deepcopy(record)
    out["trace"]["final_state"] = None
    return out


def test_a_stored_line_is_decoded_without_its_final_state():
    # keys of the world state that look like the fields around it, and a hop output named alike
    state = {"orders": {"o1": {"infra_error": "x", "final_state": {"a": 1}, "note": '},"infra_error":'}}}
    record = _record(state, output={"name": "lookup", "final_state": {"infra_error": 1}})
    for line in (_line(record), _line(record).decode(), _line(record, ensure_ascii=False)):
        assert parse_record(line) == _without_state(record)
    assert record_spans(parse_record(_line(record))) == record_spans(record)


def test_other_layouts_are_decoded_whole():
    record = _record({"t": {"r": {"v": 1}}})
    spaced = (json.dumps(record) + "\n").encode()  # not the store's compact form
    assert parse_record(spaced) == record
    reordered = copy.deepcopy(record)
    trace = reordered["trace"]
    state = trace.pop("final_state")
    trace["final_state"] = {"t": {"r": {"infra_error": None, **state["t"]["r"]}}}  # after infra_error
    assert parse_record(_line(reordered)) == reordered
    no_state = copy.deepcopy(record)
    del no_state["trace"]["final_state"]
    assert parse_record(_line(no_state)) == no_state


def _dict_span(span: SpanRecord) -> dict:
    """The OTLP/JSON mapping of a span as plain dicts (what a generic encoder would be given)."""
    def value(v):
        if isinstance(v, bool):
            return {"boolValue": v}
        if isinstance(v, int):
            return {"intValue": str(v)}
        if isinstance(v, float):
            return {"doubleValue": v if math.isfinite(v) else str(v).replace("inf", "Infinity").replace("nan", "NaN")}
        if isinstance(v, list):
            return {"arrayValue": {"values": [value(x) for x in v]}}
        return {"stringValue": str(v)}

    def kvs(attributes):
        return [{"key": k, "value": value(v)} for k, v in attributes.items()]

    out = {"traceId": f"{span.trace_id:032x}", "spanId": f"{span.span_id:016x}"}
    if span.parent_id is not None:
        out["parentSpanId"] = f"{span.parent_id:016x}"
    out |= {"name": span.name, "kind": span.kind, "startTimeUnixNano": str(span.start_ns),
            "endTimeUnixNano": str(span.end_ns), "attributes": kvs(span.attributes)}
    if span.events:
        out["events"] = [{"timeUnixNano": str(e.time_ns), "name": e.name, "attributes": kvs(e.attributes)}
                         for e in span.events]
    if span.error:
        out["status"] = {"code": 2, "message": span.error}
    return out


def test_remembered_encodings_match_a_generic_encoder():
    record = _record({"t": {"r": {"v": 1}}})
    spans = record_spans(record) + record_spans(record)  # the second time from the caches
    # equal values of different types must not share an encoding
    for i, value in enumerate([True, 1, 1.0, "1", float("nan"), [1, "a"], False, 0, 0.0]):
        spans.append(SpanRecord(5, 6 + i, 5, "x", 1, 1, 2, {"v": value, "é": "ü\n"},
                                [SpanEvent(EVALUATION_EVENT, 3, {"gen_ai.evaluation.name": "n", "v": value})], None))
    for span in spans:
        assert json.loads(span_json(span)) == json.loads(json.dumps(_dict_span(span)))
        assert span_json(span) == json.dumps(_dict_span(span), separators=(",", ":"))
    request = json.loads(export_request(spans, {"service.name": "baton"}, ("baton", "1")))
    assert len(request["resourceSpans"][0]["scopeSpans"][0]["spans"]) == len(spans)
