"""The pytest gate end to end, through pytester: items and ids, outcomes, gates, exit status,
selection, configuration errors and inertness. Golden set: the billing fixtures on the
simulated vendor (naive system: one model call per run), so each inner session takes seconds."""

from __future__ import annotations

import json
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

# Loaded here so they stay loaded across pytester's in-process runs: pytester unloads what an
# inner run imported, and C extensions (PyYAML's loader, numpy) break when imported again.
import baton.client  # noqa: F401
import baton.engine  # noqa: F401
import baton.fixtures  # noqa: F401
import baton.gates  # noqa: F401
import baton.graders  # noqa: F401
import baton.reports.diff  # noqa: F401
import baton.reports.write  # noqa: F401
import baton.runners  # noqa: F401

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]
BILLING = REPO / "fixtures" / "billing"

BROKEN_VENDOR = """
[tool.baton.vendors.sim-broken]
kind = "sim"
model = "sim-broken"
price_input_per_mtok = 2.5
price_output_per_mtok = 10.0
structured_output = "json_schema"

[tool.baton.vendors.sim-broken.sim]
wrong_label = 1.0
wrong_argument = 1.0
dropped_fact = 1.0
"""

DOWN_VENDOR = """
[tool.baton.vendors.sim-down]
kind = "sim"
model = "sim-down"
retries = 0
structured_output = "json_schema"

[tool.baton.vendors.sim-down.sim]
rate_500 = 1.0
"""

EVAL_MODULE = """
def test_golden_set(baton_case):
    baton_case.check()
"""


def plugin_args() -> list[str]:
    """Load the plugin explicitly unless its pytest11 entry point is installed (then it loads itself)."""
    installed = metadata.entry_points(group="pytest11", name="baton")
    return [] if installed else ["-p", "baton.pytest_plugin"]


def make_project(pytester: pytest.Pytester, extra: str = "", *, task_filter: str | None = None,
                 systems: str = "naive") -> None:
    ini = [f'baton_tasks = "{BILLING.as_posix()}"', f'baton_systems = "{systems}"']
    if task_filter:
        ini.append(f'baton_task_filter = "{task_filter}"')
    pytester.makefile(".toml", pyproject=textwrap.dedent("""
        [tool.pytest.ini_options]
        addopts = "-p no:cacheprovider -p no:benchmark"
        asyncio_default_fixture_loop_scope = "function"
        {ini}
        """).format(ini="\n".join(ini)) + BROKEN_VENDOR + DOWN_VENDOR + textwrap.dedent(extra))
    pytester.makepyfile(test_golden=EVAL_MODULE)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*plugin_args(), *args)


def run_dir_of(pytester: pytest.Pytester) -> Path:
    dirs = [p for p in (pytester.path / "reports").iterdir() if p.is_dir()]
    assert len(dirs) == 1, dirs
    return dirs[0]


def result_lines(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]


def test_passing_gate_exits_zero_and_writes_the_run_directory(pytester: pytest.Pytester) -> None:
    make_project(pytester, """
        [[tool.baton.gates]]
        system = "naive"
        vendor = "sim-frontier"
        min_success = 0.0
        max_cost_per_task = 1.0
        max_p95_latency_s = 60
        max_error_rate = 0.5
        """, task_filter="billing/refund-*")
    result = run(pytester, "-rA")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*baton report card*", "*naive @ sim-frontier (sim)*passed*",
                                 "gates: 0 failed, 1 passed"])
    run_dir = run_dir_of(pytester)
    for name in ("manifest.json", "results.jsonl", "report.md", "report.html", "summary.md", "gates.json"):
        assert (run_dir / name).is_file(), name
    assert len(result_lines(run_dir)) == 3
    verdicts = json.loads((run_dir / "gates.json").read_text())
    assert [v["passed"] for v in verdicts] == [True]
    assert {c["name"] for c in verdicts[0]["checks"]} == {
        "min_success", "max_cost_per_task", "max_p95_latency_s", "max_error_rate"}
    assert (run_dir / "summary.md").read_text().startswith("## Baton gates")


def test_failing_threshold_exits_nonzero_naming_gate_measure_and_threshold(pytester: pytest.Pytester) -> None:
    make_project(pytester, """
        [[tool.baton.gates]]
        system = "naive"
        max_cost_per_task = 0.0
        """, task_filter="billing/refund-unauthorized-4471,billing/duplicate-charge-4467")
    # A Wilson lower bound is below 100% for any finite number of runs, so this gate fails.
    result = run(pytester, "--baton-no-cache", "--baton-gate=naive@sim-frontier:min_success_lower_bound=1")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "failed" not in result.parseoutcomes()  # no item failed: the gates set the exit status
    result.stdout.fnmatch_lines([
        "FAILED gate naive @ sim-frontier (pyproject.toml *tool.baton.gates* #1): max_cost_per_task: "
        "measured $0.0*, threshold <= $0.000000*",
        "FAILED gate naive @ sim-frontier (--baton-gate 'naive@sim-frontier:min_success_lower_bound=1'): "
        "min_success_lower_bound: measured *%, threshold >= 100.0% (95% Wilson interval*",
        "gates: 2 failed, 0 passed",
    ])
    summary = (run_dir_of(pytester) / "summary.md").read_text()
    assert "**2 gate checks failed**" in summary and "max\\_cost\\_per\\_task: FAILED" in summary


