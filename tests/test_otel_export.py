"""OpenTelemetry out: real runs through the engine and the simulated vendor over HTTP, exported
as OTLP JSON lines and read back: span names, parents, attributes and evaluation events."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from baton.engine import Matrix, run_matrix
from baton.errors import ConfigError
from baton.fixtures import load_tasks
from baton.otel.export import export_run_dir
from baton.otel.settings import OtelSettings, load_otel_settings
from baton.store import iter_results
from baton.systems import BUILTIN_SYSTEMS
from baton.vendor_config import builtin_profiles

pytestmark = pytest.mark.e2e
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "billing"


def read_spans(path: Path) -> list[dict]:
    """Every span of an OTLP JSON-lines file, with its resource attributes under ``_resource``."""
    spans = []
    for line in path.read_text().splitlines():
        for resource_spans in json.loads(line)["resourceSpans"]:
            for scope in resource_spans["scopeSpans"]:
                for span in scope["spans"]:
                    spans.append(span)
    return spans


def attrs(node: dict) -> dict:
    out = {}
    for kv in node.get("attributes", []):
        value = kv["value"]
        (kind, raw), = value.items()
        if kind == "arrayValue":
            raw = [next(iter(v.values())) for v in raw.get("values", [])]
        elif kind == "intValue":
            raw = int(raw)
        out[kv["key"]] = raw
    return out


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tasks = load_tasks(FIXTURES)[:4]
    out = tmp_path_factory.mktemp("otel") / "run"
    matrix = Matrix(tasks=tasks, systems=[BUILTIN_SYSTEMS["naive"], BUILTIN_SYSTEMS["multi_agent"]],
                    vendors=["sim-frontier"], trials=1, seed=5)
    import asyncio

    asyncio.run(run_matrix(matrix, profiles=builtin_profiles(), run_dir=out, concurrency=4,
                           cache_dir=out.parent / "cache", grade_worker=False))
    return out


def test_every_run_is_a_trace_with_hop_spans_and_grades(run_dir, tmp_path):
    results = list(iter_results(run_dir))
    path = tmp_path / "spans.jsonl"
    sent = export_run_dir(run_dir, OtelSettings(file=path))
    spans = read_spans(path)
    assert sent == len(spans) == sum(1 + len(r.trace.hops) for r in results)

    by_trace: dict[str, list[dict]] = {}
    for span in spans:
        by_trace.setdefault(span["traceId"], []).append(span)
    assert len(by_trace) == len(results)
    for result in results:
        roots = [s for trace_spans in by_trace.values() for s in trace_spans
                 if not s.get("parentSpanId") and attrs(s)["baton.task.id"] == result.key.task_id
                 and attrs(s)["baton.system"] == result.key.system]
        assert len(roots) == 1
        root = roots[0]
        ra = attrs(root)
        assert root["name"] == f"invoke_workflow {result.key.system}"
        assert ra["gen_ai.operation.name"] == "invoke_workflow"
        assert (ra["baton.trial"], ra["baton.seed"], ra["baton.mode"], ra["baton.vendor"]) == \
            (result.key.trial, result.seed, "system", "sim-frontier")
        assert ra["baton.gold.version"] == result.key.task_version
        assert ra["baton.simulated"] is True
        assert ra["baton.answer"] == result.trace.answer
        success = [e for e in root["events"] if attrs(e)["gen_ai.evaluation.name"] == "baton.system_success"]
        assert [attrs(e)["gen_ai.evaluation.score.label"] for e in success] == [result.status]
        assert all(e["name"] == "gen_ai.evaluation.result" for e in root["events"])

        children = [s for s in by_trace[root["traceId"]] if s.get("parentSpanId")]
        assert all(c["parentSpanId"] == root["spanId"] for c in children)
        assert len(children) == len(result.trace.hops)
        # hop spans in trace order, inside the root's time window
        children.sort(key=lambda s: int(s["startTimeUnixNano"]))
        assert int(root["startTimeUnixNano"]) <= int(children[0]["startTimeUnixNano"])
        assert all(int(c["endTimeUnixNano"]) <= int(root["endTimeUnixNano"]) for c in children)
        for span, hop in zip(children, result.trace.hops, strict=True):
            sa = attrs(span)
            assert sa["baton.hop.name"] == hop.name and sa["baton.hop.kind"] == hop.kind
            if hop.kind == "tool":
                assert span["name"] == f"execute_tool {hop.output['name']}"
                assert sa["gen_ai.tool.name"] == hop.output["name"]
                assert json.loads(sa["gen_ai.tool.call.arguments"]) == hop.output["arguments"]
            elif hop.kind == "retrieve":
                assert sa["gen_ai.operation.name"] == "retrieval"
                assert sa["baton.retrieval.doc_ids"] == hop.output["doc_ids"]
            else:
                assert sa["gen_ai.operation.name"] == "chat" and span["name"].startswith("chat ")
                assert sa["gen_ai.usage.input_tokens"] == hop.usage.input_tokens > 0
                assert sa["gen_ai.request.model"] == hop.model
                assert float(sa["baton.cost_usd"]) == pytest.approx(hop.usage.cost_usd)
        # each component grade sits on the span of the hop it judges
        if result.key.system == "multi_agent":
            route_span = next(s for s in children if attrs(s)["baton.hop.kind"] == "route")
            names = [attrs(e)["gen_ai.evaluation.name"] for e in route_span.get("events", [])]
            assert "baton.component.route" in names
            route = result.grade.components["route"]
            event = next(e for e in route_span["events"]
                         if attrs(e)["gen_ai.evaluation.name"] == "baton.component.route")
            assert attrs(event)["gen_ai.evaluation.score.label"] == ("pass" if route.passed else "fail")


def test_export_ids_are_stable_and_content_can_be_left_out(run_dir, tmp_path):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    export_run_dir(run_dir, OtelSettings(file=first))
    export_run_dir(run_dir, OtelSettings(file=second, content=False))
    ids = lambda p: sorted((s["traceId"], s["spanId"]) for s in read_spans(p))  # noqa: E731
    assert ids(first) == ids(second)
    lean = [attrs(s) for s in read_spans(second)]
    assert not any("baton.answer" in a or "gen_ai.tool.call.arguments" in a or "baton.hop.output" in a for a in lean)


def test_off_by_default_and_bad_settings_name_the_key(tmp_path):
    assert not load_otel_settings(tmp_path).enabled
    (tmp_path / "pyproject.toml").write_text('[tool.baton.otel]\nendpoint = "localhost:4318"\n')
    with pytest.raises(ConfigError, match=r"\[tool.baton.otel\]: endpoint: expected an http\(s\) URL"):
        load_otel_settings(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.baton.otel]\nfile = "s.jsonl"\nsampling = 1\n')
    with pytest.raises(ConfigError, match="unknown key.*sampling"):
        load_otel_settings(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.baton.otel]\nfile = "s.jsonl"\n')
    assert load_otel_settings(tmp_path).file == tmp_path / "s.jsonl"
    flag = load_otel_settings(tmp_path, endpoint="http://127.0.0.1:4318")
    assert flag.endpoint == "http://127.0.0.1:4318" and flag.file == tmp_path / "s.jsonl"


def test_otel_export_command(run_dir, tmp_path):
    out = tmp_path / "cli.jsonl"
    proc = subprocess.run([sys.executable, "-m", "baton.cli", "otel", "export", str(run_dir), "--project",
                           str(tmp_path), "--otel-file", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert len(read_spans(out)) == int(proc.stdout.split()[0])
    proc = subprocess.run([sys.executable, "-m", "baton.cli", "otel", "export", str(run_dir), "--project",
                           str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2 and "--otel-file PATH or --otel-endpoint URL" in proc.stderr
