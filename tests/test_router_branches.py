"""The article's router pattern (a router picks the small or the frontier model, then a verify
node checks the answer): the router declares itself a model selection, so it is never graded
against the task's intent label; the card reports it by branch: share, cost and success."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from baton.fixtures import load_tasks
from baton.graders import grade_run
from baton.model import ChatResponse, Message, ModelClient, ScriptedClient
from baton.reports.aggregate import build_card
from baton.result import RunKey, RunResult
from baton.runners import run_task
from baton.systems import SystemConfig
from baton.task import GoldenTask
from baton.trace import Usage

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = f"{ROOT}/examples/langgraph_router.py:graph"
MODELS = {"small": "small-vendor", "frontier": "frontier-vendor"}
PRICE = {"small-vendor": 0.0001, "frontier-vendor": 0.01}


class Pool:
    """Both models answer the question with the task's gold facts; the frontier one costs more."""

    def __init__(self, task: GoldenTask) -> None:
        self.task = task

    def client(self, vendor: str) -> ModelClient:
        facts = "; ".join(f.forms[0] for f in self.task.gold.facts)

        def script(messages: Sequence[Message], options: dict[str, Any]) -> Any:
            usage = Usage(input_tokens=100, output_tokens=10, cost_usd=PRICE.get(vendor, 0.0), calls=1)
            if options.get("schema"):
                return ChatResponse(parsed={"verdict": "pass", "issues": []}, text="{}", usage=usage)
            return ChatResponse(text=f"From what I found: {facts}." if facts else "Thanks, noted.", usage=usage)

        return ScriptedClient(script, vendor=vendor, simulated=True)


def router_system(purposes: dict[str, str]) -> SystemConfig:
    return SystemConfig(name="router", architecture="langgraph", params={"target": EXAMPLE, "models": MODELS},
                        hop_purposes=purposes)


async def _results(system: SystemConfig, tasks: Path = ROOT / "fixtures") -> list[RunResult]:
    results = []
    for task in load_tasks(tasks):
        trace = await run_task(task, system, "cell-vendor", clients=Pool(task))
        grade = grade_run(task, trace)
        results.append(RunResult(key=RunKey(task_id=task.id, task_version=task.version, system=system.name,
                                            vendor="cell-vendor", trial=0), seed=0, status=grade.status,
                                 simulated=True, grade=grade, trace=trace, usage=trace.usage,
                                 latency_s=trace.latency_s, finished_at="2026-12-07T00:00:00Z"))
    return results


@pytest.fixture(scope="module")
def declared() -> list[RunResult]:
    return asyncio.run(_results(router_system({"router": "model_select", "small_model": "draft",
                                               "frontier_model": "draft", "verify": "verify"})))


def test_a_model_selection_route_is_never_graded_against_the_intent_label(declared) -> None:
    for result in declared:
        assert result.trace.hops[0].purpose == "model_select"
        assert "route" not in result.grade.components
        assert result.grade.hops["route"].ok is None  # not applicable: no intent routing hop
        assert result.grade.choices == {"router": result.trace.hops[0].output["route"]}
        assert result.grade.first_divergent_hop != "route"
    (config,) = build_card(declared).configs
    assert "route" not in {h.hop for h in config.reliability.hops}
    assert "route" not in {s.name for s in config.failure_hops}
    assert "verify" in {h.hop for h in config.reliability.hops}


def test_branches_show_share_cost_and_success(declared) -> None:
    (config,) = build_card(declared).configs
    branches = {b.choice: b for b in config.reliability.branches}
    assert set(branches) == {"small", "frontier"}  # the golden set has short and long questions
    assert sum(b.runs for b in branches.values()) == config.counted
    assert sum(b.share for b in branches.values()) == pytest.approx(1.0)
    for choice, branch in branches.items():
        mine = [r for r in declared if r.grade.choices["router"] == choice]
        assert branch.runs == len(mine)
        assert branch.successes == sum(r.status == "passed" for r in mine)
        assert branch.rate == pytest.approx(branch.successes / branch.runs)
        # the answering model plus the frontier verifier, per run
        answer_price = PRICE[MODELS[choice]]
        assert branch.cost_per_run == pytest.approx(answer_price + PRICE["frontier-vendor"])
    assert branches["frontier"].cost_per_run > branches["small"].cost_per_run


async def test_undeclared_router_is_graded_as_intent_routing_and_fails_it() -> None:
    # Without the declaration the same router reads as an intent router: its 'small'/'frontier'
    # labels never equal an intent label, so it is wrong on every task.
    results = await _results(router_system({}), ROOT / "fixtures" / "billing")
    assert all(r.grade.hops["route"].ok is False for r in results)
