"""The callable adapter, and the shipped callable example against the simulated vendor."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from baton.errors import ConfigError
from baton.fixtures import load_tasks
from baton.model import ChatResponse, Message, ModelClient, RequestedToolCall, ScriptedClient
from baton.runners import AdapterRequest, AdapterResponse, HopEvent, run_task
from baton.systems import SystemConfig
from baton.task import GoldenTask

ROOT = Path(__file__).resolve().parents[1]
TASK_FILE = ROOT / "fixtures/billing/tasks/refund-unauthorized-4471.yaml"


@pytest.fixture(scope="module")
def task() -> GoldenTask:
    return load_tasks(TASK_FILE)[0]


class NoModels:
    def client(self, vendor: str) -> ModelClient:
        raise AssertionError("this system uses no Baton model")


def system(target: str, **params: Any) -> SystemConfig:
    return SystemConfig(name="mine", architecture="callable", params={"target": target, **params})


def sync_agent(request: AdapterRequest) -> str:
    assert request.mcp_url and request.request.startswith("My invoice #4471")
    assert "gold" not in request.model_dump() and {d["id"] for d in request.documents} >= {"refund-policy-2026"}
    return f"Seen {len(request.tools)} tools"


async def refunding_agent(request: AdapterRequest) -> AdapterResponse:
    async with Client(request.mcp_url) as mcp:
        result = await mcp.call_tool("refund_invoice", {"invoice_id": "4471", "amount": 49.0, "reason": "unauthorized"})
        missing = await mcp.call_tool("get_invoice", {"invoice_id": "1"})
    ref = json.loads(result.content[0].text)["refund_id"]
    return AdapterResponse(answer=f"Refunded $49, reference {ref}.", hops=[
        HopEvent(kind="route", name="classify", output={"route": "billing_refund"}, started_s=0.0),
        HopEvent(kind="generate", name="write", output={"text": "Refunded"}, started_s=60.0),
        HopEvent(kind="tool", name="my_own_tool_log", output={"name": "refund_invoice"}),
    ] + ([] if missing.is_error else [HopEvent(kind="verify", name="x", output={})]))


def crashing_agent(request: AdapterRequest) -> str:
    raise KeyError("customer_tier")


async def test_sync_function_returning_a_string(task: GoldenTask) -> None:
    trace = await run_task(task, system(f"{__name__}:sync_agent"), "v", clients=NoModels())
    assert trace.answer == f"Seen {len(task.tools)} tools"
    assert [(h.kind, h.name, h.output) for h in trace.hops] == [("generate", "callable", {"text": trace.answer})]
    assert trace.architecture == "callable" and trace.infra_error is None


async def test_tool_calls_through_mcp_become_tool_hops(task: GoldenTask) -> None:
    trace = await run_task(task, system(f"{__name__}:refunding_agent"), "v", clients=NoModels())
    assert trace.answer == "Refunded $49, reference RF-4471-2."
    kinds = [(h.kind, h.name) for h in trace.hops]
    # the system's own tool log is dropped: the world's record of calls is authoritative;
    # the tool hops sit between the events by time
    assert kinds == [("route", "classify"), ("tool", "act"), ("tool", "act"), ("generate", "write")]
    refund, missing = trace.tool_calls()
    assert refund.output["result"]["refund_id"] == "RF-4471-2" and refund.output["side_effect"] is True
    assert missing.error and "no invoice" in missing.error
    assert trace.final_state["invoices"]["4471"]["status"] == "refunded"


async def test_a_crashing_system_is_a_failed_run_not_an_infra_error(task: GoldenTask) -> None:
    trace = await run_task(task, system(f"{__name__}:crashing_agent"), "v", clients=NoModels())
    assert trace.answer == "" and trace.infra_error is None
    assert trace.hops[-1].error == "KeyError: 'customer_tier'" and not trace.hops[-1].infra_error


async def test_bad_targets_are_config_errors(task: GoldenTask) -> None:
    with pytest.raises(ConfigError, match="params.target: expected 'module:attribute'"):
        await run_task(task, SystemConfig(name="mine", architecture="callable"), "v", clients=NoModels())
    with pytest.raises(ConfigError, match="has no attribute 'nope'"):
        await run_task(task, system(f"{__name__}:nope"), "v", clients=NoModels())
    with pytest.raises(ConfigError, match="not found"):
        await run_task(task, system("missing/agent.py:answer"), "v", clients=NoModels())


class ScriptedPool:
    """The actor refunds #4471, then quotes the result."""

    def client(self, vendor: str) -> ModelClient:
        def script(messages: Sequence[Message], options: dict[str, Any]) -> Any:
            results = [m for m in messages if m.get("role") == "tool"]
            if not results:
                args = {"invoice_id": "4471", "amount": 49.0, "reason": "unauthorized"}
                return ChatResponse(tool_calls=[RequestedToolCall("c1", "refund_invoice", args)])
            return f"Done: {results[-1]['content']}"

        return ScriptedClient(script, vendor=vendor, simulated=False)


async def test_the_callable_example_with_a_scripted_model(task: GoldenTask) -> None:
    trace = await run_task(task, system(f"{ROOT}/examples/callable_agent.py:answer"), "v", clients=ScriptedPool())
    assert [(h.kind, h.name) for h in trace.hops] == [("generate", "agent"), ("tool", "act"), ("generate", "agent")]
    assert "RF-4471-2" in trace.answer and trace.vendors == {"actor": "v"}
    assert trace.usage.calls == 2


@pytest.mark.e2e
async def test_the_callable_example_against_the_sim_vendor(task: GoldenTask) -> None:
    from baton.client import ClientPool
    from baton.vendor_config import builtin_profiles

    async with ClientPool(builtin_profiles()) as pool:
        trace = await run_task(task, system("examples/callable_agent.py:answer"), "sim-frontier", clients=pool)
    assert trace.simulated and trace.infra_error is None
    assert "refund_invoice" in [h.output["name"] for h in trace.tool_calls()]
    assert trace.final_state["invoices"]["4471"]["status"] == "refunded"
    assert "RF-4471-2" in trace.answer
