"""The run engine on an injected fake runner and grader: scheduling, limits, resume, cancellation."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from baton.engine import Matrix, RunSummary, run_matrix, run_matrix_sync
from baton.errors import BatonError
from baton.fixtures import load_tasks
from baton.matrix import derive_seed
from baton.progress import NullProgress
from baton.result import RunGrade
from baton.store import iter_results
from baton.systems import BUILTIN_SYSTEMS, SystemConfig
from baton.trace import Trace, Usage
from baton.vendors import VendorProfile

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "billing"


@pytest.fixture(scope="module")
def tasks():
    return load_tasks(FIXTURES)


def profiles(**limits: int) -> dict[str, VendorProfile]:
    return {name: VendorProfile(name=name, kind="sim", model=f"{name}-model", max_concurrency=limit)
            for name, limit in limits.items()}


class FakeRunner:
    """Records concurrency and the order runs finish in. No clock: a vendor's runs wait on
    ``gates[vendor]`` (an event the test sets) when it has one, and every run after the first
    ``hold_after`` runs waits forever (until cancelled), so a test can stop a run after exactly N."""

    def __init__(self, gates: dict[str, asyncio.Event] | None = None, fail_on: set[str] | None = None,
                 hold_after: int | None = None) -> None:
        self.gates = gates or {}
        self.fail_on = fail_on or set()
        self.hold_after = hold_after
        self.active: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.peak_total = 0
        self.finished: list[str] = []
        self.calls = 0

    async def __call__(self, task, system, vendor, *, clients, trial, seed, mode) -> Trace:
        self.calls += 1
        self.active[vendor] += 1
        self.peak[vendor] = max(self.peak[vendor], self.active[vendor])
        self.peak_total = max(self.peak_total, sum(self.active.values()))
        try:
            if self.hold_after is not None and self.calls > self.hold_after:
                await asyncio.Event().wait()  # held until cancelled
            if vendor in self.gates:
                await self.gates[vendor].wait()
            await asyncio.sleep(0)  # one event-loop turn, as a real call has
        finally:
            self.active[vendor] -= 1
        if task.id in self.fail_on:
            raise RuntimeError(f"boom on {task.id}")
        self.finished.append(vendor)
        return Trace(task_id=task.id, task_version=task.version, system=system.name,
                     architecture=system.architecture, vendors={"answerer": vendor}, simulated=True,
                     trial=trial, seed=seed, mode=mode, answer=f"answer {seed}",
                     usage=Usage(input_tokens=10, output_tokens=5, cost_usd=0.001, calls=1))


def fake_grader(task, trace: Trace) -> RunGrade:
    if trace.infra_error:
        return RunGrade(status="error")
    return RunGrade(status="passed" if trace.seed % 2 else "failed")


def matrix(tasks, vendors=("v1",), trials=2, systems=("naive", "rag")) -> Matrix:
    return Matrix(tasks=tasks, systems=[BUILTIN_SYSTEMS[s] for s in systems], vendors=list(vendors),
                  trials=trials, seed=7)


async def test_runs_every_cell_once_and_stores_it(tasks, tmp_path):
    m = matrix(tasks, vendors=("v1", "v2"))
    runner = FakeRunner()
    summary = await run_matrix(m, profiles=profiles(v1=4, v2=4), run_dir=tmp_path / "run", concurrency=8,
                               runner=runner, grader=fake_grader, clients=object())
    results = list(iter_results(tmp_path / "run"))
    keys = [r.key.as_str() for r in results]
    assert len(keys) == len(set(keys)) == len(m) == summary.total == summary.completed
    assert summary.passed + summary.failed == len(m) and summary.errors == 0
    assert summary.cost_usd == pytest.approx(0.001 * len(m))
    for r in results:
        assert r.seed == derive_seed(7, r.key.task_id, r.key.system, r.key.vendor, r.key.trial)
        assert r.trace.seed == r.seed and r.status == fake_grader(None, r.trace).status
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["total_runs"] == len(m)
    assert [t["id"] for t in manifest["config"]["tasks"]] == [t.id for t in tasks]


async def test_seeds_are_deterministic_and_distinct():
    assert derive_seed(1, "a/b", "naive", "v", 0) == derive_seed(1, "a/b", "naive", "v", 0)
    seeds = {derive_seed(1, "a/b", "naive", "v", t) for t in range(50)}
    assert len(seeds) == 50
    assert derive_seed(1, "a/b", "naive", "v", 0) != derive_seed(2, "a/b", "naive", "v", 0)


class FullPool(FakeRunner):
    """Holds every run until ``size`` runs are in flight at once, then lets all go."""

    def __init__(self, size: int) -> None:
        self.full = asyncio.Event()
        super().__init__(gates={"v1": self.full, "v2": self.full})
        self.size = size

    async def __call__(self, task, system, vendor, **kw) -> Trace:
        if sum(self.active.values()) + 1 >= self.size:
            self.full.set()
        return await super().__call__(task, system, vendor, **kw)


async def test_global_and_per_vendor_limits_hold(tasks, tmp_path):
    m = matrix(tasks, vendors=("v1", "v2"), trials=3)
    runner = FullPool(size=6)
    await asyncio.wait_for(run_matrix(m, profiles=profiles(v1=2, v2=10), run_dir=tmp_path / "run", concurrency=6,
                                      runner=runner, grader=fake_grader, clients=object()), timeout=120)
    assert runner.peak["v1"] == 2
    assert runner.peak_total == 6
    assert runner.calls == len(m)


class StalledVendor(FakeRunner):
    """The "slow" vendor's runs hang until every "fast" run has finished: if the fast vendor
    queued behind the slow one, the run could never finish."""

    def __init__(self, fast_runs: int) -> None:
        self.slow_gate = asyncio.Event()
        super().__init__(gates={"slow": self.slow_gate})
        self.fast_runs = fast_runs

    async def __call__(self, task, system, vendor, **kw) -> Trace:
        trace = await super().__call__(task, system, vendor, **kw)
        if self.finished.count("fast") == self.fast_runs:
            self.slow_gate.set()
        return trace


async def test_slow_vendor_does_not_stall_the_others(tasks, tmp_path):
    m = matrix(tasks, vendors=("slow", "fast"), trials=2, systems=("naive",))
    fast_runs = len(tasks) * 2
    runner = StalledVendor(fast_runs)
    await asyncio.wait_for(run_matrix(m, profiles=profiles(slow=2, fast=8), run_dir=tmp_path / "run",
                                      concurrency=8, runner=runner, grader=fake_grader, clients=object()),
                           timeout=120)  # a deadlock guard, never reached when the scheduler is right
    assert runner.finished[:fast_runs] == ["fast"] * fast_runs  # every fast run finished while slow ones hung
    assert runner.peak["slow"] == 2 and len(runner.finished) == len(m)


async def test_concurrency_is_bounded_on_a_large_matrix(tasks, tmp_path):
    m = matrix(tasks, trials=200, systems=("naive",))  # 200 runs per task
    runner = FakeRunner()
    created = []
    original = asyncio.create_task

    def counting_create_task(coro, **kw):
        created.append(len(asyncio.all_tasks()))
        return original(coro, **kw)

    asyncio.create_task = counting_create_task  # type: ignore[assignment]
    try:
        summary = await run_matrix(m, profiles=profiles(v1=16), run_dir=tmp_path / "run", concurrency=10,
                                   runner=runner, grader=fake_grader, clients=object())
    finally:
        asyncio.create_task = original  # type: ignore[assignment]
    assert summary.completed == len(m) >= 1000
    assert max(created) <= 10 + 4  # the pool, the writer, the test's own task, a writer thread hop


async def test_resume_completes_only_what_is_missing(tasks, tmp_path):
    m = matrix(tasks, vendors=("v1", "v2"))
    run_dir = tmp_path / "run"
    first = FakeRunner(fail_on=set())
    summary = await run_matrix(Matrix(tasks=tasks[:5], systems=m.systems, vendors=m.vendors, trials=2, seed=7),
                               profiles=profiles(v1=4, v2=4), run_dir=tmp_path / "partial",
                               concurrency=4, runner=first, grader=fake_grader, clients=object())
    assert summary.completed == 5 * 2 * 2 * 2
    # Simulate an interrupted run: keep the first 17 lines of a full run's store.
    full = FakeRunner()
    await run_matrix(m, profiles=profiles(v1=4, v2=4), run_dir=run_dir, concurrency=4, runner=full,
                     grader=fake_grader, clients=object())
    lines = (run_dir / "results.jsonl").read_bytes().splitlines(keepends=True)
    (run_dir / "results.jsonl").write_bytes(b"".join(lines[:17]))
    again = FakeRunner()
    summary = await run_matrix(m, profiles=profiles(v1=4, v2=4), run_dir=run_dir, concurrency=4,
                               runner=again, grader=fake_grader, clients=object())
    assert again.calls == len(m) - 17
    assert summary.resumed == 17 and summary.completed == len(m) - 17 and summary.missing == 0
    keys = [r.key.as_str() for r in iter_results(run_dir)]
    assert len(keys) == len(set(keys)) == len(m)
    # A third call has nothing left to do and does not call the runner at all.
    idle = FakeRunner()
    summary = await run_matrix(m, profiles=profiles(v1=4, v2=4), run_dir=run_dir, concurrency=4,
                               runner=idle, grader=fake_grader, clients=object())
    assert idle.calls == 0 and summary.resumed == len(m) and summary.completed == 0


class StoredCount(NullProgress):
    """Sets ``reached`` once ``target`` results are durably stored."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.reached = asyncio.Event()

    def update(self, tally) -> None:
        if tally.done >= self.target:
            self.reached.set()


