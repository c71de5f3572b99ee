"""The report card's numbers, worked out by hand on a small run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from baton.reports.aggregate import build_card
from baton.reports.flatten import isolated_component
from baton.stats import wilson_interval


@pytest.fixture(scope="module")
def f() -> ModuleType:
    """The synthetic-result factory (tests are not a package, so it is loaded by path)."""
    spec = importlib.util.spec_from_file_location("_baton_report_factory",
                                                  Path(__file__).with_name("test_report_factory.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def small_run(f):
    """multi_agent on 'acme' (2 tasks x 2 trials, one failure at the tool hop, one infra error,
    isolated tool runs) and naive on the simulated 'sim-frontier' (all passed)."""
    mk = f.make_result
    return [
        mk("t/a", "multi_agent", "acme", trial=0, cost=0.01, latency=1.0),
        mk("t/a", "multi_agent", "acme", trial=1, status="failed", first_hop="tool", category="wrong_state",
           cost=0.01, latency=2.0),
        mk("t/b", "multi_agent", "acme", trial=0, cost=0.01, latency=3.0),
        mk("t/b", "multi_agent", "acme", trial=1, status="error", cost=0.01, latency=30.0),
        mk("t/a", "multi_agent", "acme", mode="isolated:act", components={"tool": 1.0}, cost=0.5),
        mk("t/b", "multi_agent", "acme", mode="isolated:act", components={"tool": 1.0}, cost=0.5),
        mk("t/a", "naive", "sim-frontier", trial=0),
        mk("t/b", "naive", "sim-frontier", trial=0),
    ]


def test_measured_success_interval_and_infra_errors(f) -> None:
    card = build_card(small_run(f))
    assert [c.label for c in card.configs] == ["multi_agent @ acme", "naive @ sim-frontier"]
    ma = card.configs[0]
    assert (ma.runs, ma.counted, ma.successes, ma.infra_errors) == (4, 3, 2, 1)
    assert ma.rate == pytest.approx(2 / 3)
    assert (ma.ci_low, ma.ci_high) == pytest.approx(wilson_interval(2, 3))
    assert ma.isolated_runs == 2
    assert not ma.simulated and card.configs[1].simulated


def test_pass_hat_k_leaves_out_tasks_short_of_k_counted_trials(f) -> None:
    ma = build_card(small_run(f)).configs[0]
    # task a: n=2, c=1 -> C(1,2)/C(2,2) = 0; task b has one counted trial (the other errored) < k=2
    assert ma.k == 2 and ma.pass_k == 0.0
    naive = build_card(small_run(f)).configs[1]
    assert naive.k == 1 and naive.pass_k == 1.0


def test_components_predicted_and_gap(f) -> None:
    ma = build_card(small_run(f)).configs[0]
    comps = {c.component: c for c in ma.components}
    assert list(comps) == ["route", "retrieval", "tool", "answer", "verifier"]
    assert comps["tool"].in_system == pytest.approx(2 / 3) and comps["tool"].in_system_n == 3
    assert comps["tool"].isolated == 1.0 and comps["tool"].isolated_n == 2
    assert comps["route"].isolated is None
    assert comps["retrieval"].metrics == {"mrr": 0.5, "recall": 1.0}
    hops = {h.hop: h for h in ma.reliability.hops}
    assert list(hops) == ["route", "retrieve", "act", "draft", "verify"]
    assert hops["act"].in_system == pytest.approx(2 / 3) and hops["act"].in_system_n == 3
    assert hops["act"].isolated == 1.0 and hops["act"].isolated_n == 2
    assert hops["act"].upstream_cost == pytest.approx(1 / 3)
    # predicted: isolated act 1.0 times in-system route/retrieve/draft/verify 1.0 (no isolated runs)
    assert ma.predicted == pytest.approx(1.0) and ma.reliability.basis == "mixed"
    assert ma.gap == pytest.approx(1 / 3)  # predicted - measured: the system does worse
    low, high = ma.reliability.gap_low, ma.reliability.gap_high
    assert low is not None and high is not None and low <= ma.gap <= high
    steps = [(s.label, round(s.value, 6)) for s in ma.reliability.waterfall]
    assert steps == [("predicted", 1.0), ("act: upstream errors", round(-1 / 3, 6)),
                     ("hops failing together (rest)", 0.0), ("measured", round(2 / 3, 6))]
    (fix,) = ma.reliability.fix_first
    assert fix.hop == "act" and fix.success_if_right == pytest.approx(1.0) and fix.gain == pytest.approx(1 / 3)


def test_failure_attribution_cost_and_latency(f) -> None:
    card = build_card(small_run(f))
    ma = card.configs[0]
    assert [(s.name, s.count, s.share) for s in ma.failure_hops] == [("tool", 1, 1.0)]
    assert [s.name for s in ma.failure_categories] == ["wrong_state"]
    assert ma.cost_total == pytest.approx(0.04)  # isolated runs are not the system's cost
    assert ma.cost_per_task == pytest.approx(0.01)
    assert ma.cost_per_success == pytest.approx(0.02)
    assert ma.latency.p50 == pytest.approx(2.0) and ma.latency.p95 == pytest.approx(2.9)
    assert ma.latency.n == 3  # the infra error's 30 s is not counted
    assert [lat.name for lat in ma.hop_latency] == ["route", "retrieve", "generate", "tool", "verify"]
    tool = next(lat for lat in ma.hop_latency if lat.name == "tool")
    assert tool.n == 3  # two tool hops per run are summed per run
    assert [(s.name, s.count) for s in card.attribution] == [("tool", 1)]
    assert card.configs[1].cost_per_success == pytest.approx(0.002)


def test_cost_per_hop_kind_adds_up_to_the_cost_per_task(f) -> None:
    ma = build_card(small_run(f)).configs[0]
    # four system runs at $0.01 each, spread evenly over six hops (two of them tool hops); the
    # isolated runs' $0.50 are not the system's cost
    costs = {hc.name: hc for hc in ma.hop_cost}
    assert list(costs) == ["route", "retrieve", "generate", "tool", "verify"]
    assert costs["tool"].per_task == pytest.approx(0.01 * 2 / 6) and costs["tool"].share == pytest.approx(2 / 6)
    assert costs["route"].per_task == pytest.approx(0.01 / 6)
    assert sum(hc.per_task for hc in ma.hop_cost) == pytest.approx(ma.cost_per_task)
    row = ma.as_row()
    assert row["tool_cost_per_task_usd"] == pytest.approx(0.01 / 3) and "unattributed_cost_per_task_usd" not in row


def test_usage_no_hop_carries_is_shown_as_unattributed(f) -> None:
    """A system behind the model gateway whose hops report no usage: its cost is the run's, not a hop's."""
    run = f.make_result("t/a", "rag", "acme", cost=0.03)
    run.trace.hops[0].usage.cost_usd = 0.0   # retrieve: free
    run.trace.hops[1].usage.cost_usd = 0.01  # the answer carries a third of what was metered
    (card,) = build_card([run]).configs
    assert [(hc.name, round(hc.per_task, 6), round(hc.share, 6)) for hc in card.hop_cost] == [
        ("retrieve", 0.0, 0.0), ("generate", 0.01, round(1 / 3, 6)), ("unattributed", 0.02, round(2 / 3, 6))]
    free = f.make_result("t/a", "naive", "local", cost=0.0)
    (card,) = build_card([free]).configs
    assert [(hc.name, hc.per_task, hc.share) for hc in card.hop_cost] == [("generate", 0.0, None)]


def test_fix_first_names_no_hop_when_fixing_none_would_help(f) -> None:
    """act was right on one run and wrong on the other, and both failed: fixing act is ranked (gain 0)
    but not recommended; the headline, card.csv/json and both renderers say so."""
    from baton.reports.render import render_html, render_markdown

    runs = [f.make_result("t/a", "multi_agent", "acme", status="failed", first_hop="generate",
                          reliability={"route": True, "act": True, "draft": False}),
            f.make_result("t/b", "multi_agent", "acme", status="failed", first_hop="tool",
                          reliability={"route": True, "act": False, "draft": False})]
    card = build_card(runs)
    (config,) = card.configs
    assert [(g.hop, g.gain) for g in config.reliability.fix_first] == [("act", 0.0)]
    assert config.reliability.top_fix is None
    assert config.as_row()["fix_first"] is None and config.as_row()["fix_first_gain"] is None
    (row,) = [line for line in render_markdown(card).splitlines() if line.startswith("| multi") and " n=" in line]
    assert "act +0.0" not in row and row.split(" | ")[4] == "—"
    assert 'data-label="Fix first">—<' in render_html(card)
    runs[0] = f.make_result("t/a", "multi_agent", "acme", reliability={"route": True, "act": True})
    assert build_card(runs).configs[0].reliability.top_fix.hop == "act"  # right -> passed: worth fixing


def test_task_matrix_links_failed_and_errored_runs_to_their_traces(f) -> None:
    card = build_card(small_run(f))
    assert [row.task_id for row in card.tasks] == ["t/a", "t/b"]
    a = card.tasks[0].cells["multi_agent @ acme"]
    b = card.tasks[1].cells["multi_agent @ acme"]
    assert (a.successes, a.counted, a.infra_errors) == (1, 2, 0)
    assert (b.successes, b.counted, b.infra_errors) == (1, 1, 1)
    (trial, status, index), = a.failed
    assert (trial, status) == (1, "failed")
    assert card.traces[index]["run_id"] == "t/a@v1|multi_agent|acme|system|t1"
    assert card.traces[index]["failed_checks"][0]["name"] == "state"
    assert b.failed[0][:2] == (1, "error")
    assert card.traces[b.failed[0][2]]["infra_error"].startswith("vendor returned 503")
    assert card.tasks[0].cells["naive @ sim-frontier"].failed == []


def test_trace_limit_counts_what_is_left_out(f) -> None:
    card = build_card(small_run(f), max_traces=1)
    assert len(card.traces) == 1 and card.traces_omitted == 1
    cell = card.tasks[1].cells["multi_agent @ acme"]
    assert cell.failed[0][2] == -1


def test_isolated_component_for_known_and_adapter_hop_names(f) -> None:
    result = f.make_result("t/a", "multi_agent", "acme", mode="isolated:planner")
    assert isolated_component("isolated:act", result.trace) == "tool"
    assert isolated_component("isolated:retrieve", result.trace) == "retrieval"
    assert isolated_component("system", result.trace) is None
    # unknown name: the hop marked isolated (the route hop in the factory) decides
    assert isolated_component("isolated:planner", result.trace) == "route"


def test_no_applicable_hop_gives_no_prediction_and_no_gap(f) -> None:
    # a third-party task set with nothing for the draft hop to judge: no vacuous 1.0
    card = build_card([f.make_result("t/a", "naive", "acme", status="failed", first_hop="generate",
                                     components={"answer": None})])
    config = card.configs[0]
    assert config.components == [] and config.predicted is None and config.gap is None
    assert config.reliability.basis == "none" and config.reliability.hops == []


def test_old_results_without_hop_reliability_still_build_a_card(f) -> None:
    old = f.make_result("t/a", "multi_agent", "acme")
    data = old.model_dump(mode="json")
    del data["grade"]["hops"], data["grade"]["choices"]
    from baton.result import RunResult

    card = build_card([RunResult.model_validate(data)])
    (config,) = card.configs
    assert config.rate == 1.0 and config.predicted is None and config.components


def test_empty_run_gives_an_empty_card() -> None:
    card = build_card([])
    assert card.configs == [] and card.tasks == [] and card.attribution == []


def test_card_frame_has_one_row_per_configuration(f) -> None:
    frame = build_card(f.synthetic_results()).card_frame()
    assert len(frame) == 9
    assert set(frame["simulated"]) == {True, False}
    assert {"success_rate", "success_ci_low", "pass_hat_k", "predicted_success", "coordination_gap",
            "coordination_gap_ci_low", "act_reliability_isolated", "draft_reliability_in_system",
            "tool_isolated", "cost_per_success_usd", "latency_p95_s", "mostly_errors"} <= set(frame.columns)


def test_only_system_runs_feed_the_viewer_and_the_task_matrix(f) -> None:
    isolated_failure = f.make_result("t/a", "multi_agent", "acme", mode="isolated:route", status="failed",
                                     first_hop="route", components={"route": 0.0})
    card = build_card([isolated_failure])
    (config,) = card.configs
    assert config.runs == 0 and config.rate is None and config.failures == 0
    assert config.components[0].isolated == 0.0 and config.components[0].in_system is None
    assert card.traces == [] and card.tasks == [] and card.attribution == []


def test_gap_interval_is_a_seeded_bootstrap_over_tasks(f) -> None:
    results = f.synthetic_results()
    first = [(c.label, c.reliability.gap_low, c.reliability.gap_high) for c in build_card(results).configs]
    again = [(c.label, c.reliability.gap_low, c.reliability.gap_high) for c in build_card(results).configs]
    assert first == again  # deterministic: the same run gives the same interval
    for config in build_card(results).configs:
        rel = config.reliability
        if rel.gap is not None:
            assert rel.gap == pytest.approx(rel.predicted - config.rate)
            assert rel.gap_low <= rel.gap + 1e-9 and rel.gap - 1e-9 <= rel.gap_high


def test_runs_with_unjudged_assertions_are_counted_and_shown(f) -> None:
    """Free-text assertions that no judge graded are never silently passed: the card counts the
    runs that carry them and both renderings say so."""
    from baton.reports.render import render_html, render_markdown

    runs = small_run(f)
    first = runs[0]
    runs[0] = first.model_copy(update={"grade": first.grade.model_copy(
        update={"unjudged": ["tells the customer the exception needs the finance team"]})})
    card = build_card(runs)
    ma = card.configs[0]
    assert ma.unjudged_runs == 1 and card.configs[1].unjudged_runs == 0
    assert ma.as_row()["unjudged_runs"] == 1
    assert "1 with unjudged assertions" in render_markdown(card)
    assert "1 runs with unjudged assertions" in render_html(card)
