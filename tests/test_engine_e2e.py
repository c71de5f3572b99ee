"""The engine with the real runners, graders and simulated vendor over loopback HTTP, grading
inline and in a worker process."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from baton.engine import Matrix, run_matrix
from baton.fixtures import load_tasks
from baton.progress import NullProgress
from baton.store import iter_results
from baton.systems import BUILTIN_SYSTEMS
from baton.vendor_config import builtin_profiles

pytestmark = pytest.mark.e2e
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "billing"


@pytest.fixture(scope="module")
def tasks():
    return load_tasks(FIXTURES)


def outcomes(run_dir: Path) -> dict[str, tuple]:
    return {r.key.as_str(): (r.status, r.seed, r.trace.answer, json.dumps(r.trace.final_state, sort_keys=True),
                             r.grade.model_dump_json()) for r in iter_results(run_dir)}


@pytest.mark.parametrize("fork", [True, False], ids=["forked-worker", "spawned-worker"])
async def test_worker_grading_matches_inline_grading(tasks, tmp_path, monkeypatch, fork):
    import baton.engine

    monkeypatch.setattr(baton.engine, "_can_fork", lambda: fork)
    started = []
    real_start = baton.engine._ProcessGrading.start

    async def spy_start(self, tasks, grader):
        await real_start(self, tasks, grader)
        started.append(self.start_method)

    monkeypatch.setattr(baton.engine._ProcessGrading, "start", spy_start)
    matrix = Matrix(tasks=tasks, systems=[BUILTIN_SYSTEMS["naive"], BUILTIN_SYSTEMS["rag"],
                                          BUILTIN_SYSTEMS["multi_agent"]], vendors=["sim-frontier"], trials=1, seed=3)
    profiles = builtin_profiles()
    inline = await run_matrix(matrix, profiles=profiles, run_dir=tmp_path / "inline", concurrency=8,
                              cache_dir=tmp_path / "cache", grade_worker=False)
    worker = await run_matrix(matrix, profiles=profiles, run_dir=tmp_path / "worker", concurrency=8,
                              cache_dir=tmp_path / "cache", grade_worker=True)
    assert inline.completed == worker.completed == len(matrix)
    assert (inline.passed, inline.failed, inline.errors) == (worker.passed, worker.failed, worker.errors)
    assert outcomes(tmp_path / "inline") == outcomes(tmp_path / "worker")
    assert worker.cached_calls == worker.calls > 0 and worker.cost_usd == 0
    assert inline.passed > 0  # the simulated frontier vendor does solve some tasks end to end
    assert started == (["fork"] if fork else ["spawn"])


class FirstStored(NullProgress):
    """Sets ``reached`` when the first results are durably stored (an event, not a clock)."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()

    def update(self, tally) -> None:
        if tally.done:
            self.reached.set()


async def test_cancel_with_worker_grading_keeps_what_finished(tasks, tmp_path):
    profiles = builtin_profiles()
    matrix = Matrix(tasks=tasks, systems=[BUILTIN_SYSTEMS["naive"]], vendors=["sim-frontier"], trials=20, seed=1)
    seen = []
    first_stored = FirstStored()
    run = asyncio.create_task(run_matrix(matrix, profiles=profiles, run_dir=tmp_path / "run", concurrency=4,
                                         use_cache=False, grade_worker=True, on_summary=seen.append,
                                         progress=first_stored))
    await asyncio.wait_for(first_stored.reached.wait(), timeout=120)  # 120 runs cannot finish in one loop turn
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    stored = list(iter_results(tmp_path / "run"))
    assert seen[-1].cancelled and len(stored) == seen[-1].completed > 0
    rest = await run_matrix(matrix, profiles=profiles, run_dir=tmp_path / "run", concurrency=8, use_cache=False,
                            grade_worker=False)
    assert rest.missing == 0 and rest.resumed == len(stored)
    keys = [r.key.as_str() for r in iter_results(tmp_path / "run")]
    assert len(keys) == len(set(keys)) == len(matrix)


@pytest.mark.parametrize("grade_worker", [False, True], ids=["inline", "worker"])
async def test_llm_judge_is_off_by_default_and_recorded_when_on(tasks, tmp_path, grade_worker):
    matrix = Matrix(tasks=[t for t in tasks if t.domain == "billing"][:2], systems=[BUILTIN_SYSTEMS["rag"]],
                    vendors=["sim-frontier"], trials=1, seed=2)
    profiles = builtin_profiles()
    plain = await run_matrix(matrix, profiles=profiles, run_dir=tmp_path / "plain", use_cache=False,
                             grade_worker=grade_worker)
    judged = await run_matrix(matrix, profiles=profiles, run_dir=tmp_path / "judged", use_cache=False,
                              grade_worker=grade_worker, judge="sim-small")
    assert plain.completed == judged.completed == 2
    assert all(r.grade.judge is None for r in iter_results(tmp_path / "plain"))
    for result in iter_results(tmp_path / "judged"):
        record = result.grade.judge
        assert record is not None and record["vendor"] == "sim-small" and record["prompt"]
        assert record["verdict"] is not None or record["error"]
    # the judge never changes the graders' verdict
    assert {r.key.as_str(): r.status for r in iter_results(tmp_path / "plain")} == \
        {r.key.as_str(): r.status for r in iter_results(tmp_path / "judged")}


async def test_unknown_judge_vendor_is_a_clear_error(tasks, tmp_path):
    from baton.errors import BatonError

    matrix = Matrix(tasks=tasks[:1], systems=[BUILTIN_SYSTEMS["naive"]], vendors=["sim-frontier"])
    with pytest.raises(BatonError, match="--judge: unknown vendor profile 'nope'"):
        await run_matrix(matrix, profiles=builtin_profiles(), run_dir=tmp_path / "r", judge="nope")
