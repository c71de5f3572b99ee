"""OpenTelemetry export during the run: the exporter process follows the results file as the
engine appends to it, sends each run's spans while later runs are still going, and ends with
exactly the spans an export of the finished directory gives; a resumed run exports what it adds;
partial records (a batch being written, a zstd frame half on disk) wait for their end; failures
name the file and record; with export off nothing of OpenTelemetry is imported."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zstandard

from baton.engine import Matrix, run_matrix
from baton.errors import BatonError
from baton.fixtures import load_tasks
from baton.otel.export import export_run_dir
from baton.otel.settings import OtelSettings
from baton.otel.stream import StreamingExport, _Follower
from baton.runners import run_task
from baton.store import iter_results
from baton.systems import BUILTIN_SYSTEMS
from baton.vendor_config import builtin_profiles
from test_otel_export import attrs, read_spans

ROOT = Path(__file__).resolve().parent.parent
BILLING = ROOT / "fixtures" / "billing"


def spans_by_id(path: Path) -> dict[str, dict]:
    return {s["spanId"]: s for s in read_spans(path)}


def roots(path: Path) -> list[dict]:
    return [s for s in read_spans(path) if not s.get("parentSpanId")] if path.exists() else []


@pytest.mark.e2e
def test_runs_are_exported_while_the_run_goes_on(tmp_path):
    tasks = load_tasks(BILLING)[:3]
    spans_file, run_dir = tmp_path / "spans.jsonl", tmp_path / "run"
    exported_before_last: list[int] = []

    async def runner(task, system, vendor, **kwargs):
        if task.id == tasks[-1].id:  # the last run starts only once the first ones are exported
            deadline = time.monotonic() + 60  # a hang detector only
            while len(roots(spans_file)) < len(tasks) - 1:
                assert time.monotonic() < deadline, "earlier runs were not exported during the run"
                await asyncio.sleep(0.01)  # paces a wait on a count; nothing depends on how long
            exported_before_last.append(len(roots(spans_file)))
        return await run_task(task, system, vendor, **kwargs)

    matrix = Matrix(tasks=tasks, systems=[BUILTIN_SYSTEMS["multi_agent"]], vendors=["sim-frontier"], trials=1, seed=3)
    with StreamingExport(OtelSettings(file=spans_file), run_dir) as stream:
        asyncio.run(run_matrix(matrix, profiles=builtin_profiles(), run_dir=run_dir, concurrency=1,
                               cache_dir=tmp_path / "cache", grade_worker=False, runner=runner))
    assert exported_before_last == [len(tasks) - 1]
    after = tmp_path / "after.jsonl"
    assert stream.sent == export_run_dir(run_dir, OtelSettings(file=after)) == len(read_spans(spans_file))
    assert spans_by_id(spans_file) == spans_by_id(after)  # the same spans, ids, attributes and events
    assert {attrs(r)["baton.task.id"] for r in roots(spans_file)} == {t.id for t in tasks}


@pytest.mark.e2e
def test_a_resumed_run_exports_the_runs_it_adds(tmp_path):
    tasks = load_tasks(BILLING)[:4]
    run_dir = tmp_path / "run"
    matrix = Matrix(tasks=tasks, systems=[BUILTIN_SYSTEMS["naive"]], vendors=["sim-frontier"], trials=1, seed=4)

    def run() -> None:
        asyncio.run(run_matrix(matrix, profiles=builtin_profiles(), run_dir=run_dir, concurrency=2,
                               cache_dir=tmp_path / "cache", grade_worker=False))

    run()
    results = run_dir / "results.jsonl"
    kept = results.read_bytes().splitlines(keepends=True)[:2]
    results.write_bytes(b"".join(kept) + b'{"version":1,"key":{"task_id"')  # killed mid-write
    spans_file = tmp_path / "spans.jsonl"
    with StreamingExport(OtelSettings(file=spans_file), run_dir) as stream:
        run()
    kept_ids = {json.loads(line)["key"]["task_id"] for line in kept}
    exported = {attrs(r)["baton.task.id"] for r in roots(spans_file)}
    assert exported == {t.id for t in tasks} - kept_ids and len(exported) == 2
    assert stream.sent == len(read_spans(spans_file)) == 4
    assert len(list(iter_results(run_dir))) == 4


def test_the_follower_waits_for_whole_lines_and_frames(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    follower = _Follower(plain, None, 0)
    assert follower.read() == []  # no results file yet
    (plain / "results.jsonl").write_bytes(b'{"a":1}\n{"b":')
    assert follower.read() == [b'{"a":1}\n']
    with (plain / "results.jsonl").open("ab") as fh:
        fh.write(b'2}\n')
    assert follower.read() == [b'{"b":2}\n']
    assert follower.read() == []

    packed = tmp_path / "packed"
    packed.mkdir()
    (packed / "results.jsonl").write_bytes(b"")  # left empty; the store chose the compressed file
    follower = _Follower(packed, None, 0)
    assert follower.read() == []
    first = zstandard.ZstdCompressor().compress(b'{"a":1}\n{"a":2}\n')
    second = zstandard.ZstdCompressor().compress(b'{"b":3}\n')
    (packed / "results.jsonl.zst").write_bytes(first + second[:5])
    assert follower.read() == [b'{"a":1}\n', b'{"a":2}\n']
    with (packed / "results.jsonl.zst").open("ab") as fh:
        fh.write(second[5:])
    assert follower.read() == [b'{"b":3}\n']


@pytest.mark.e2e
def test_export_failures_are_clear_and_come_after_the_results_are_stored(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(BatonError, match=r"--otel-file: cannot write .*not-a-dir/spans.jsonl"):
        with StreamingExport(OtelSettings(file=blocker / "spans.jsonl"), tmp_path / "run"):
            raise AssertionError("the run must not start")

    run_dir = tmp_path / "run"
    tasks = load_tasks(BILLING)[:1]
    matrix = Matrix(tasks=tasks, systems=[BUILTIN_SYSTEMS["naive"]], vendors=["sim-frontier"], trials=1, seed=4)
    with pytest.raises(BatonError, match=r"results.jsonl: record 2: key: Field required"):
        with StreamingExport(OtelSettings(file=tmp_path / "spans.jsonl"), run_dir):
            asyncio.run(run_matrix(matrix, profiles=builtin_profiles(), run_dir=run_dir, concurrency=1,
                                   cache_dir=tmp_path / "cache", grade_worker=False))
            with (run_dir / "results.jsonl").open("ab") as fh:
                fh.write(b'{"version":1}\n')
    assert len(roots(tmp_path / "spans.jsonl")) == 1  # the valid run was still exported

    # an exporter that fails during the run has left by the end of it; its error still arrives
    later = tmp_path / "later"
    with pytest.raises(BatonError, match=r"results.jsonl: record 1: key: Field required"):
        with StreamingExport(OtelSettings(file=tmp_path / "later.jsonl"), later) as stream:
            later.mkdir()
            (later / "manifest.json").write_bytes((run_dir / "manifest.json").read_bytes())
            (later / "results.jsonl").write_bytes(b'{"version":1}\n')
            stream._proc.join(60)  # waits on the process, not a clock: 60 s is a hang detector
            assert stream._proc.exitcode == 0


@pytest.mark.e2e
def test_baton_run_streams_spans_and_imports_no_opentelemetry_when_off(tmp_path):
    def baton_run(out: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-X", "importtime", "-m", "baton.cli", "run", "--project", str(tmp_path),
                               "--tasks", str(BILLING), "--task-filter", "billing/refund-*", "--systems", "naive",
                               "--vendors", "sim-frontier", "--no-cache", "--out", str(tmp_path / out), *extra],
                              capture_output=True, text=True, cwd=tmp_path)

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'user-project'\n")
    off = baton_run("off")
    assert off.returncode in (0, 1), off.stderr[-2000:]  # 1: some runs failed their task, not an error
    imported = [line.rsplit("|", 1)[-1].strip() for line in off.stderr.splitlines() if line.startswith("import time:")]
    assert "baton.engine" in imported
    # Baton's export imports nothing: no SDK, exporter, protobuf or span building. (The MCP SDK
    # that serves tools imports opentelemetry-api for its own middleware, export on or off.)
    heavy = ("opentelemetry.sdk", "opentelemetry.exporter", "opentelemetry.proto", "google.protobuf")
    assert not [name for name in imported if name.startswith(heavy)]
    assert {name for name in imported if name.startswith("baton.otel")} == {"baton.otel", "baton.otel.settings"}
    assert "opentelemetry:" not in off.stderr

    on = baton_run("on", "--otel-file", str(tmp_path / "spans.jsonl"))
    assert on.returncode == off.returncode, on.stderr[-2000:]
    runs = list(iter_results(tmp_path / "on"))
    sent = sum(1 + len(r.trace.hops) for r in runs)
    assert f"opentelemetry: {sent} spans exported to {tmp_path / 'spans.jsonl'}" in on.stderr
    assert len(read_spans(tmp_path / "spans.jsonl")) == sent and len(roots(tmp_path / "spans.jsonl")) == len(runs) > 0


@pytest.mark.e2e
def test_streamed_to_an_otlp_http_endpoint(tmp_path):
    from baton.otel.receiver import OtlpReceiver

    tasks = load_tasks(BILLING)[:2]
    run_dir = tmp_path / "run"
    matrix = Matrix(tasks=tasks, systems=[BUILTIN_SYSTEMS["multi_agent"]], vendors=["sim-frontier"], trials=1, seed=6)
    with OtlpReceiver() as receiver:  # its server thread makes the exporter a spawned process
        with StreamingExport(OtelSettings(endpoint=receiver.endpoint), run_dir) as stream:
            asyncio.run(run_matrix(matrix, profiles=builtin_profiles(), run_dir=run_dir, concurrency=2,
                                   cache_dir=tmp_path / "cache", grade_worker=False))
        spans = receiver.wait_for(spans=stream.sent)
    expected = sum(1 + len(r.trace.hops) for r in iter_results(run_dir))
    assert stream.sent == expected == len(spans)
    assert {s.attributes["baton.task.id"] for s in spans if s.parent_id is None} == {t.id for t in tasks}
