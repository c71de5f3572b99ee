"""``baton diff``: per configuration and per task, with paired significance and a regression gate."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from baton.cli import main
from baton.errors import BatonError
from baton.reports.diff import diff_runs
from baton.reports.render import render_diff_markdown


@pytest.fixture(scope="module")
def f() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_baton_report_factory",
                                                  Path(__file__).with_name("test_report_factory.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def runs(f, outcomes: dict[tuple[str, str], list[str]], tasks: int = 12) -> list:
    """``outcomes[(system, vendor)]`` lists one status per task (one trial each)."""
    return [f.make_result(f"d/task-{i:02d}", system, vendor, status=status,
                          first_hop="generate" if status == "failed" else None)
            for (system, vendor), statuses in outcomes.items() for i, status in enumerate(statuses[:tasks])]


@pytest.fixture
def pair(f, tmp_path: Path) -> tuple[Path, Path]:
    base = runs(f, {("rag", "acme"): ["passed"] * 12, ("naive", "sim-frontier"): ["failed"] * 12,
                    ("naive", "acme"): ["passed", "failed"] * 6})
    cand = runs(f, {("rag", "acme"): ["failed"] * 11 + ["passed"], ("naive", "sim-frontier"): ["passed"] * 12,
                    ("naive", "acme"): ["failed", "passed"] * 5 + ["passed", "failed"]})
    return f.write_run(tmp_path / "base", base), f.write_run(tmp_path / "cand", cand)


def test_significant_regressions_and_improvements_are_flagged(pair: tuple[Path, Path]) -> None:
    diff = diff_runs(*pair)
    by_config = {c.config: c for c in diff.configs}
    worse = by_config["rag @ acme"]
    assert worse.flag == "worse" and worse.delta == pytest.approx(-11 / 12)
    assert worse.method == "mcnemar_exact" and worse.p_value < 0.01 and worse.paired_n == 12
    assert by_config["naive @ sim-frontier"].flag == "better"
    assert by_config["naive @ sim-frontier"].simulated
    # same rate, discordant tasks both ways: not significant
    same = by_config["naive @ acme"]
    assert same.flag == "no significant change" and same.delta == 0.0 and same.p_value == 1.0
    assert [c.config for c in diff.regressions] == ["rag @ acme"]
    task = next(t for t in diff.tasks if t.config == "rag @ acme" and t.task_id == "d/task-00")
    assert (task.baseline, task.candidate, task.flag) == (1.0, 0.0, "no significant change")


def test_per_task_change_pairs_trials(f, tmp_path: Path) -> None:
    base = [f.make_result("d/t", "rag", "acme", trial=t) for t in range(10)]
    cand = [f.make_result("d/t", "rag", "acme", trial=t, status="failed", first_hop="retrieve")
            for t in range(10)]
    diff = diff_runs(f.write_run(tmp_path / "b", base), f.write_run(tmp_path / "c", cand))
    (task,) = diff.tasks
    assert task.paired_n == 10 and task.flag == "worse" and task.p_value == pytest.approx(2 * 0.5 ** 10)
    # one task only: the configuration-level test has a single pair and cannot be significant
    assert diff.configs[0].flag == "no significant change"


def test_infra_errors_and_isolated_runs_are_not_compared(f, tmp_path: Path) -> None:
    base = [f.make_result("d/t", "rag", "acme", trial=0), f.make_result("d/t", "rag", "acme", trial=1)]
    cand = [f.make_result("d/t", "rag", "acme", trial=0),
            f.make_result("d/t", "rag", "acme", trial=1, status="error"),
            f.make_result("d/t", "rag", "acme", mode="isolated:retrieve", status="failed",
                          first_hop="retrieve")]
    diff = diff_runs(f.write_run(tmp_path / "b", base), f.write_run(tmp_path / "c", cand))
    (task,) = diff.tasks
    assert (task.baseline, task.candidate, task.candidate_n, task.paired_n) == (1.0, 1.0, 1, 1)


def test_added_and_removed_configurations(f, tmp_path: Path) -> None:
    base = runs(f, {("rag", "acme"): ["passed"] * 3, ("naive", "acme"): ["passed"] * 3})
    cand = runs(f, {("rag", "acme"): ["passed"] * 3, ("multi_agent", "acme"): ["passed"] * 3})
    diff = diff_runs(f.write_run(tmp_path / "b", base), f.write_run(tmp_path / "c", cand))
    flags = {c.config: c.flag for c in diff.configs}
    assert flags == {"multi_agent @ acme": "added", "naive @ acme": "removed",
                     "rag @ acme": "no significant change"}
    assert next(c for c in diff.configs if c.flag == "added").delta is None


def test_different_fixture_sets_are_refused_unless_allowed(f, tmp_path: Path) -> None:
    results = runs(f, {("rag", "acme"): ["passed"] * 3})
    base = f.write_run(tmp_path / "b", results, fixture_hash="a" * 64)
    cand = f.write_run(tmp_path / "c", results, fixture_hash="b" * 64)
    with pytest.raises(BatonError, match="different fixture sets.*--allow-different-fixtures"):
        diff_runs(base, cand)
    diff = diff_runs(base, cand, allow_different_fixtures=True)
    assert diff.fixtures_differ
    assert "different fixture sets" in render_diff_markdown(diff)


def test_cli_diff_output_and_exit_codes(pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    base, cand = map(str, pair)
    assert main(["diff", base, cand]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## Baton diff: base → cand")
    assert "| rag @ acme | 100% (n=12) | 8% (n=12) | -91.7 pts |" in out
    assert "| naive @ sim-frontier (simulated) |" in out and "1 better · 1 worse · 1 other" in out
    assert main(["diff", base, cand, "--fail-on-regression"]) == 1
    assert main(["diff", base, base, "--fail-on-regression"]) == 0
    capsys.readouterr()
    assert main(["diff", base, cand, "--format", "text"]) == 0
    text = capsys.readouterr().out
    assert "rag @ acme" in text and "worse" in text and "|" not in text
    assert main(["diff", base, cand, "--alpha", "2"]) == 2
    assert "--alpha" in capsys.readouterr().err


def test_cli_diff_refuses_different_fixtures_with_a_clear_message(
        f, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = runs(f, {("rag", "acme"): ["passed"] * 3})
    base = f.write_run(tmp_path / "b", results, fixture_hash="a" * 64)
    cand = f.write_run(tmp_path / "c", results, fixture_hash="b" * 64)
    assert main(["diff", str(base), str(cand)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("baton: error: the runs used different fixture sets") and "Traceback" not in err
    assert main(["diff", str(base), str(cand), "--allow-different-fixtures", "--out",
                 str(tmp_path / "diff.md")]) == 0
    assert (tmp_path / "diff.md").read_text().startswith("## Baton diff")
