"""multi_agent on the reference task with scripted models: hops, revise loop, tool errors,
infrastructure errors, isolated modes, gold blindness, concurrency, JSON round trip."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from baton.errors import ConfigError
from baton.fixtures import load_tasks
from baton.model import ChatResponse, InfraError, Message, ModelClient, RequestedToolCall, ScriptedClient
from baton.runners import run_task, supports_mode
from baton.systems import BUILTIN_SYSTEMS, SystemConfig
from baton.task import GoldenTask
from baton.trace import Trace

TASK_FILE = Path(__file__).resolve().parents[1] / "fixtures/billing/tasks/refund-unauthorized-4471.yaml"
MULTI = BUILTIN_SYSTEMS["multi_agent"]
OUTPUT_KEYS = {"route": {"route"}, "retrieve": {"doc_ids", "record_ids"}, "generate": {"text"},
               "tool": {"name", "arguments", "result", "error", "side_effect"}, "verify": {"verdict", "issues"}}


@pytest.fixture(scope="module")
def task() -> GoldenTask:
    return load_tasks(TASK_FILE)[0]


class Pool:
    """Every vendor answers with the same script; counts the clients handed out."""

    def __init__(self, script: Callable[[Sequence[Message], dict[str, Any]], Any], simulated: bool = False) -> None:
        self.script = script
        self.simulated = simulated
        self.vendors: list[str] = []

    def client(self, vendor: str) -> ModelClient:
        self.vendors.append(vendor)
        return ScriptedClient(self.script, vendor=vendor, model=f"{vendor}-model", simulated=self.simulated)


def agent(*, amount: float = 49.0, verdicts: Sequence[str] = ("pass",)) -> Callable[..., Any]:
    """A well-behaved agent: routes to refunds, refunds #4471, quotes the tool's result."""
    queue = list(verdicts)

    def script(messages: Sequence[Message], options: dict[str, Any]) -> Any:
        schema = options.get("schema") or {}
        if "route" in schema.get("properties", {}):
            return {"route": "billing_refund"}
        if "verdict" in schema.get("properties", {}):
            verdict = queue.pop(0) if queue else "pass"
            return {"verdict": verdict, "issues": [] if verdict == "pass" else ["the reply omits the timing"]}
        if options.get("tools"):
            results = [m for m in messages if m.get("role") == "tool" and not str(m["tool_call_id"]).startswith("lookup")]
            if not results:
                args = {"invoice_id": "4471", "amount": amount, "reason": "unauthorized"}
                return ChatResponse(tool_calls=[RequestedToolCall("c1", "refund_invoice", args, json.dumps(args))])
            last = str(results[-1]["content"])
            if last.startswith("ERROR"):
                return f"Sorry, the refund failed: {last}"
            ref = json.loads(last)["refund_id"]
            return f"I refunded $49 (reference {ref})."
        if any("Rewrite the reply" in str(m.get("content")) for m in messages):
            return "I refunded $49 (reference RF-4471-2); it arrives in 3-5 business days."
        return "Plan: look up invoice 4471, refund 49 USD as unauthorized."

    return script


async def run(task: GoldenTask, pool: Pool, system: SystemConfig = MULTI, mode: str = "system") -> Trace:
    return await run_task(task, system, "vendor-a", clients=pool, mode=mode)


async def test_every_hop_kind_with_its_output_keys(task: GoldenTask) -> None:
    trace = await run(task, Pool(agent()))
    assert {h.kind for h in trace.hops} == set(OUTPUT_KEYS)
    for hop in trace.hops:
        assert OUTPUT_KEYS[hop.kind] <= set(hop.output), hop
    assert [(h.kind, h.name) for h in trace.hops] == [
        ("route", "route"), ("retrieve", "retrieve"), ("tool", "retrieve"), ("retrieve", "retrieve"),
        ("generate", "draft"), ("generate", "act"), ("tool", "act"), ("generate", "act"), ("verify", "verify")]
    assert trace.hops[0].output["route"] == "billing_refund"
    retrieve, follow_up = trace.hops_of("retrieve")
    assert "refund-policy-2026" in retrieve.output["doc_ids"]
    assert retrieve.output["record_ids"] == ["invoices/4471"]
    assert len(retrieve.output["whole_documents"]) == 2  # expand_docs
    # the second pass asks the documents about the record found, and adds only what is new
    assert follow_up.input["pass"] == "records" and follow_up.input["records"] == ["invoices/4471"]
    assert "4471" in follow_up.input["query"]
    assert not set(follow_up.output["doc_ids"]) & set(retrieve.output["whole_documents"])
    lookup, refund = trace.tool_calls()
    assert (lookup.output["name"], lookup.output["side_effect"]) == ("get_invoice", False)
    assert refund.output["result"]["refund_id"] == "RF-4471-2" and refund.output["side_effect"] is True
    assert "RF-4471-2" in trace.answer
    assert trace.final_state["invoices"]["4471"]["status"] == "refunded"
    assert trace.vendors == {r: "vendor-a" for r in ("router", "drafter", "actor", "verifier")}
    assert trace.usage.calls == sum(h.usage.calls for h in trace.hops) == 5
    assert trace.infra_error is None and not trace.simulated


