"""OpenTelemetry in: a system graded from its exported spans gets the same grades as the same
runs traced natively; spans arrive by file or over OTLP/HTTP (protobuf) at the loopback receiver;
GenAI, OpenInference and OpenLLMetry dialects and user mappings become hops."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from baton.engine import Matrix, run_matrix
from baton.errors import BatonError, ConfigError
from baton.fixtures import load_tasks
from baton.otel.export import export_run_dir
from baton.otel.grade import grade_spans
from baton.otel.ingest import IngestSettings, OtelSpan, build_run, parse_ingest_table, read_span_file
from baton.otel.receiver import OtlpReceiver
from baton.otel.settings import OtelSettings
from baton.store import iter_results
from baton.systems import BUILTIN_SYSTEMS
from baton.vendor_config import builtin_profiles

pytestmark = pytest.mark.e2e
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture(scope="module")
def tasks():
    return load_tasks(FIXTURES)


@pytest.fixture(scope="module")
def native(tasks, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("native") / "run"
    # sim-small: the runs must include failures as well as passes (sim-frontier now passes all of these)
    matrix = Matrix(tasks=tasks[::3], systems=[BUILTIN_SYSTEMS["multi_agent"]], vendors=["sim-small"],
                    trials=2, seed=11)
    asyncio.run(run_matrix(matrix, profiles=builtin_profiles(), run_dir=run_dir, concurrency=8,
                           cache_dir=run_dir.parent / "cache", grade_worker=False))
    return run_dir


def grades(run_dir: Path) -> dict[tuple[str, int], tuple]:
    return {(r.key.task_id, r.key.trial): (r.status, r.grade.failure_category, r.grade.first_divergent_hop,
                                          [c.model_dump() for c in r.grade.checks],
                                          {k: v.model_dump() for k, v in r.grade.components.items()})
            for r in iter_results(run_dir)}


def test_graded_from_exported_spans_equals_native_grading(native, tasks, tmp_path):
    spans_file = tmp_path / "spans.jsonl"
    export_run_dir(native, OtelSettings(file=spans_file))
    summary = grade_spans(read_span_file(spans_file), tasks, run_dir=tmp_path / "from-spans",
                          system="multi_agent", vendor="sim-small")
    native_grades, span_grades = grades(native), grades(tmp_path / "from-spans")
    assert summary.completed == len(native_grades) > 10
    assert span_grades == native_grades
    passed = sum(1 for g in native_grades.values() if g[0] == "passed")
    assert 0 < passed < len(native_grades)  # both outcomes are compared, not only failures
    for original, rebuilt in zip(sorted(iter_results(native), key=lambda r: (r.key.task_id, r.key.trial)),
                                 sorted(iter_results(tmp_path / "from-spans"), key=lambda r: (r.key.task_id, r.key.trial)),
                                 strict=True):
        assert rebuilt.trace.final_state == original.trace.final_state
        assert [h.output for h in rebuilt.trace.hops] == [h.output for h in original.trace.hops]


def test_spans_over_otlp_http_protobuf_reach_the_receiver(native, tasks, tmp_path):
    expected = sum(1 + len(r.trace.hops) for r in iter_results(native))
    with OtlpReceiver() as receiver:
        sent = export_run_dir(native, OtelSettings(endpoint=receiver.endpoint))
        spans = receiver.wait_for(spans=expected)
    assert sent == expected == len(spans)
    grade_spans(spans, tasks, run_dir=tmp_path / "received", system="multi_agent", vendor="sim-small")
    assert grades(tmp_path / "received") == grades(native)


def span(name, attrs, *, sid, parent="r", start=1, error=None):
    return OtelSpan(trace_id="t", span_id=sid, parent_id=parent, name=name, start_ns=start, end_ns=start + 10,
                    attributes=attrs, error=error)


def test_dialects_and_user_mapping_become_hops(tasks):
    task = next(t for t in tasks if t.tools)
    tool = task.tools[0].name
    spans = [
        span("invoke_workflow support", {"baton.task.id": task.id, "gen_ai.operation.name": "invoke_workflow",
                                         "output.value": "final words"}, sid="r", parent=None, start=0),
        # OpenInference: an agent wrapping an LLM call and a retriever
        span("agent", {"openinference.span.kind": "AGENT"}, sid="a", start=1),
        span("ChatOpenAI", {"openinference.span.kind": "LLM", "llm.model_name": "m1", "llm.provider": "openai",
                            "llm.token_count.prompt": 12, "llm.token_count.completion": 3,
                            "llm.output_messages.0.message.content": "a draft"}, sid="l", parent="a", start=2),
        span("kb", {"openinference.span.kind": "RETRIEVER", "retrieval.documents.0.document.id": "doc-1",
                    "retrieval.documents.1.document.id": "doc-2"}, sid="k", parent="a", start=3),
        # GenAI conventions: a tool call
        span(f"execute_tool {tool}", {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool,
                                      "gen_ai.tool.call.arguments": "{}", "gen_ai.tool.call.result": "null"},
             sid="g", start=4),
        # OpenLLMetry: an LLM call named as a verifier
        span("verifier.chat", {"llm.request.type": "chat", "gen_ai.system": "openai",
                               "gen_ai.usage.prompt_tokens": 5, "gen_ai.usage.completion_tokens": 2,
                               "gen_ai.completion.0.content": '{"verdict": "pass"}'}, sid="v", start=5),
        # a custom span, mapped by the user
        span("pick-intent", {"app.intent": "billing"}, sid="c", start=6),
        span("HTTP GET", {"http.method": "GET"}, sid="h", start=7),
    ]
    settings = parse_ingest_table({"spans": {"pick-*": {"kind": "route", "name": "route",
                                                        "output": {"route": "app.intent"}}}}, "test")
    trace = build_run(spans, task, system="ext", settings=settings)
    assert [(h.kind, h.name) for h in trace.hops] == [("generate", "ChatOpenAI"), ("retrieve", "kb"),
                                                      ("tool", tool), ("verify", "verifier.chat"),
                                                      ("route", "route")]
    llm, kb, call, verify, route = trace.hops
    assert (llm.model, llm.vendor, llm.usage.input_tokens, llm.output["text"]) == ("m1", "openai", 12, "a draft")
    assert kb.output["doc_ids"] == ["doc-1", "doc-2"]
    assert call.output["name"] == tool and call.output["arguments"] == {}
    assert verify.output["verdict"] == "pass" and verify.usage.output_tokens == 2
    assert route.output["route"] == "billing"
    assert trace.answer == "final words" and trace.usage.input_tokens == 17


def test_bad_mappings_and_files_are_clear_errors(tmp_path, tasks):
    with pytest.raises(ConfigError, match=r"spans.'x': expected \{kind = one of"):
        parse_ingest_table({"spans": {"x": {"kind": "think"}}}, "[tool.baton.otel.ingest]")
    with pytest.raises(ConfigError, match="unknown key.*task_atribute"):
        parse_ingest_table({"task_atribute": "x"}, "[tool.baton.otel.ingest]")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"resourceSpans": []}\nnot json\n')
    with pytest.raises(BatonError, match=r"bad.jsonl:2: not JSON"):
        read_span_file(bad)
    bad.write_text('{"resourceSpans": []}\n')
    with pytest.raises(BatonError, match="no trace names a task"):
        grade_spans(read_span_file(bad), tasks, run_dir=tmp_path / "x", system="s", settings=IngestSettings())


def test_otel_grade_command_writes_a_reportable_run(native, tmp_path):
    import subprocess
    import sys

    spans_file = tmp_path / "spans.jsonl"
    export_run_dir(native, OtelSettings(file=spans_file))
    out = tmp_path / "graded"
    proc = subprocess.run([sys.executable, "-m", "baton.cli", "otel", "grade", str(spans_file), "--system", "ext",
                           "--vendor", "sim-small", "--tasks", str(FIXTURES), "--project", str(tmp_path),
                           "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert grades(out) == grades(native)
    assert {r.key.system for r in iter_results(out)} == {"ext"}
