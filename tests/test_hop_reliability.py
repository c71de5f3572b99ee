"""Hop reliability end to end: a perfect model gives 1.0 everywhere it can, predicted equals
measured; isolated reliability is never below in-system on the simulated profiles; the verifier
and the draft hop are judged by the same system checks."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from baton.fixtures import load_tasks
from baton.graders import grade_run
from baton.model import ChatResponse, Message, ModelClient, RequestedToolCall, ScriptedClient
from baton.reports.aggregate import build_card
from baton.result import RunKey, RunResult
from baton.runners import run_task
from baton.systems import BUILTIN_SYSTEMS
from baton.task import GoldenTask

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MODES = ("system", "isolated:route", "isolated:retrieve", "isolated:draft", "isolated:act", "isolated:verify")
GOLD_ID = "gold-"


def gold_player(task: GoldenTask):
    """A perfect model for ``task``: it answers every call the way gold says a correct hop would."""
    reply = "Here is what I found: " + "; ".join(f.forms[0] for f in task.gold.facts) + "." \
        if task.gold.facts else "Thank you for your message; I have looked into it."

    def script(messages: Sequence[Message], options: dict[str, Any]) -> Any:
        properties = (options.get("schema") or {}).get("properties", {})
        if "route" in properties:
            return {"route": task.gold.route}
        if "verdict" in properties:
            return {"verdict": "pass", "issues": []}
        if options.get("tools"):
            answered = any(str(m.get("tool_call_id", "")).startswith(GOLD_ID) for m in messages)
            if answered or not task.gold.tool_calls:
                return reply
            calls = [RequestedToolCall(f"{GOLD_ID}{i}", c.name, dict(c.arguments), json.dumps(c.arguments))
                     for i, c in enumerate(task.gold.tool_calls)]
            return ChatResponse(tool_calls=calls)
        return reply

    return script


class GoldPool:
    def __init__(self, task: GoldenTask) -> None:
        self.task = task

    def client(self, vendor: str) -> ModelClient:
        return ScriptedClient(gold_player(self.task), vendor=vendor, model="gold", simulated=True)


async def _perfect_results(tasks: list[GoldenTask]) -> list[RunResult]:
    results = []
    for task in tasks:
        for mode in MODES:
            trace = await run_task(task, BUILTIN_SYSTEMS["multi_agent"], "gold-player", clients=GoldPool(task),
                                   mode=mode)
            grade = grade_run(task, trace)
            results.append(RunResult(key=RunKey(task_id=task.id, task_version=task.version, system="multi_agent",
                                                vendor="gold-player", trial=0, mode=mode),
                                     seed=0, status=grade.status, simulated=True, grade=grade, trace=trace,
                                     usage=trace.usage, latency_s=trace.latency_s, finished_at="2026-12-07T00:00:00Z"))
    return results


@pytest.fixture(scope="module")
def golden_set() -> list[GoldenTask]:
    return load_tasks(FIXTURES)


async def test_a_perfect_model_is_reliable_at_every_model_hop_and_predicted_equals_measured(golden_set) -> None:
    results = await _perfect_results(golden_set)
    system = [r for r in results if r.key.mode == "system"]
    failed = [(r.key.task_id, [c.name for c in r.grade.checks if not c.passed]) for r in system if r.status != "passed"]
    assert not failed
    for result in results:
        hop = "" if result.key.mode == "system" else result.key.mode.removeprefix("isolated:")
        for name, verdict in result.grade.hops.items():
            if name == "retrieve" or (hop and name != hop):
                continue  # the retrieval step is BM25 and record lookups: no model to be perfect
            assert verdict.ok in (True, None), (result.key.as_str(), verdict)
    # retrieval has no model in it: the same alone and in the system, and it reaches every task's evidence
    retrieve = {r.key.task_id: r.grade.hops["retrieve"].ok for r in results if r.key.mode == "system"}
    alone = {r.key.task_id: r.grade.hops["retrieve"].ok for r in results if r.key.mode == "isolated:retrieve"}
    assert retrieve == alone
    assert all(ok is not False for ok in retrieve.values()), retrieve
    _assert_perfect_card(results)


def _assert_perfect_card(results: list[RunResult]) -> None:
    """Every hop 1.0 alone and in the system, predicted = measured = 1, gap 0, nothing to fix."""
    (config,) = build_card(results).configs
    rel = config.reliability
    assert [h.hop for h in rel.hops] == ["route", "retrieve", "act", "draft", "verify"]
    for row in rel.hops:
        assert row.isolated == 1.0 and row.in_system == 1.0, row
    assert rel.basis == "isolated"
    assert rel.predicted == 1.0 and config.rate == 1.0 and rel.gap == 0.0
    assert (rel.gap_low, rel.gap_high) == (0.0, 0.0)
    assert rel.fix_first == [] and rel.recovered == 0.0


@pytest.mark.e2e
async def test_the_zero_error_simulated_vendor_is_reliable_at_every_hop_alone_and_in_the_system(
        golden_set, tmp_path) -> None:
    """Issue 13's "done when" on the real thing: real runners, the simulated vendor over HTTP
    with the zero-error profile ``sim-perfect``, the whole golden set in every mode."""
    from baton.engine import Matrix, run_matrix
    from baton.store import iter_results
    from baton.vendor_config import builtin_profiles

    matrix = Matrix(tasks=golden_set, systems=[BUILTIN_SYSTEMS["multi_agent"]], vendors=["sim-perfect"],
                    trials=1, seed=0, modes=MODES)
    await run_matrix(matrix, profiles=builtin_profiles(), run_dir=tmp_path / "run", concurrency=16,
                     use_cache=False)
    results = list(iter_results(tmp_path / "run"))
    assert len(results) == len(golden_set) * len(MODES)
    for result in results:
        assert result.trace.infra_error is None, result.key.as_str()
        assert result.simulated or result.key.mode == "isolated:retrieve"  # no model call in that mode
        hop = "" if result.key.mode == "system" else result.key.mode.removeprefix("isolated:")
        for name, verdict in result.grade.hops.items():
            if not hop or name == hop:
                assert verdict.ok in (True, None), (result.key.as_str(), verdict)
    assert all(r.status == "passed" for r in results if r.key.mode == "system")
    _assert_perfect_card(results)


@pytest.mark.e2e
async def test_isolated_is_never_below_in_system_beyond_noise_on_the_simulated_profiles(golden_set, tmp_path) -> None:
    from baton.engine import Matrix, run_matrix
    from baton.store import iter_results
    from baton.vendor_config import builtin_profiles

    systems = [BUILTIN_SYSTEMS[name] for name in ("naive", "rag", "multi_agent")]
    matrix = Matrix(tasks=golden_set, systems=systems, vendors=["sim-frontier", "sim-small"], trials=1, seed=0,
                    modes=MODES)
    await run_matrix(matrix, profiles=builtin_profiles(), run_dir=tmp_path / "run", concurrency=16,
                     cache_dir=tmp_path / "cache")
    card = build_card(iter_results(tmp_path / "run"))
    assert len(card.configs) == 6
    expected = {"multi_agent": {"route", "retrieve", "act", "draft", "verify"}, "rag": {"retrieve", "draft"},
                "naive": {"draft"}}
    for config in card.configs:
        rows = config.reliability.hops
        assert {h.hop for h in rows} == expected[config.system]
        if config.system == "naive":  # one hop, nothing upstream: no isolated mode, nothing to compare
            assert config.reliability.basis == "in-system" and rows[0].isolated is None
            continue
        assert config.reliability.basis == "isolated"
        for row in rows:
            assert row.isolated is not None and row.in_system is not None, (config.label, row)
            noise = 1.96 * math.sqrt(row.isolated * (1 - row.isolated) / row.isolated_n
                                     + row.in_system * (1 - row.in_system) / row.in_system_n)
            assert row.isolated >= row.in_system - noise, (config.label, row, noise)
        # the headline's signs agree: gap = predicted - measured, inside its own interval
        rel = config.reliability
        assert rel.gap == pytest.approx(rel.predicted - config.rate)
        assert rel.gap_low is not None and rel.gap_low <= rel.gap_high
        assert rel.waterfall[0].value == rel.predicted and rel.waterfall[-1].value == config.rate
        assert sum(s.value for s in rel.waterfall[1:-1]) == pytest.approx(config.rate - rel.predicted)
