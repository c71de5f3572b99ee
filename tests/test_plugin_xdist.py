"""The pytest gate under pytest-xdist: one matrix run shared by the workers, results equal to a
serial run's, gates evaluated once on the controller."""

from __future__ import annotations

import json
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

# Kept loaded across pytester's in-process runs (C extensions break when imported again).
import baton.engine  # noqa: F401
import baton.fixtures  # noqa: F401
import baton.gates  # noqa: F401
import baton.reports.write  # noqa: F401

pytest_plugins = ["pytester"]

BILLING = Path(__file__).resolve().parents[1] / "fixtures" / "billing"


def plugin_args() -> list[str]:
    return [] if metadata.entry_points(group="pytest11", name="baton") else ["-p", "baton.pytest_plugin"]


def stored(run_dir: Path) -> list[tuple[str, str, str, str | None]]:
    rows = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    return sorted((r["key"]["task_id"], r["key"]["system"], r["status"], r["grade"]["failure_category"])
                  for r in rows)


def test_xdist_gives_the_same_results_as_a_serial_run(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", pyproject=textwrap.dedent(f"""
        [tool.pytest.ini_options]
        addopts = "-p no:cacheprovider -p no:benchmark"
        asyncio_default_fixture_loop_scope = "function"
        baton_tasks = "{BILLING.as_posix()}"
        baton_systems = "naive,rag"
        baton_no_cache = true

        [[tool.baton.gates]]
        system = "rag"
        min_success_lower_bound = 1.0
        """))
    pytester.makepyfile(test_golden="def test_golden_set(baton_case):\n    baton_case.check()\n")
    serial = pytester.runpytest(*plugin_args(), "--baton-run-dir=serial", "-rA")
    # No --baton-run-dir: the controller names the run directory and hands it to the workers.
    parallel = pytester.runpytest(*plugin_args(), "-n", "2", "-rA")
    for result in (serial, parallel):
        assert result.ret == pytest.ExitCode.TESTS_FAILED  # the gate, evaluated once
        result.stdout.fnmatch_lines(["runs: 12/12 runs, *", "FAILED gate rag @ sim-frontier*min_success_lower_bound*", "gates: 1 failed, 0 passed"])
        assert result.stdout.str().count("baton report card") == 1
    assert serial.parseoutcomes() == parallel.parseoutcomes()

    def item_outcomes(result: pytest.RunResult) -> list[str]:
        return sorted(line.split(" - ")[0] for line in result.stdout.lines
                      if line.startswith(("PASSED ", "XFAIL ", "SKIPPED ", "FAILED test_golden")))

    assert item_outcomes(serial) == item_outcomes(parallel)
    assert len(item_outcomes(serial)) == 12
    run_dirs = list((pytester.path / "reports").iterdir())
    assert len(run_dirs) == 1, run_dirs  # one run directory shared by both workers
    serial_rows, parallel_rows = stored(pytester.path / "serial"), stored(run_dirs[0])
    assert len(parallel_rows) == 12  # one matrix run: no key stored twice
    assert serial_rows == parallel_rows
    assert json.loads((pytester.path / "serial" / "gates.json").read_text()) == \
        json.loads((run_dirs[0] / "gates.json").read_text())