async def test_cancel_keeps_every_finished_result(tasks, tmp_path):
    m = matrix(tasks, trials=20, systems=("naive",))  # 20 runs per task, 4 at a time
    runner = FakeRunner(hold_after=10)  # 10 runs finish, every later one hangs: the matrix cannot finish
    stored_ten = StoredCount(10)
    seen: list[RunSummary] = []
    run = asyncio.create_task(run_matrix(m, profiles=profiles(v1=4), run_dir=tmp_path / "run", concurrency=4,
                                         runner=runner, grader=fake_grader, clients=object(),
                                         on_summary=seen.append, progress=stored_ten))
    await asyncio.wait_for(stored_ten.reached.wait(), timeout=120)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert seen and seen[-1].cancelled
    stored = list(iter_results(tmp_path / "run"))
    assert len(stored) == 10 < len(m)
    assert len(stored) == seen[-1].completed  # every acknowledged run is on disk, nothing else
    assert runner.calls - len(stored) <= 4  # only the runs in flight were lost
    rest = FakeRunner()
    summary = await run_matrix(m, profiles=profiles(v1=4), run_dir=tmp_path / "run", concurrency=4,
                               runner=rest, grader=fake_grader, clients=object())
    assert rest.calls == len(m) - len(stored) and summary.missing == 0
    keys = [r.key.as_str() for r in iter_results(tmp_path / "run")]
    assert len(keys) == len(set(keys)) == len(m)


