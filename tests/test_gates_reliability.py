"""Gates on the card's core measure: flips named on stochastic vendors too, max_gap, the default
error-rate limit, and the 'mostly errors' headline."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from baton.gates import DEFAULT_MAX_ERROR_RATE, Baseline, DeclaredGate, Gate, evaluate_gates
from baton.reports.aggregate import build_card
from baton.reports.diff import outcome_frame
from baton.reports.render import render_html, render_markdown


@pytest.fixture(scope="module")
def f() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_baton_report_factory",
                                                  Path(__file__).with_name("test_report_factory.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def gate(**kwargs) -> list[DeclaredGate]:
    return [DeclaredGate(Gate(system="multi_agent", **kwargs), "test")]


def runs(f, passed: dict[str, bool], vendor: str = "acme", errors: int = 0):
    results = [f.make_result(task, "multi_agent", vendor, status="passed" if ok else "failed",
                             first_hop=None if ok else "tool") for task, ok in passed.items()]
    results += [f.make_result(f"t/err{i}", "multi_agent", vendor, status="error") for i in range(errors)]
    return results


def test_stochastic_no_regression_keeps_the_paired_test_and_lists_flips_both_ways(f) -> None:
    base = runs(f, {"t/a": True, "t/b": False, "t/c": True, "t/d": True})
    now = runs(f, {"t/a": False, "t/b": True, "t/c": True, "t/d": True})
    baseline = Baseline(Path("base"), outcome_frame(base), None)
    card = build_card(now)
    (verdict,) = evaluate_gates(gate(no_regression=True), card, outcomes=outcome_frame(now), baseline=baseline)
    check = verdict.checks[-1]
    assert check.name == "no_regression" and check.passed  # one flip each way: not significant
    assert "mcnemar" in check.measured
    assert "passed in the baseline, fail now: t/a" in check.note
    assert "failed in the baseline, pass now: t/b" in check.note


def test_max_gap_bounds_predicted_minus_measured(f) -> None:
    # act right alone (isolated 1.0) but wrong in one of two system runs: predicted 1.0, measured 0.5
    results = runs(f, {"t/a": True, "t/b": False})
    results += [f.make_result(t, "multi_agent", "acme", mode="isolated:act", components={"tool": 1.0})
                for t in ("t/a", "t/b")]
    card = build_card(results)
    assert card.configs[0].gap == pytest.approx(0.5)
    (loose,) = evaluate_gates(gate(max_gap=0.6), card)
    (tight,) = evaluate_gates(gate(max_gap=0.1), card)
    assert loose.passed and not tight.passed
    check = tight.failures[0]
    assert check.name == "max_gap" and check.measured == "+50.0 pts" and "predicted 100.0% - measured 50.0%" \
        in check.note


def test_max_gap_without_hop_reliability_fails_and_says_why(f) -> None:
    card = build_card([f.make_result("t/a", "multi_agent", "acme", components={}, reliability={})])
    (verdict,) = evaluate_gates(gate(max_gap=0.5), card)
    assert not verdict.passed and "no predicted success" in verdict.failures[0].measured


def test_a_configuration_that_mostly_errored_cannot_pass_a_gate_and_says_so(f) -> None:
    results = runs(f, {"t/a": True}, errors=11)
    card = build_card(results)
    (config,) = card.configs
    assert config.rate == 1.0 and config.mostly_errors
    (verdict,) = evaluate_gates(gate(min_success=0.5), card)
    assert not verdict.passed
    (check,) = verdict.failures
    assert check.name == "max_error_rate" and check.threshold == f"<= {DEFAULT_MAX_ERROR_RATE * 100:.1f}%"
    assert "default limit" in check.note
    # an explicit limit replaces the default
    (lenient,) = evaluate_gates(gate(min_success=0.5, max_error_rate=1.0), card)
    assert lenient.passed
    assert "mostly errors: 1 of 12 runs counted" in render_markdown(card)
    assert "mostly errors: 1 of 12 runs counted" in render_html(card)


def test_card_json_prints_every_definition_and_the_core_measure(f, tmp_path) -> None:
    import json

    from baton.reports.write import write_reports

    results = runs(f, {"t/a": True, "t/b": False})
    results += [f.make_result(t, "multi_agent", "acme", mode="isolated:act", components={"tool": 1.0})
                for t in ("t/a", "t/b")]
    run_dir = f.write_run(tmp_path / "run", results)
    written = write_reports(run_dir, formats=["json", "html", "md"])
    card = json.loads(written["json"].read_text())
    for key in ("hop_reliability", "isolated", "in_system", "predicted", "gap", "decomposition", "recovered",
                "fix_first", "branches", "errors", "component"):
        assert card["definitions"][key], key
    (config,) = card["configurations"]
    rel = config["reliability"]
    assert rel["predicted"] == 1.0 and rel["measured"] == 0.5 and rel["coordination_gap"] == 0.5
    assert [s["step"] for s in rel["waterfall"]][0] == "predicted" and rel["waterfall"][-1]["value"] == 0.5
    assert rel["fix_first"][0]["hop"] == "act"
    html = written["html"].read_text()
    assert "From predicted to measured" in html and "Fix this first" in html and "Hop reliability" in html
