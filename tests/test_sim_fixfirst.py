"""Fix this first, by simulation: each hop's mistakes removed in turn, and the card showing it
beside the measured estimate, labelled simulated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sim_taskgen import task_set

from baton.errors import ConfigError
from baton.graders.system import expects_action
from baton.sim.fixfirst import FILE_NAME, hop_tables, read_simulated, simulate_fix_first
from baton.systems import BUILTIN_SYSTEMS, SystemConfig
from baton.vendors import VendorProfile

ROOT = Path(__file__).resolve().parent.parent
TASKS = task_set(21, domains=1)


def _profile(**rates: float) -> VendorProfile:
    return VendorProfile(name="sim-test", kind="sim", model="sim-test", sim=rates)


def test_hop_tables_zero_exactly_that_hops_rates() -> None:
    table = {"wrong_label": 0.1, "dropped_fact": 0.2, "stale_claim": 0.05, "malformed_json": 0.01, "rate_429": 0.3}
    tables = hop_tables(table)
    assert set(tables) == {"route", "draft"}  # act and verify have no mistakes to remove
    assert tables["route"]["wrong_label"] == 0 and tables["route"]["dropped_fact"] == 0.2
    assert tables["draft"]["dropped_fact"] == tables["draft"]["stale_claim"] == 0
    assert tables["draft"]["wrong_label"] == 0.1 and tables["draft"]["malformed_json"] == 0.01
    assert all("rate_429" not in t for t in tables.values())  # faults are never part of a what-if


async def test_the_only_broken_hop_is_the_one_to_fix_and_fixing_it_recovers_everything() -> None:
    result = await simulate_fix_first(TASKS, BUILTIN_SYSTEMS["multi_agent"], _profile(wrong_label=1.0))
    judged = [t for t in TASKS if t.gold.facts or expects_action(t)]
    assert result.runs == len(TASKS) and result.simulated
    assert result.baseline <= 1 - len(judged) / len(TASKS)  # a wrong route fails every judged task
    (gain,) = result.gains
    assert (gain.hop, gain.success_if_perfect) == ("route", 1.0)
    assert gain.gain == pytest.approx(1.0 - result.baseline)


async def test_gains_are_ranked_and_only_for_hops_the_system_has() -> None:
    profile = _profile(wrong_label=0.5, dropped_fact=1.0, verify_miss=1.0)
    result = await simulate_fix_first(TASKS, BUILTIN_SYSTEMS["multi_agent"], profile, trials=2, seed=3)
    assert [g.gain for g in result.gains] == sorted((g.gain for g in result.gains), reverse=True)
    assert {g.hop for g in result.gains} == {"route", "draft", "verify"}
    for g in result.gains:
        assert g.success_if_perfect == pytest.approx(result.baseline + g.gain)
    rag = await simulate_fix_first(TASKS, BUILTIN_SYSTEMS["rag"], profile)
    assert [g.hop for g in rag.gains] == ["draft"]  # rag has no router and no verifier


async def test_a_system_with_a_role_on_another_vendor_is_refused() -> None:
    system = SystemConfig(name="mixed", architecture="multi_agent", roles={"router": "local-smollm2"})
    with pytest.raises(ConfigError, match="other than 'sim-test'"):
        await simulate_fix_first(TASKS, system, _profile(wrong_label=0.1))
    real = VendorProfile(name="openai", kind="openai", model="gpt")
    with pytest.raises(ConfigError, match="simulated profile"):
        await simulate_fix_first(TASKS, BUILTIN_SYSTEMS["multi_agent"], real)


@pytest.mark.e2e
def test_the_card_shows_the_simulated_ranking_beside_the_measured_one(tmp_path: Path, capsys) -> None:
    from baton.cli import main
    from baton.engine import Matrix, run_matrix_sync
    from baton.fixtures import load_tasks
    from baton.vendor_config import builtin_profiles

    tasks = [t for t in load_tasks(ROOT / "fixtures") if t.id.startswith("billing/")]
    run_dir = tmp_path / "run"
    run_matrix_sync(Matrix(tasks=tasks, systems=[BUILTIN_SYSTEMS["multi_agent"]], vendors=["sim-small"],
                           trials=1, seed=0), profiles=builtin_profiles(), run_dir=run_dir, use_cache=False)
    code = main(["whatif", "fix-first", str(run_dir), "--trials", "1", "--tasks", str(ROOT / "fixtures"),
                 "--project", str(ROOT)])
    assert code == 0
    out = capsys.readouterr().out
    assert "multi_agent @ sim-small (simulated" in out
    (stored,) = read_simulated(run_dir).values()
    card = json.loads((run_dir / "card.json").read_text())
    (config,) = card["configurations"]
    simulated = config["reliability"]["fix_first_simulated"]
    assert simulated["simulated"] is True and simulated["runs"] == len(tasks)
    assert [g["hop"] for g in simulated["gains"]] == [g.hop for g in stored.gains]
    assert "fix_first" in config["reliability"]  # the measured estimate stays beside it
    markdown = (run_dir / "report.md").read_text()
    html = (run_dir / "report.html").read_text()
    assert "Fix this first, simulated" in markdown and "what-if rerun" in html and "(simulated)" in html


def test_a_damaged_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).write_text('{"format": "something else"}')
    with pytest.raises(ConfigError, match=FILE_NAME):
        read_simulated(tmp_path)
    assert read_simulated(tmp_path / "absent") == {}