def test_sync_wrapper_returns_the_summary(tasks, tmp_path):
    m = matrix(tasks, trials=1, systems=("naive",))
    summary = run_matrix_sync(m, profiles=profiles(v1=4), run_dir=tmp_path / "run", concurrency=4,
                              runner=FakeRunner(), grader=fake_grader, clients=object())
    assert summary.completed == len(tasks) and not summary.cancelled
    assert f"{len(tasks)}/{len(tasks)} runs" in summary.line()


def test_a_pass_rate_is_shown_only_for_one_system_mode_and_vendor(tasks, tmp_path):
    # A rate pooled over systems, vendors or isolated-hop runs is no system's success: counts only.
    def line(name: str, **kw) -> str:
        return run_matrix_sync(matrix(tasks, **kw), profiles=profiles(v1=4, v2=4), run_dir=tmp_path / name,
                               concurrency=4, runner=FakeRunner(), grader=fake_grader, clients=object()).line()

    one = line("one", trials=2, systems=("naive",))
    assert re.search(r", \d+ passed \(\d+\.\d%\), \d+ failed", one), one
    for name, kw in [("systems", {"systems": ("naive", "rag")}), ("vendors", {"vendors": ("v1", "v2"), "systems": ("naive",)})]:
        pooled = line(name, trials=2, **kw)
        assert "%" not in pooled and re.search(r", \d+ passed, \d+ failed", pooled), pooled


async def test_a_crashing_runner_is_recorded_as_an_infra_error(tasks, tmp_path, caplog):
    m = matrix(tasks, trials=1, systems=("naive",))
    runner = FakeRunner(fail_on={tasks[0].id})
    summary = await run_matrix(m, profiles=profiles(v1=4), run_dir=tmp_path / "run", concurrency=4,
                               runner=runner, grader=fake_grader, clients=object())
    assert summary.errors == 1 and summary.completed == len(tasks)
    crashed = [r for r in iter_results(tmp_path / "run") if r.key.task_id == tasks[0].id]
    assert crashed[0].status == "error"
    assert "RuntimeError: boom" in crashed[0].trace.infra_error
    assert "runner crashed" in caplog.text


