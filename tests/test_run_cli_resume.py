"""``baton run`` end to end in a subprocess: real fixtures, runners, graders and the simulated vendor
over loopback HTTP. SIGKILL mid-run then ``--resume`` gives the uninterrupted result set.

No test races the clock: the interrupted runs reach the simulated vendor through a gate
(tests/stub_vendor.py) that lets a fixed number of model calls through and holds the rest, and
the signal is sent once every lane of the run is held there — so the run can neither finish
before the signal nor depend on how fast the machine is."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = """
[tool.baton.vendors.sim-slow]
kind = "sim"
model = "sim-slow"
max_concurrency = 4
price_input_per_mtok = 1.0
price_output_per_mtok = 2.0

[tool.baton.vendors.sim-slow.sim]
latency_ms = 25
dropped_fact = 0.2
wrong_label = 0.2

[tool.baton.run]
tasks = "fixtures"
systems = ["naive", "rag"]
vendors = ["sim-slow"]
trials = 4
seed = 11
concurrency = 2
"""

pytestmark = pytest.mark.e2e
CONCURRENCY = 2  # [tool.baton.run] concurrency above: the runs in flight at once


import stub_vendor  # noqa: E402 - tests/ is on sys.path (conftest.py)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "fixtures" / "billing", tmp_path / "fixtures" / "billing")
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    return tmp_path


@pytest.fixture
def gate(project: Path) -> Iterator[object]:
    """The simulated vendor (sim-slow's knobs) served here, behind a gate the project's profile
    points at."""
    from baton.sim.server import SimServer
    from baton.vendor_config import load_profiles

    profile = load_profiles(project)["sim-slow"]
    with SimServer.from_profiles({"sim-slow": profile}) as sim, stub_vendor.StubVendor(upstream=sim.base_url) as gate:
        (project / "pyproject.toml").write_text(
            PYPROJECT.replace('kind = "sim"\n', f'kind = "sim"\nbase_url = "{gate.base_url}"\n', 1))
        yield gate


def stop_when_held(gate, proc: subprocess.Popen[str], run_dir: Path) -> None:
    """Wait (on the gate's count, not a clock) until every lane of the run is held at the gate,
    then until at least one finished run is stored."""
    assert gate.wait_held(CONCURRENCY), proc.poll()
    deadline = time.monotonic() + 120  # a hang detector only: the results are due at once
    while not lines(run_dir):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no result stored although the run is held"
        time.sleep(0.01)  # paces the wait on a count; nothing depends on how long it takes


def baton(project: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "baton.cli", "run", "--project", str(project),
                             "--cache-dir", str(project / "cache"), *args],
                            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)


def _default_sigint() -> None:
    """Ctrl-C as a terminal delivers it: a test session started in the background by a
    non-interactive shell inherits SIGINT *ignored*, and so would the run under test (Python then
    installs no KeyboardInterrupt handler), so the signal the test sends would do nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def cli(project: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``baton run`` in this process (fast; for what needs no kill)."""
    from baton.cli import main

    code = main(["run", "--project", str(project), "--cache-dir", str(project / "cache"), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def lines(run_dir: Path) -> list[bytes]:
    path = run_dir / "results.jsonl"
    return path.read_bytes().splitlines(keepends=True) if path.exists() else []


def outcomes(run_dir: Path) -> dict[str, tuple]:
    """key -> what a run produced (status, answer, final state, grade checks), latency left out."""
    out: dict[str, tuple] = {}
    for raw in lines(run_dir):
        record = json.loads(raw)
        key = record["key"]
        name = f"{key['task_id']}|{key['system']}|{key['vendor']}|{key['mode']}|{key['trial']}"
        assert name not in out, f"duplicate key {name}"
        out[name] = (record["status"], record["seed"], record["trace"]["answer"],
                     json.dumps(record["trace"]["final_state"], sort_keys=True),
                     json.dumps(record["grade"]["checks"], sort_keys=True))
    return out


def test_sigkill_then_resume_equals_an_uninterrupted_run(project: Path, gate):
    total = 6 * 2 * 4  # billing tasks x systems x trials
    reference = project / "reference"
    code, out, err = finish(baton(project, "--out", str(reference), "--no-cache"))
    assert code == 0, err
    assert f"{total}/{total} runs" in out and str(reference) in out
    expected = outcomes(reference)
    assert len(expected) == total
    calls = gate.requests
    assert calls >= total

    run_dir = project / "killed"
    gate.hold_after(calls // 4)  # about a quarter of the model calls, then the gate holds
    proc = baton(project, "--out", str(run_dir), "--no-cache")
    stop_when_held(gate, proc, run_dir)
    proc.send_signal(signal.SIGKILL)
    proc.wait(60)
    gate.open()
    kept = len(lines(run_dir))
    assert 0 < kept < total
    # A half-written record, as a kill during a write leaves it.
    with (run_dir / "results.jsonl").open("ab") as fh:
        fh.write(lines(reference)[-1][:80])

    code, out, err = finish(baton(project, "--resume", str(run_dir), "--no-cache"))
    assert code == 0, err
    assert "dropped a damaged tail" in err
    assert f"{total}/{total} runs" in out and f"{kept} from earlier sessions" in out
    assert outcomes(run_dir) == expected

    code, out, err = finish(baton(project, "--resume", str(run_dir), "--trials", "5"))
    assert code == 2
    assert "trials: 4 -> 5" in err and "Traceback" not in err


def test_ctrl_c_keeps_finished_results_and_resume_completes(project: Path, gate):
    run_dir = project / "interrupted"
    gate.hold_after(24)  # 48 runs need at least 48 calls: the run cannot finish before the signal
    proc = baton(project, "--out", str(run_dir))
    stop_when_held(gate, proc, run_dir)
    proc.send_signal(signal.SIGINT)
    code, out, err = finish(proc)
    gate.open()
    assert code == 130, err
    assert "interrupted" in out and f"baton run --resume {run_dir}" in err
    stored = outcomes(run_dir)
    assert 0 < len(stored) < 48
    assert f"{len(stored)}/48 runs" in out
    code, out, err = finish(baton(project, "--resume", str(run_dir)))
    assert code == 0, err
    assert len(outcomes(run_dir)) == 48


def test_cache_makes_a_second_run_free(project: Path, capsys):
    code, out, _ = cli(project, capsys, "--out", str(project / "first"), "--trials", "1", "--systems", "naive")
    assert code == 0 and "0/6 calls cached" in out
    code, out, _ = cli(project, capsys, "--out", str(project / "second"), "--trials", "1", "--systems", "naive")
    assert code == 0 and "6/6 calls cached" in out and "$0.0000" in out
    second = [json.loads(raw) for raw in lines(project / "second")]
    assert all(r["usage"]["cost_usd"] == 0 and r["usage"]["cached_calls"] == 1 for r in second)
    assert outcomes(project / "first") == outcomes(project / "second")
    code, out, _ = cli(project, capsys, "--out", str(project / "third"), "--trials", "1", "--systems", "naive",
                       "--no-cache")
    assert code == 0 and "0/6 calls cached" in out


@pytest.mark.parametrize("args, message", [
    (["--vendors", "nope"], "unknown vendor profile 'nope'"),
    (["--systems", "naive,missing"], "unknown system 'missing'"),
    (["--modes", "isolated:nothing"], "--modes: unknown mode 'isolated:nothing'"),
    (["--task-filter", "zzz/*"], "task filter 'zzz/*' matches none"),
    (["--trials", "0"], "--trials: expected an integer >= 1"),
    (["--tasks", "missing-dir"], "does not exist"),
    (["--modes", "isolated:route", "--systems", "naive"], "none of the systems (naive) supports"),
])
def test_bad_input_is_one_clear_error(project: Path, capsys, args: list[str], message: str):
    code, _, err = cli(project, capsys, *args)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_bad_settings_name_the_file_and_key(project: Path, capsys):
    (project / "pyproject.toml").write_text(PYPROJECT + "trails = 3\n")
    code, _, err = cli(project, capsys)
    assert code == 2 and "[tool.baton.run]: unknown setting(s) trails" in err


def test_existing_run_directory_needs_resume_and_timestamped_default(project: Path, capsys, monkeypatch):
    monkeypatch.chdir(project)
    code, out, _ = cli(project, capsys, "--trials", "1", "--systems", "naive")
    assert code == 0
    (run_dir,) = (project / "reports").iterdir()
    assert f"run directory: {run_dir}" in out
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["invocation"]["vendors"] == ["sim-slow"]
    assert manifest["config"]["seed"] == 11 and manifest["config"]["trials"] == 1
    assert [s["name"] for s in manifest["config"]["systems"]] == ["naive"]
    assert os.path.isabs(manifest["invocation"]["tasks"])
    code, _, err = cli(project, capsys, "--out", str(run_dir))
    assert code == 2 and f"use --resume {run_dir}" in err