async def test_verifier_fails_once_then_passes(task: GoldenTask) -> None:
    trace = await run(task, Pool(agent(verdicts=["fail", "pass"])))
    names = [h.name for h in trace.hops]
    assert names[-3:] == ["verify", "revise", "verify"]
    assert [h.output["verdict"] for h in trace.hops_of("verify")] == ["fail", "pass"]
    assert trace.hops_of("verify")[0].output["issues"] == ["the reply omits the timing"]
    assert trace.answer == trace.hops[-2].output["text"] and "3-5 business days" in trace.answer


async def test_revisions_stop_at_max_revisions(task: GoldenTask) -> None:
    system = SystemConfig(name="strict", architecture="multi_agent", params={"max_revisions": 2})
    trace = await run(task, Pool(agent(verdicts=["fail"] * 5)), system)
    assert [h.name for h in trace.hops].count("revise") == 2
    assert len(trace.hops_of("verify")) == 3


async def test_tool_error_is_recorded_and_fed_back(task: GoldenTask) -> None:
    trace = await run(task, Pool(agent(amount=99.0)))
    refund = trace.tool_calls()[-1]
    assert refund.error == refund.output["error"] and "exceeds the invoice amount" in refund.error
    assert refund.output["result"] is None
    assert "refund failed" in trace.answer and "exceeds" in trace.answer
    assert trace.final_state["invoices"]["4471"]["status"] == "paid"
    assert trace.infra_error is None


async def test_infra_error_stops_the_run(task: GoldenTask) -> None:
    def script(messages: Sequence[Message], options: dict[str, Any]) -> Any:
        if options.get("tools"):
            raise InfraError("HTTP 503 after 3 retries")
        return agent()(messages, options)

    trace = await run(task, Pool(script))
    assert trace.hops[-1].name == "act" and trace.hops[-1].infra_error
    assert "503" in (trace.infra_error or "") and "actor" in (trace.infra_error or "")
    assert not trace.hops_of("verify")
    assert trace.final_state["invoices"]["4471"]["status"] == "paid"


async def test_router_mistake_is_the_systems_error(task: GoldenTask) -> None:
    def script(messages: Sequence[Message], options: dict[str, Any]) -> Any:
        if "route" in (options.get("schema") or {}).get("properties", {}):
            return ChatResponse(text="{not json", error="malformed JSON")
        return agent()(messages, options)

    trace = await run(task, Pool(script))
    route = trace.hops[0]
    assert route.output == {"route": None} and route.error == "malformed JSON" and not route.infra_error
    assert trace.infra_error is None and trace.hops[-1].kind == "verify"


async def test_roles_use_their_own_vendors(task: GoldenTask) -> None:
    system = SystemConfig(name="small-router", architecture="multi_agent", roles={"router": "tiny"})
    pool = Pool(agent(), simulated=True)
    trace = await run(task, pool, system)
    assert trace.vendors["router"] == "tiny" and trace.vendors["actor"] == "vendor-a"
    assert trace.hops[0].vendor == "tiny" and trace.hops[0].model == "tiny-model"
    assert trace.simulated


async def test_no_hop_reads_gold(task: GoldenTask) -> None:
    other_gold = task.gold.model_copy(update={"route": "other", "evidence": ["plan-changes"], "tool_calls": []})
    blind = task.model_copy(update={"gold": other_gold})
    first, second = await run(task, Pool(agent())), await run(blind, Pool(agent()))
    strip = {"latency_s"}
    assert [h.model_dump(exclude=strip | {"usage"}) for h in first.hops] == \
        [h.model_dump(exclude=strip | {"usage"}) for h in second.hops]
    assert first.answer == second.answer


@pytest.mark.parametrize("hop", ["route", "retrieve", "draft", "act", "verify"])
async def test_isolated_modes(task: GoldenTask, hop: str) -> None:
    trace = await run(task, Pool(agent(verdicts=["fail"])), mode=f"isolated:{hop}")
    assert trace.mode == f"isolated:{hop}"
    assert trace.hops and all(h.isolated for h in trace.hops)
    names = [h.name for h in trace.hops]
    if hop == "route":
        assert names == ["route"]
    elif hop == "retrieve":
        assert names == ["retrieve", "retrieve", "retrieve"]  # pass 1, its lookup, the records pass
        assert trace.hops[0].input["route"] == "billing_refund"  # the gold route, injected
    elif hop == "draft":
        draft = trace.hops[0]
        assert names == ["draft", "act", "act", "answer"] and draft.input["route"] == "billing_refund"
        assert draft.input["doc_ids"] == ["refund-policy-2026", "unauthorized-charges"]
        assert draft.input["record_ids"] == ["invoices/4471"]
        # the reply is written from the gold tool results, as a correct upstream would have left them
        assert trace.hops[-1].input["tool_calls"] == [c.name for c in task.gold.tool_calls]
        assert trace.answer == trace.hops[-1].output["text"]
    elif hop == "act":
        assert names == ["act", "act", "act"]
        assert trace.final_state["invoices"]["4471"]["status"] == "refunded"
    else:
        assert names == ["draft", "act", "act", "answer", "verify"]
        replayed = [h.output["name"] for h in trace.tool_calls()]
        assert replayed == [c.name for c in task.gold.tool_calls]
        assert trace.hops[-1].output["verdict"] == "fail"
        assert "RF-4471-2" in trace.hops[-1].input["answer"] or trace.hops[-1].input["tool_calls"]
        assert trace.final_state["refunds"]["RF-4471-2"]["amount"] == 49.0