def test_task_failures_are_xfail_unless_strict(pytester: pytest.Pytester) -> None:
    make_project(pytester, task_filter="billing/refund-unauthorized-4471")
    result = run(pytester, "--baton-vendors=sim-broken", "-rx")
    assert result.ret == 0  # no gate: reported, not enforced
    result.assert_outcomes(xfailed=1)
    result.stdout.fnmatch_lines([
        "no gates declared*",
        "XFAIL test_golden.py::test_golden_set[[]billing/refund-unauthorized-4471|naive@sim-broken[]] - "
        "billing/refund-unauthorized-4471 on naive@sim-broken: 0/1 trials passed",
        "*trial 0: *, first divergent hop: *, failed checks: *",
    ])
    strict = run(pytester, "--baton-vendors=sim-broken", "--baton-strict")
    assert strict.ret == pytest.ExitCode.TESTS_FAILED
    strict.assert_outcomes(failed=1)
    strict.stdout.fnmatch_lines(["*0/1 trials passed*", "*failed checks:*"])


def test_infrastructure_errors_skip_items_and_count_against_max_error_rate(pytester: pytest.Pytester) -> None:
    make_project(pytester, task_filter="billing/refund-unauthorized-4471")
    result = run(pytester, "--baton-vendors=sim-down", "--baton-gate=naive:max_error_rate=0", "-rs")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines([
        "FAILED gate naive @ sim-down*max_error_rate: measured 100.0%, threshold <= 0.0% "
        "(1/1 runs were infrastructure errors)",
        "SKIPPED*billing/refund-unauthorized-4471 on naive@sim-down: 0/1 trials passed",
        "*trial 0: infrastructure error: *",
    ])


def test_items_have_readable_ids_and_k_selects_exactly_those_runs(pytester: pytest.Pytester) -> None:
    make_project(pytester, systems="naive,rag")
    collected = run(pytester, "--collect-only", "-q")
    collected.stdout.fnmatch_lines([
        "test_golden.py::test_golden_set[[]billing/duplicate-charge-4467|naive@sim-frontier[]]",
        "test_golden.py::test_golden_set[[]billing/duplicate-charge-4467|rag@sim-frontier[]]",
    ])
    assert not (pytester.path / "reports").exists()  # collecting runs nothing
    # Not a full task x system rectangle: exactly the two selected runs are made.
    junit = pytester.path / "junit.xml"
    result = run(pytester, "-k", "refund-unauthorized and naive or duplicate-charge and rag",
                 f"--junitxml={junit}")
    assert result.ret == 0
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("xfailed", 0) == 2
    run_dir = run_dir_of(pytester)
    keys = sorted((r["key"]["task_id"], r["key"]["system"]) for r in result_lines(run_dir))
    assert keys == [("billing/duplicate-charge-4467", "rag"), ("billing/refund-unauthorized-4471", "naive")]
    assert json.loads((run_dir / "manifest.json").read_text())["total_runs"] == 2
    xml = junit.read_text()
    assert 'name="test_golden_set[billing/refund-unauthorized-4471|naive@sim-frontier]"' in xml


def test_trials_are_aggregated_inside_one_item(pytester: pytest.Pytester) -> None:
    make_project(pytester, task_filter="billing/refund-unauthorized-4471")
    result = run(pytester, "--baton-trials=3", "--baton-vendors=sim-broken", "-rx")
    result.assert_outcomes(xfailed=1)
    result.stdout.fnmatch_lines(["*0/3 trials passed*"])
    assert sorted(r["key"]["trial"] for r in result_lines(run_dir_of(pytester))) == [0, 1, 2]


def test_plugin_is_inert_without_baton_items(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    (pytester.path / "test_golden.py").unlink()
    pytester.makepyfile(test_plain="def test_plain():\n    assert 1 + 1 == 2\n")
    result = run(pytester)
    assert result.ret == 0
    result.assert_outcomes(passed=1)
    assert "baton report card" not in result.stdout.str()
    assert "gates" not in result.stdout.str()
    assert not (pytester.path / "reports").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--baton-trials=0"], "--baton-trials: expected an integer >= 1, got 0"),
    (["--baton-alpha=2"], "--baton-alpha: expected a number strictly between 0 and 1, got 2.0"),
    (["--baton-gate=naive"], "--baton-gate*'naive': expected SYSTEM[[]@VENDOR[]]:KEY=VALUE*"),
    (["--baton-gate=naive:min_sucess=0.8"], "*min_sucess: Extra inputs are not permitted*"),
    (["--baton-gate=naive:no_regression"], "*no_regression needs a baseline*"),
    (["--baton-run-dir=a", "--baton-out=b"], "*--baton-run-dir and --baton-out are exclusive*"),
])
def test_bad_options_are_usage_errors(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    make_project(pytester)
    result = run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}"])


