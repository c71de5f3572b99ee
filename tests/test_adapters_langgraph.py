"""The LangGraph adapter: node updates become hops; the shipped router example on the sim vendor."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from langgraph.graph import END, START, MessagesState, StateGraph

from baton.errors import ConfigError
from baton.fixtures import load_tasks
from baton.model import Message, ModelClient, ScriptedClient
from baton.runners import run_task
from baton.runners.adapters.langgraph import node_kind
from baton.systems import SystemConfig
from baton.task import GoldenTask

ROOT = Path(__file__).resolve().parents[1]
TASK_FILE = ROOT / "fixtures/billing/tasks/refund-unauthorized-4471.yaml"
EXAMPLE = f"{ROOT}/examples/langgraph_router.py:graph"
MODELS = {"small": "tiny-vendor", "frontier": "big-vendor"}


@pytest.fixture(scope="module")
def task() -> GoldenTask:
    return load_tasks(TASK_FILE)[0]


class Pool:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def client(self, vendor: str) -> ModelClient:
        def script(messages: Sequence[Message], options: dict[str, Any]) -> Any:
            self.asked.append(vendor)
            if options.get("schema"):
                return {"verdict": "fail", "issues": ["no refund reference"]}
            return f"{vendor} says: refunds take 3-5 business days."

        return ScriptedClient(script, vendor=vendor, simulated=vendor == "tiny-vendor")


def lg_system(target: str = EXAMPLE, **params: Any) -> SystemConfig:
    return SystemConfig(name="lg", architecture="langgraph", params={"target": target, "models": MODELS, **params})


async def test_short_question_goes_to_the_small_model(task: GoldenTask) -> None:
    pool = Pool()
    trace = await run_task(task, lg_system(), "cell-vendor", clients=pool)
    assert [(h.kind, h.name) for h in trace.hops] == [("route", "router"), ("generate", "small_model"),
                                                      ("verify", "verify")]
    assert trace.hops[0].output["route"] == "small"
    assert trace.hops[1].output["text"] == trace.answer == "tiny-vendor says: refunds take 3-5 business days."
    assert trace.hops[2].output["verdict"] == "fail" and trace.hops[2].output["issues"] == ["no refund reference"]
    assert pool.asked == ["tiny-vendor", "big-vendor"]
    assert [h.usage.calls for h in trace.hops] == [0, 1, 1]  # usage lands on the node that called
    assert trace.vendors == {"small": "tiny-vendor", "frontier": "big-vendor"} and trace.simulated


async def test_long_question_goes_to_the_frontier_model(task: GoldenTask) -> None:
    long = task.model_copy(update={"request": task.request + " It was added by a former admin last month, "
                                              "and I never approved those seats at all."})
    trace = await run_task(long, lg_system(), "cell-vendor", clients=Pool())
    assert [h.name for h in trace.hops] == ["router", "frontier_model", "verify"]
    assert trace.answer.startswith("big-vendor") and not trace.simulated


def echo_graph() -> Any:
    def lookup(state: MessagesState) -> dict[str, Any]:
        return {"messages": [{"role": "assistant", "content": "found invoice 4471"}]}

    builder = StateGraph(MessagesState)
    builder.add_node("lookup", lookup)
    builder.add_edge(START, "lookup")
    builder.add_edge("lookup", END)
    return builder  # uncompiled: the adapter compiles it


async def test_hop_kind_mapping_and_message_answers(task: GoldenTask) -> None:
    trace = await run_task(task, lg_system(f"{__name__}:echo_graph", hop_kinds={"lookup": "retrieve"}), "v",
                           clients=Pool())
    (hop,) = trace.hops[:1]
    assert hop.kind == "retrieve" and hop.output["doc_ids"] == [] and hop.output["record_ids"] == []
    assert hop.output["update"]["messages"][0]["content"] == "found invoice 4471"
    assert trace.answer == "found invoice 4471"
    assert trace.hops[-1].kind == "generate" and trace.hops[-1].output["text"] == trace.answer


def failing_graph() -> Any:
    def boom(state: MessagesState) -> dict[str, Any]:
        raise RuntimeError("node crashed")

    builder = StateGraph(MessagesState)
    builder.add_node("boom", boom)
    builder.add_edge(START, "boom")
    builder.add_edge("boom", END)
    return builder.compile()


async def test_a_crashing_graph_is_the_systems_failure(task: GoldenTask) -> None:
    trace = await run_task(task, lg_system(f"{__name__}:failing_graph"), "v", clients=Pool())
    assert "node crashed" in (trace.hops[-1].error or "") and trace.infra_error is None


def crashing_after_a_lookup() -> Any:
    def lookup(state: MessagesState) -> dict[str, Any]:
        return {"messages": [{"role": "assistant", "content": "found invoice 4471"}]}

    def boom(state: MessagesState) -> dict[str, Any]:
        raise RuntimeError("drafting crashed")

    builder = StateGraph(MessagesState)
    builder.add_node("lookup", lookup)
    builder.add_node("draft", boom)
    builder.add_edge(START, "lookup")
    builder.add_edge("lookup", "draft")
    builder.add_edge("draft", END)
    return builder.compile()


async def test_the_hops_before_a_crash_stay_in_the_trace(task: GoldenTask) -> None:
    # A node that raises ends the run as the system's failure; the nodes that ran before it are
    # still hops of the run, so the card sees where the run got to (they were dropped).
    trace = await run_task(task, lg_system(f"{__name__}:crashing_after_a_lookup", hop_kinds={"lookup": "retrieve"}),
                           "v", clients=Pool())
    assert [(h.kind, h.name) for h in trace.hops] == [("retrieve", "lookup"), ("generate", "langgraph")]
    assert trace.hops[0].error is None and "drafting crashed" in (trace.hops[1].error or "")
    assert trace.answer == "" and trace.infra_error is None


async def test_langgraph_config_errors(task: GoldenTask) -> None:
    with pytest.raises(ConfigError, match="expected one of route"):
        await run_task(task, lg_system(f"{__name__}:echo_graph", hop_kinds={"lookup": "search"}), "v", clients=Pool())
    with pytest.raises(ConfigError, match="expected a LangGraph graph"):
        await run_task(task, lg_system(f"{__name__}:MODELS"), "v", clients=Pool())
    with pytest.raises(ConfigError, match="no model named 'small'"):
        await run_task(task, SystemConfig(name="lg", architecture="langgraph", params={"target": EXAMPLE}), "v",
                       clients=Pool())


def test_node_kinds_from_names() -> None:
    assert [node_kind(n, {}) for n in ["router", "retrieve_docs", "verify", "call_tools", "agent"]] == \
        ["route", "retrieve", "verify", "tool", "generate"]


@pytest.mark.e2e
async def test_the_langgraph_example_against_the_sim_vendor(task: GoldenTask) -> None:
    from baton.client import ClientPool
    from baton.vendor_config import builtin_profiles

    system = lg_system(models={"small": "sim-small", "frontier": "sim-frontier"})
    async with ClientPool(builtin_profiles()) as pool:
        trace = await run_task(task, system, "sim-frontier", clients=pool)
    assert trace.infra_error is None and trace.simulated
    assert [h.kind for h in trace.hops] == ["route", "generate", "verify"]
    assert trace.hops[2].output["verdict"] in ("pass", "fail") and trace.answer
