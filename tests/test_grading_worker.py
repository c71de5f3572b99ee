"""The grading worker process (a standard ``ProcessPoolExecutor`` of one worker), by behaviour:
it leaves when its parent is killed with SIGKILL, ignores a terminal's Ctrl-C (the parent drains
what it sent, and the run directory resumes), and a grader that raises or a worker that dies is a
clear :class:`GradingWorkerError`, never a hang. That its results equal inline grading is
``test_engine_e2e.test_worker_grading_matches_inline_grading``.

No test races the clock: the worker's end is awaited on its pidfd (readable when it exits) and
on end-of-file of the stderr it shares with its parent; runs are held at a gate
(tests/stub_vendor.py) before the signal is sent."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from baton.engine import GradingWorkerError, Matrix, run_matrix
from baton.fixtures import load_tasks
from baton.graders import grade_run
from baton.store import iter_results
from baton.systems import BUILTIN_SYSTEMS
from baton.vendor_config import builtin_profiles

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures" / "billing"

pytestmark = pytest.mark.e2e

import stub_vendor  # noqa: E402 - tests/ is on sys.path (pytest's rootdir insertion)

STARTS_A_WORKER_THEN_WAITS = """
import asyncio, sys
from pathlib import Path
import baton.engine
from baton.fixtures import load_tasks
from baton.graders import grade_run

if sys.argv[1] == "spawn":
    baton.engine._can_fork = lambda: False

