"""Resume semantics of the append-only store: a run redone on resume appends a new record, and
the latest record of a key wins for every reader; infrastructure errors are retried unless kept."""

from __future__ import annotations

from pathlib import Path

from baton.manifest import build_config, build_manifest
from baton.result import RunGrade, RunKey, RunResult
from baton.store import RESULTS_FILE, ResultStore, iter_results, scan_results
from baton.systems import BUILTIN_SYSTEMS
from baton.trace import Trace, Usage
from baton.vendors import VendorProfile


def manifest():
    vendor = VendorProfile(name="v1", kind="sim", model="m")
    config = build_config([], [BUILTIN_SYSTEMS["naive"]], [vendor], trials=1, seed=0, modes=["system"])
    return build_manifest(config, total_runs=2)


def line(task_id: str, status: str, cost: float) -> bytes:
    key = RunKey(task_id=task_id, task_version=1, system="naive", vendor="v1", trial=0)
    trace = Trace(task_id=task_id, task_version=1, system="naive", architecture="naive", trial=0,
                  infra_error="vendor down" if status == "error" else None, usage=Usage(cost_usd=cost, calls=1))
    record = RunResult(key=key, seed=1, status=status, simulated=True, grade=RunGrade(status=status), trace=trace,
                       usage=trace.usage, latency_s=0.1, finished_at="2026-01-01T00:00:00+00:00")
    return record.model_dump_json().encode() + b"\n"


def test_a_retried_error_is_superseded_by_its_new_record(tmp_path: Path):
    with ResultStore.open(tmp_path, manifest()) as store:
        store.append(line("a/x", "error", 0.0) + line("a/y", "passed", 1.0))
    with ResultStore.open(tmp_path, manifest(), retry_errors=False) as store:
        assert len(store.finished_keys()) == 2 and store.scan.statuses["error"] == 1
    with ResultStore.open(tmp_path, manifest(), retry_errors=True) as store:
        assert [k for k in store.finished_keys() if "a/x" in k] == []  # a/x runs again
        assert len(store.finished_keys()) == 1
        store.append(line("a/x", "failed", 2.0))
    scan = scan_results(tmp_path / RESULTS_FILE)
    assert scan.lines == 3 and scan.count == 2
    assert scan.statuses == {"passed": 1, "failed": 1} and scan.cost_usd == 3.0
    assert sorted((r.key.task_id, r.status) for r in iter_results(tmp_path)) == [("a/x", "failed"), ("a/y", "passed")]