def test_bad_gate_config_is_a_collection_error_naming_file_and_field(pytester: pytest.Pytester) -> None:
    make_project(pytester, """
        [[tool.baton.gates]]
        system = "nope"
        min_success = 0.5
        """)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*baton: pyproject.toml *tool.baton.gates* #1: system: unknown system 'nope'*"])
    assert not (pytester.path / "reports").exists()


def write_baseline(path: Path, config: str, outcomes: dict[str, bool]) -> None:
    rows = [{"config": config, "task_id": task, "trial": 0, "simulated": True, "success": ok}
            for task, ok in outcomes.items()]
    path.write_text(json.dumps({"format": "baton-baseline/1", "source": "hand-written", "outcomes": rows}))


def test_baseline_regression_fails_the_gate(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    tasks = sorted(p.stem for p in (BILLING / "tasks").glob("*.yaml"))
    baseline = pytester.path / "baseline.json"
    write_baseline(baseline, "naive @ sim-broken", {f"billing/{t}": True for t in tasks})
    # The broken vendor fails (nearly) every billing task. It is simulated, so deterministic: every
    # task that flipped from pass to fail counts, whatever a significance test would say.
    result = run(pytester, "--baton-vendors=sim-broken", f"--baton-baseline={baseline}",
                 "--baton-gate=naive@sim-broken:no_regression,alpha=0.3")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "FAILED gate naive @ sim-broken (--baton-gate *): no_regression: measured * of 6 shared tasks flipped "
        "from pass to fail (billing/*), threshold no task that passed in the baseline fails now "
        "(deterministic configuration (simulated or cached): every flip counts)",
    ])


def test_change_within_noise_passes_and_baselines_round_trip(pytester: pytest.Pytester) -> None:
    make_project(pytester, task_filter="billing/refund-*,billing/duplicate-*")
    saved = pytester.path / "baselines" / "main.json"
    first = run(pytester, "--baton-vendors=sim-broken", "--baton-run-dir=runs/first", f"--baton-save-baseline={saved}")
    assert first.ret == 0
    data = json.loads(saved.read_text())
    assert data["format"] == "baton-baseline/1" and len(data["outcomes"]) == 4
    assert sorted(data["task_hashes"]) == sorted({o["task_id"] for o in data["outcomes"]})
    # The baseline unchanged: no task flipped, the gate passes.
    same = run(pytester, "--baton-vendors=sim-broken", "--baton-run-dir=runs/same", f"--baton-baseline={saved}",
               "--baton-gate=naive@sim-broken:no_regression")
    assert same.ret == 0, same.stdout.str()
    check = json.loads((pytester.path / "runs" / "same" / "gates.json").read_text())[0]["checks"]
    assert [c["name"] for c in check] == ["max_error_rate", "no_regression"]
    assert check[1]["passed"] and check[1]["measured"] == "0 of 4 shared tasks flipped from pass to fail"
    # A run directory works as a baseline too.
    third = run(pytester, "--baton-vendors=sim-broken", "--baton-run-dir=runs/third",
                f"--baton-baseline={pytester.path / 'runs' / 'first'}", "--baton-gate=naive@sim-broken:no_regression")
    assert third.ret == 0


def test_one_task_flipped_on_a_deterministic_vendor_fails_no_regression_and_names_it(
        pytester: pytest.Pytester) -> None:
    make_project(pytester, task_filter="billing/refund-*,billing/duplicate-*")
    saved = pytester.path / "baseline.json"
    assert run(pytester, "--baton-vendors=sim-broken", "--baton-run-dir=runs/first",
               f"--baton-save-baseline={saved}").ret == 0
    data = json.loads(saved.read_text())
    # One task that fails now passed in the baseline: one of four, p = 1.0 for McNemar, yet on a
    # simulated (deterministic) vendor the flip is a regression.
    flipped = next(o for o in data["outcomes"] if not o["success"])
    flipped["success"] = True
    edited = pytester.path / "edited.json"
    edited.write_text(json.dumps(data))
    result = run(pytester, "--baton-vendors=sim-broken", "--baton-run-dir=runs/second",
                 f"--baton-baseline={edited}", "--baton-gate=naive@sim-broken:no_regression")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"FAILED gate naive @ sim-broken *no_regression: measured 1 of 4 shared tasks "
                                 f"flipped from pass to fail ({flipped['task_id']}), *"])
    check = json.loads((pytester.path / "runs" / "second" / "gates.json").read_text())[0]["checks"][-1]
    assert check["name"] == "no_regression" and not check["passed"] and flipped["task_id"] in check["measured"]


def test_missing_baseline_is_reported_before_anything_runs(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    result = run(pytester, "--baton-baseline=nowhere.json", "--baton-gate=naive:no_regression")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*baton: baseline */nowhere.json does not exist*"])
    assert not (pytester.path / "reports").exists()