async def test_a_grader_bug_stops_the_run_and_keeps_what_finished(tasks, tmp_path):
    m = matrix(tasks, trials=4, systems=("naive",))
    graded = []

    def grader(task, trace):
        if len(graded) == 10:
            raise ZeroDivisionError("grader bug")
        graded.append(task.id)
        return fake_grader(task, trace)

    with pytest.raises(ZeroDivisionError):
        await run_matrix(m, profiles=profiles(v1=1), run_dir=tmp_path / "run", concurrency=1,
                         runner=FakeRunner(), grader=grader, clients=object())
    assert len(list(iter_results(tmp_path / "run"))) == 10


async def test_unknown_vendor_and_changed_config_are_refused(tasks, tmp_path):
    m = matrix(tasks, vendors=("nope",))
    with pytest.raises(BatonError, match="unknown vendor profile 'nope'"):
        await run_matrix(m, profiles=profiles(v1=1), run_dir=tmp_path / "run", runner=FakeRunner(),
                         grader=fake_grader, clients=object())
    await run_matrix(matrix(tasks[:3], trials=1), profiles=profiles(v1=2), run_dir=tmp_path / "run",
                     runner=FakeRunner(), grader=fake_grader, clients=object())
    changed = Matrix(tasks=tasks[:4], systems=[BUILTIN_SYSTEMS["naive"], SystemConfig(name="rag", architecture="rag",
                                                                                     params={"top_k": 9})],
                     vendors=["v1"], trials=3, seed=7)
    with pytest.raises(BatonError) as err:
        await run_matrix(changed, profiles=profiles(v1=2), run_dir=tmp_path / "run", runner=FakeRunner(),
                         grader=fake_grader, clients=object())
    message = str(err.value)
    assert f"tasks added: {tasks[3].id}" in message
    assert "system 'rag' changed (params" in message
    assert "trials: 1 -> 3" in message


async def test_progress_is_rich_on_a_terminal_and_quiet_otherwise(tasks, tmp_path, monkeypatch):
    import io

    monkeypatch.setenv("COLUMNS", "200")
    from baton.progress import NullProgress, RichProgress, default_progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert isinstance(default_progress(io.StringIO()), NullProgress)
    terminal = Terminal()
    progress = default_progress(terminal)
    assert isinstance(progress, RichProgress)
    summary = await run_matrix(matrix(tasks, trials=1), profiles=profiles(v1=4), run_dir=tmp_path / "run",
                               runner=FakeRunner(), grader=fake_grader, clients=object(), progress=progress)
    shown = terminal.getvalue()
    assert f"{summary.total}/{summary.total}" in shown
    assert f"passed {summary.passed}" in shown and "infra errors 0" in shown and "$0.0" in shown


def test_worker_line_splices_the_trace_and_equals_the_inline_line(tasks):
    from baton.engine import result_line
    from baton.result import RunKey, RunResult

    trace = Trace(task_id=tasks[0].id, task_version=tasks[0].version, system="naive", architecture="naive",
                  seed=3, answer="text with \"quotes\" and é", usage=Usage(calls=1, cost_usd=0.5))
    key = RunKey(task_id=trace.task_id, task_version=trace.task_version, system="naive", vendor="v1", trial=0,
                 mode="system")
    inline, status, cost, calls, _ = result_line(tasks[0], trace, fake_grader, key, 3)
    spliced = result_line(tasks[0], trace, fake_grader, key, 3, trace.model_dump_json().encode())[0]
    assert spliced.endswith(b"\n") and spliced.count(b"\n") == 1
    first, second = json.loads(inline), json.loads(spliced)
    first.pop("finished_at"), second.pop("finished_at")
    assert first == second and list(second)[:2] == ["version", "key"]
    assert RunResult.model_validate_json(spliced).trace == trace
    assert (status, cost, calls) == ("passed", 0.5, 1)


async def test_run_task_builds_the_world_only_when_used(tasks, monkeypatch):
    from baton.model import ScriptedClient
    from baton.runners import run as run_module
    from baton.runners import run_task

    built = []
    real_world = run_module.World
    monkeypatch.setattr(run_module, "World", lambda task: built.append(task.id) or real_world(task))

    class Pool:
        def client(self, vendor):
            return ScriptedClient(lambda messages, options: "an answer", vendor=vendor)

    task = next(t for t in tasks if t.tools)
    trace = await run_task(task, BUILTIN_SYSTEMS["naive"], "v1", clients=Pool())
    assert built == [] and trace.answer == "an answer"
    assert trace.final_state == task.world.collections