async def main():
    grading = baton.engine._ProcessGrading(on_done=lambda done: None, on_error=lambda exc: None)
    await grading.start(load_tasks(Path(sys.argv[2])), grade_run)
    print(grading.worker_pid, grading.start_method, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until it is killed

asyncio.run(main())
"""


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="waits on a pidfd (Linux)")
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_worker_exits_when_its_parent_is_killed(method: str) -> None:
    parent = subprocess.Popen([sys.executable, "-c", STARTS_A_WORKER_THEN_WAITS, method, str(FIXTURES)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert parent.stdout is not None and parent.stderr is not None
    pid_text, started = parent.stdout.readline().split()
    assert started == method
    worker = os.pidfd_open(int(pid_text))
    try:
        assert select.select([worker], [], [], 0)[0] == []  # alive while its parent is
        parent.kill()
        parent.wait(timeout=60)
        readable, _, _ = select.select([worker], [], [], 60)  # a hang detector only: it exits at once
        assert readable == [worker], "the grading worker outlived its parent"
    finally:
        os.close(worker)
    text = parent.stderr.read()  # end-of-file: every process holding the shared stderr has left
    assert "Traceback" not in text and "BrokenPipeError" not in text, text


def explode(task, trace):
    raise ValueError(f"grader bug on {task.id}")


def die(task, trace):
    os._exit(3)


@pytest.mark.parametrize(("grader", "message"), [
    (explode, r"(?s)grading failed in the worker process: ValueError: grader bug on .*Traceback"),
    (die, r"the grading worker exited unexpectedly with \d+ runs ungraded"),
], ids=["grader-raises", "worker-dies"])
async def test_a_failing_worker_is_a_clear_error(tmp_path: Path, grader, message: str) -> None:
    matrix = Matrix(tasks=load_tasks(FIXTURES)[:2], systems=[BUILTIN_SYSTEMS["naive"]], vendors=["sim-frontier"],
                    trials=2, seed=1)
    with pytest.raises(GradingWorkerError, match=message):
        await run_matrix(matrix, profiles=builtin_profiles(), run_dir=tmp_path / "run", use_cache=False,
                         grade_worker=True, grader=grader)


def fails_to_initialize(tasks, grader):
    raise RuntimeError("no worker today")


class RecordingProgress:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def start(self, tally) -> None:
        self.calls.append("start")

    def update(self, tally) -> None:
        pass

    def stop(self, tally) -> None:
        self.calls.append("stop")


async def test_a_worker_that_does_not_start_leaves_nothing_running(tmp_path: Path, monkeypatch) -> None:
    # The run ends with one clear error; the progress display is stopped (a terminal's cursor is
    # shown again) and the results writer has finished, not been left pending.
    import asyncio

    import baton.engine

    monkeypatch.setattr(baton.engine, "_init_grading_worker", fails_to_initialize)
    matrix = Matrix(tasks=load_tasks(FIXTURES)[:1], systems=[BUILTIN_SYSTEMS["naive"]], vendors=["sim-frontier"],
                    trials=1, seed=1)
    progress = RecordingProgress()
    with pytest.raises(GradingWorkerError, match="the grading worker did not start"):
        await run_matrix(matrix, profiles=builtin_profiles(), run_dir=tmp_path / "run", use_cache=False,
                         grade_worker=True, progress=progress)
    assert progress.calls == ["start", "stop"]
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


RUNS_WITH_A_WORKER = """
import json, sys
from pathlib import Path
import baton.engine
from baton.engine import Matrix, run_matrix_sync
from baton.fixtures import load_tasks
from baton.systems import BUILTIN_SYSTEMS
from baton.vendor_config import load_profiles

project = Path(sys.argv[1])
if sys.argv[2] == "spawn":
    baton.engine._can_fork = lambda: False
matrix = Matrix(tasks=load_tasks(project / "fixtures" / "billing"), systems=[BUILTIN_SYSTEMS["naive"]],
                vendors=["sim-slow"], trials=4, seed=11)
summary = run_matrix_sync(matrix, profiles=load_profiles(project), run_dir=project / "run", concurrency=2,
                          use_cache=False, grade_worker=True)
print(json.dumps({"cancelled": summary.cancelled, "resumed": summary.resumed, "completed": summary.completed,
                  "total": len(matrix)}))
"""

PYPROJECT = """
[tool.baton.vendors.sim-slow]
kind = "sim"
base_url = "{base_url}"
model = "sim-slow"
max_concurrency = 2
"""


def _default_sigint() -> None:
    """A new session (so the test can signal the run's whole process group, as a terminal's
    Ctrl-C does) with SIGINT at its default (a background shell may have left it ignored)."""
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_ctrl_c_reaches_the_worker_too_and_the_run_resumes(tmp_path: Path, method: str) -> None:
    from baton.sim.server import SimServer
    from baton.vendors import VendorProfile

    shutil.copytree(FIXTURES, tmp_path / "fixtures" / "billing")
    profile = VendorProfile(name="sim-slow", kind="sim", model="sim-slow", max_concurrency=2)
    with SimServer.from_profiles({"sim-slow": profile}) as sim, stub_vendor.StubVendor(upstream=sim.base_url) as gate:
        (tmp_path / "pyproject.toml").write_text(PYPROJECT.format(base_url=gate.base_url))
        gate.hold_after(6)  # 24 runs need 24 calls: the run cannot finish before the signal

        def start() -> subprocess.Popen[str]:
            return subprocess.Popen([sys.executable, "-c", RUNS_WITH_A_WORKER, str(tmp_path), method], cwd=tmp_path,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    preexec_fn=_default_sigint)

        run = start()
        assert gate.wait_held(2), run.poll()  # both lanes held: the run is stuck until the gate opens
        stored = tmp_path / "run" / "results.jsonl"
        deadline = time.monotonic() + 120  # a hang detector only: the first results are due at once
        while not (stored.exists() and stored.read_bytes()):
            assert run.poll() is None and time.monotonic() < deadline, run.communicate()
            time.sleep(0.01)  # paces the wait on a count; nothing depends on how long it takes
        os.killpg(run.pid, signal.SIGINT)  # the whole group, worker included, as Ctrl-C in a terminal
        out, err = run.communicate(timeout=120)  # end-of-file: the worker has left too
        gate.open()
        assert run.returncode == 0, err
        summary = json.loads(out)
        assert summary["cancelled"] and 0 < summary["completed"] < summary["total"], summary
        assert "Traceback" not in err, err
        kept = list(iter_results(tmp_path / "run"))
        assert len(kept) == summary["completed"]

        resumed = start()
        out, err = resumed.communicate(timeout=300)
        assert resumed.returncode == 0, err
        assert json.loads(out) == {"cancelled": False, "resumed": len(kept), "completed": 24 - len(kept), "total": 24}
        keys = [r.key.as_str() for r in iter_results(tmp_path / "run")]
        assert len(keys) == len(set(keys)) == 24
        assert [r.grade for r in kept] == [r.grade for r in iter_results(tmp_path / "run")][:len(kept)]
