"""`baton compare` end to end on the simulated vendor, and per-vendor matrix limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from baton.cli import main
from baton.commands.compare import _representative_tasks
from baton.fixtures import load_tasks
from baton.matrix import Matrix, VendorLimit, resolve_vendor_limits
from baton.systems import BUILTIN_SYSTEMS
from baton.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"


@pytest.mark.e2e
def test_compare_runs_and_writes_every_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code = main(["compare", "--project", str(REPO), "--vendors", "sim-frontier", "--systems", "naive,multi_agent",
                 "--task-filter", "billing/refund-unauthorized-4471,billing/seat-addon-billing-date",
                 "--trials", "2", "--modes", "system,isolated:route", "--out", str(out), "--no-cache"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    for name in ("report.html", "report.md", "results.csv", "card.csv", "card.json", "manifest.json"):
        assert (out / name).is_file(), name
    assert "(simulated)" in captured.out
    lines = (out / "results.jsonl").read_text().splitlines()
    # 2 tasks x (naive system + multi_agent system + multi_agent isolated:route) x 2 trials
    assert len(lines) == 2 * 3 * 2
    assert {json.loads(line)["key"]["mode"] for line in lines} == {"system", "isolated:route"}


def test_compare_refuses_an_existing_run_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "manifest.json").write_text("{}")
    code = main(["compare", "--project", str(REPO), "--vendors", "sim-frontier", "--task-filter",
                 "billing/seat-addon-billing-date", "--out", str(tmp_path)])
    assert code == 2
    assert "already holds a run" in capsys.readouterr().err


def test_compare_rejects_bad_flags_without_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--project", str(REPO), "--trials", "0"]) == 2
    err = capsys.readouterr().err
    assert "--trials" in err and "Traceback" not in err
    assert main(["compare", "--project", str(REPO), "--vendors", "no-such-vendor"]) == 2
    assert "no-such-vendor" in capsys.readouterr().err


def test_vendor_limits_restrict_tasks_trials_and_modes() -> None:
    tasks = load_tasks(FIXTURES / "billing")
    systems = [BUILTIN_SYSTEMS["naive"], BUILTIN_SYSTEMS["multi_agent"]]
    limits = resolve_vendor_limits({"slow": {"task_filter": "billing/refund-unauthorized-4471", "trials": 1,
                                             "modes": ["system"]}}, tasks, ["fast", "slow"])
    matrix = Matrix(tasks=tasks, systems=systems, vendors=["fast", "slow"], trials=3,
                    modes=("system", "isolated:route"), limits=limits)
    slow = list(matrix.items_for("slow"))
    fast = list(matrix.items_for("fast"))
    assert {(i.task.id, i.mode, i.trial) for i in slow} == {("billing/refund-unauthorized-4471", "system", 0)}
    assert len(slow) == 2  # naive and multi_agent
    assert len(fast) == len(tasks) * 3 * 3  # (naive, multi_agent, multi_agent isolated:route) x 3 trials
    assert len(matrix) == len(slow) + len(fast)
    assert matrix.limits_json()["slow"] == {"tasks": ["billing/refund-unauthorized-4471"], "trials": 1,
                                            "modes": ["system"]}


def test_vendor_limit_errors_name_the_vendor() -> None:
    tasks = load_tasks(FIXTURES / "billing")
    with pytest.raises(ConfigError, match="slow.*unknown key"):
        resolve_vendor_limits({"slow": {"task": "x"}}, tasks, ["slow"])
    with pytest.raises(ConfigError, match="matches none"):
        resolve_vendor_limits({"slow": {"task_filter": "nothing/*"}}, tasks, ["slow"])
    assert resolve_vendor_limits({"absent": {"trials": 1}}, tasks, ["slow"]) == {}
    assert VendorLimit().as_json() == {"tasks": None, "trials": None, "modes": None}


def test_representative_tasks_prefer_an_action_then_a_question() -> None:
    tasks = load_tasks(FIXTURES)
    chosen = _representative_tasks(tasks, 2)
    by_id = {t.id: t for t in tasks}
    assert [by_id[c].gold.outcome for c in chosen] == ["act", "answer"]