async def test_isolated_mode_support(task: GoldenTask) -> None:
    assert supports_mode(MULTI, "isolated:act")
    assert supports_mode(BUILTIN_SYSTEMS["rag"], "isolated:retrieve")
    assert supports_mode(BUILTIN_SYSTEMS["rag"], "isolated:draft")
    assert not supports_mode(BUILTIN_SYSTEMS["rag"], "isolated:act")
    from baton.errors import ConfigError

    with pytest.raises(ConfigError, match="isolated hops: none"):
        await run(task, Pool(agent()), BUILTIN_SYSTEMS["naive"], mode="isolated:route")
    with pytest.raises(ConfigError, match="isolated:<hop>"):
        await run(task, Pool(agent()), mode="isolated:answer")


async def test_concurrent_runs_keep_their_worlds_apart(task: GoldenTask) -> None:
    refunding, failing = await asyncio.gather(run(task, Pool(agent())), run(task, Pool(agent(amount=99.0))))
    assert refunding.final_state["invoices"]["4471"]["status"] == "refunded"
    assert "RF-4471-2" in refunding.final_state["refunds"]
    assert failing.final_state["invoices"]["4471"]["status"] == "paid"
    assert "RF-4471-2" not in failing.final_state["refunds"]
    again = await run(task, Pool(agent()))
    assert again.tool_calls()[-1].output["result"]["refund_id"] == "RF-4471-2"  # a fresh world each run


async def test_trace_round_trips_through_json(task: GoldenTask) -> None:
    trace = await run(task, Pool(agent(verdicts=["fail", "pass"])))
    text = trace.model_dump_json()
    assert Trace.model_validate_json(text) == trace
    assert json.loads(text)["hops"][1]["output"]["chunks"][0]["doc_id"]


async def test_the_benchmark_stub_drives_every_hop(task: GoldenTask) -> None:
    from baton.runners.stub import StubClients

    trace = await run_task(task, MULTI, "stub", clients=StubClients())
    assert {h.kind for h in trace.hops} == set(OUTPUT_KEYS) and trace.simulated
    assert trace.hops[0].output["route"] == "billing_refund"
    assert trace.tool_calls()[-1].output["name"] == "refund_invoice"


async def test_unparseable_tool_arguments_are_a_tool_error_without_a_call(task: GoldenTask) -> None:
    def script(messages: Sequence[Message], options: dict[str, Any]) -> Any:
        if options.get("tools") and not any(m.get("role") == "tool" and m["tool_call_id"] == "bad" for m in messages):
            return ChatResponse(tool_calls=[RequestedToolCall("bad", "refund_invoice", {}, "{invoice_id: 4471",
                                                              error="tool arguments are not valid JSON")])
        return agent()(messages, options) if not options.get("tools") else "I could not do it."

    trace = await run(task, Pool(script))
    bad = trace.tool_calls()[-1]
    assert bad.name == "act" and bad.error == "tool arguments are not valid JSON"
    assert bad.output["arguments"] == {} and bad.output["result"] is None
    assert [c.name for c in trace.tool_calls()] == ["retrieve", "act"]
    assert trace.final_state["invoices"]["4471"]["status"] == "paid"


async def test_retrieval_passes_are_parameters(task: GoldenTask) -> None:
    plain = SystemConfig(name="plain", architecture="multi_agent",
                         params={"expand_docs": 0, "follow_up_k": 0, "top_k": 2})
    trace = await run(task, Pool(agent()), plain)
    (retrieve,) = trace.hops_of("retrieve")
    assert retrieve.output["whole_documents"] == [] and len(retrieve.output["chunks"]) <= 2
    wide = SystemConfig(name="wide", architecture="multi_agent", params={"expand_docs": 3})
    trace = await run(task, Pool(agent()), wide)
    first = trace.hops_of("retrieve")[0]
    assert len(first.output["whole_documents"]) == 3
    assert first.output["doc_ids"][:3] == first.output["whole_documents"]
    bad = SystemConfig(name="bad", architecture="multi_agent", params={"follow_up_k": "many"})
    with pytest.raises(ConfigError, match="follow_up_k"):
        await run(task, Pool(agent()), bad)
    negative = SystemConfig(name="negative", architecture="multi_agent", params={"expand_docs": -1})
    with pytest.raises(ConfigError, match=r"params.expand_docs: expected an integer >= 0, got -1"):
        await run(task, Pool(agent()), negative)
