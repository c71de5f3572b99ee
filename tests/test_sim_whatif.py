"""What-if runs: reliabilities from the command line become rates; predicted and measured agree."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sim_taskgen import task_set

from baton.cli import main
from baton.errors import ConfigError
from baton.sim.whatif import knobs_for, parse_reliabilities, what_if
from baton.systems import BUILTIN_SYSTEMS


def test_reliabilities_parse_and_map_to_rates() -> None:
    r = parse_reliabilities("route=0.97, act=0.95,verify_catch=0.8")
    assert r == {"route": 0.97, "act": 0.95, "verify_catch": 0.8}
    table = knobs_for(r, {"dropped_fact": 0.1})
    assert table == pytest.approx({"wrong_label": 0.03, "wrong_argument": 0.05, "verify_miss": 0.2,
                                   "dropped_fact": 0.1})
    for bad, message in [("route=1.5", "between 0 and 1"), ("plan=0.9", "HOP one of"), ("act", "HOP=VALUE"),
                         ("act=high", "a number")]:
        with pytest.raises(ConfigError, match=message):
            parse_reliabilities(bad)


async def test_predicted_success_falls_in_the_measured_interval() -> None:
    tasks = [t for t in task_set(31, domains=2) if t.gold.outcome in ("act", "answer")]
    table = knobs_for({"route": 0.95, "act": 0.9, "answer": 0.85, "verify_catch": 0.7})
    result = await what_if(tasks, BUILTIN_SYSTEMS["multi_agent"], table, trials=60)
    low, high = result.interval
    assert result.runs == 60 * len(tasks)
    assert low <= result.predicted <= high, (result.predicted, result.measured, low, high)
    assert result.measured < 0.9  # the mistakes cost something


def test_the_cli_prints_predicted_and_measured(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["whatif", "run", "--what-if", "route=0.9", "--trials", "2", "--task-filter", "billing/*",
                 "--systems", "multi_agent,rag"]) == 0
    out = capsys.readouterr().out
    assert "simulated" in out and "predicted" in out and "multi_agent" in out and "rag" in out


def test_the_sweep_writes_a_chart_with_and_without_verify(tmp_path: Path) -> None:
    out = tmp_path / "sweep.html"
    assert main(["whatif", "sweep", "--hop", "answer", "--from", "0.6", "--to", "1.0", "--steps", "3",
                 "--trials", "1", "--task-filter", "billing/*", "--out", str(out)]) == 0
    html = out.read_text()
    assert "<svg" in html and "multi_agent (no verify)" in html and "simulated" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no network resources


def test_bad_flags_are_clear_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["whatif", "sweep", "--hop", "plan", "--task-filter", "billing/*"]) == 2
    assert "--hop" in capsys.readouterr().err
    assert main(["whatif", "run", "--profile", "local-smollm2", "--task-filter", "billing/*"]) == 2
    assert "simulated profile" in capsys.readouterr().err
    (tmp_path / "vendors.toml").write_text(yaml.safe_dump({}))
    assert main(["whatif", "run", "--trials", "0"]) == 2
    assert "--trials" in capsys.readouterr().err
