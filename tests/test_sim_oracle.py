"""The oracle end to end: real runners and graders against the simulated vendor over real HTTP.

With a zero-error profile the pipeline passes every golden task and every task of task sets that
appear nowhere in Baton; naive passes exactly what the request alone answers; rag exactly the
tasks that need no action and whose facts its retrieved chunks show. Mistakes
are realistic and stick."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from sim_taskgen import _domain, act_task, task_set

from baton.client import ClientPool
from baton.fixtures import load_tasks
from baton.graders import grade_run
from baton.graders.system import expects_action
from baton.runners import prompts, run_task
from baton.runners.retrieval import Chunk
from baton.sim.behaviour import respond
from baton.sim.knobs import SimKnobs
from baton.sim.seen import read_messages, visible_form
from baton.systems import BUILTIN_SYSTEMS
from baton.task import GoldenTask
from baton.validate import replay_gold
from baton.vendors import VendorProfile

PERFECT = {"perfect": VendorProfile(name="perfect", kind="sim", model="perfect")}
GOLDEN = load_tasks("fixtures")


async def _outcomes(tasks: list[GoldenTask], system: str, profiles: dict[str, VendorProfile] = PERFECT,
                    vendor: str = "perfect") -> dict[str, tuple[Any, Any]]:
    out = {}
    async with ClientPool(profiles, tasks=tasks) as pool:
        for task in tasks:
            trace = await run_task(task, BUILTIN_SYSTEMS[system], vendor, clients=pool)
            out[task.id] = (trace, grade_run(task, trace))
    return out


@pytest.mark.e2e
@pytest.mark.parametrize("seed", [1, 2])
async def test_zero_error_pipeline_passes_every_generated_task_and_agrees_with_gold_replay(seed: int) -> None:
    tasks = task_set(seed)
    results = await _outcomes(tasks, "multi_agent")
    for task in tasks:
        trace, grade = results[task.id]
        assert grade.status == "passed", (task.id, grade.failure_category, trace.answer)
        assert trace.final_state == replay_gold(task).snapshot(), task.id


def _facts_visible(task: GoldenTask, text: str) -> bool:
    seen = read_messages([{"role": "user", "content": text}])
    return all(visible_form(fact, seen) is not None for fact in task.gold.facts)


@pytest.mark.e2e
async def test_zero_error_pipeline_passes_every_golden_task_and_agrees_with_gold_replay() -> None:
    results = await _outcomes(GOLDEN, "multi_agent")
    failed = {t.id: (results[t.id][1].failure_category, results[t.id][0].answer)
              for t in GOLDEN if results[t.id][1].status != "passed"}
    assert not failed
    for task in GOLDEN:
        assert results[task.id][0].final_state == replay_gold(task).snapshot(), task.id


@pytest.mark.e2e
async def test_naive_passes_only_what_the_request_alone_answers() -> None:
    tasks = [*GOLDEN, *task_set(3)]
    results = await _outcomes(tasks, "naive")
    for task in tasks:
        prompt = "\n".join(m["content"] for m in prompts.naive(task))
        answerable = not expects_action(task) and _facts_visible(task, prompt)
        assert (results[task.id][1].status == "passed") == answerable, task.id


def _rag_prompt(task: GoldenTask, trace: Any) -> str:
    """What rag's answerer saw: the request and the chunks its retrieve hop handed on."""
    (retrieve,) = trace.hops_of("retrieve")
    chunks = [Chunk(c["doc_id"], c["text"]) for c in retrieve.output["chunks"]]
    return "\n".join(m["content"] for m in prompts.rag(task, chunks))


@pytest.mark.e2e
async def test_rag_answers_from_documents_but_cannot_act() -> None:
    """Exactly the tasks that need no action and whose facts the retrieved chunks (or the
    request) show pass; every generated answer/refuse task does (its documents are short)."""
    tasks = [*GOLDEN, *task_set(4)]
    results = await _outcomes(tasks, "rag")
    generated = {t.id for t in tasks[len(GOLDEN):]}
    for task in tasks:
        trace, grade = results[task.id]
        answerable = not expects_action(task) and _facts_visible(task, _rag_prompt(task, trace))
        assert (grade.status == "passed") == answerable, (task.id, grade.failure_category, trace.answer)
        if grade.status == "passed":
            docs = "\n".join(d.text for d in task.documents)
            assert _facts_visible(task, f"{docs}\n{task.request}"), task.id
        elif task.id in generated and task.gold.outcome in ("answer", "refuse"):
            pytest.fail(f"{task.id}: rag should answer from the documents: {trace.answer}")
    assert sum(results[t.id][1].status == "passed" for t in GOLDEN) >= 5
    assert any(results[t][1].status == "passed" for t in generated)


@pytest.mark.e2e
async def test_mistakes_stick_end_to_end() -> None:
    tasks = task_set(6, domains=1)
    profiles = {"lost": VendorProfile(name="lost", kind="sim", model="lost", sim={"wrong_label": 1.0}),
                "sloppy": VendorProfile(name="sloppy", kind="sim", model="sloppy",
                                        sim={"wrong_argument": 1.0, "dropped_fact": 1.0})}
    for vendor in profiles:
        results = await _outcomes(tasks, "multi_agent", profiles, vendor)
        for task in tasks:
            if task.gold.facts or expects_action(task):
                assert results[task.id][1].status == "failed", (vendor, task.id)


# --------------------------------------------------------------------------- single decisions


TASK = act_task(random.Random(9), _domain(random.Random(9)), writes=1)


def _ask(body: dict[str, Any], knobs: SimKnobs = SimKnobs(), seed: int = 0) -> dict[str, Any]:
    outcome = respond({"model": "m", "seed": seed, **body}, knobs, TASK)
    assert outcome.body is not None
    return outcome.body["choices"][0]["message"]


def test_a_wrong_label_is_another_offered_label() -> None:
    body = {"messages": prompts.router(TASK), "response_format": {
        "type": "json_schema", "json_schema": {"name": "r", "schema": prompts.router_schema(TASK)}}}
    labels = {json.loads(_ask(body, SimKnobs(wrong_label=1.0), seed)["content"])["route"] for seed in range(20)}
    assert TASK.gold.route not in labels and labels <= set(TASK.route_labels) and len(labels) >= 1
    assert json.loads(_ask(body)["content"]) == {"route": TASK.gold.route}


def _settle_body(extra_context: str = "") -> dict[str, Any]:
    """The request after the gold read: the next gold call is the write."""
    read = TASK.gold.tool_calls[0]
    record = TASK.world.collections[TASK.tools[0].effect.collection][read.arguments["ref"]]
    messages = [{"role": "system", "content": f"Act with the tools. {extra_context}"},
                {"role": "user", "content": TASK.request},
                {"role": "assistant", "content": None, "tool_calls": [{"id": "r1", "type": "function", "function": {
                    "name": read.name, "arguments": json.dumps(read.arguments)}}]},
                {"role": "tool", "tool_call_id": "r1", "content": json.dumps(record)}]
    return {"messages": messages, "tools": [s.openai_schema() for s in TASK.tools]}


def test_a_wrong_argument_is_a_near_duplicate_id_visible_in_context() -> None:
    ref = TASK.gold.tool_calls[-1].arguments["ref"]
    records = TASK.world.collections[TASK.tools[0].effect.collection]
    twin = next(rid for rid, r in records.items() if rid != ref and r["status"] == "open"
                and r["level"] >= records[ref]["level"])  # a record the call would also accept
    body = _settle_body(f"Also on file: {twin}.")
    right = _ask(body)["tool_calls"][0]["function"]
    assert right["name"] == TASK.gold.tool_calls[-1].name and json.loads(right["arguments"])["ref"] == ref
    wrong = json.loads(_ask(body, SimKnobs(wrong_argument=1.0))["tool_calls"][0]["function"]["arguments"])
    assert wrong["ref"] == twin


def test_arguments_follow_the_tool_schema_types() -> None:
    from baton.sim.oracle import conform

    schema = {"properties": {"tags": {"type": "array", "items": {"type": "string"}}, "n": {"type": "integer"},
                             "x": {"type": "number"}, "s": {"type": "string"}}}
    assert conform({"tags": "a", "n": "3", "x": "2.5", "s": 7}, schema) == {"tags": ["a"], "n": 3, "x": 2.5, "s": "7"}


def test_an_unseen_value_is_looked_up_or_asked_for() -> None:
    body = {"messages": [{"role": "user", "content": TASK.request}], "tools": [s.openai_schema() for s in TASK.tools]}
    first = _ask(body)["tool_calls"][0]["function"]
    assert first["name"] == TASK.gold.tool_calls[0].name  # the read gold starts with
    body["tools"] = [s.openai_schema() for s in TASK.tools if s.side_effect]  # no read tool offered
    reply = _ask(body)
    assert not reply.get("tool_calls") and "level" in reply["content"]


def test_malformed_json_and_determinism() -> None:
    body = _settle_body()
    cut = _ask(body, SimKnobs(malformed_json=1.0))["tool_calls"][0]["function"]["arguments"]
    with pytest.raises(ValueError):
        json.loads(cut)
    knobs = SimKnobs(wrong_argument=0.5, malformed_json=0.3)
    assert [_ask(body, knobs, s) for s in range(5)] == [_ask(body, knobs, s) for s in range(5)]


def test_a_model_told_the_wrong_topic_is_misled() -> None:
    other = next(label for label in TASK.route_labels if label != TASK.gold.route)
    body = _settle_body(f"Topic: {other}.")
    assert not _ask(body).get("tool_calls")


def test_the_verifier_approves_exactly_what_meets_the_gold() -> None:
    facts = "\n".join(f"Detail: {f.forms[0]}." for f in TASK.gold.facts)
    calls = "\n".join(f"{c.name}({json.dumps(c.arguments)}) -> {{}}" for c in TASK.gold.tool_calls)

    def verdict(reply: str, actions: str, knobs: SimKnobs = SimKnobs(), seed: int = 0) -> str:
        messages = prompts.verify(TASK, "(none)", actions, reply)
        out = _ask({"messages": messages, "response_format": {"type": "json_schema", "json_schema": {
            "name": "v", "schema": prompts.VERIFY_SCHEMA}}}, knobs, seed)
        return str(json.loads(out["content"])["verdict"])

    assert verdict(facts, calls) == "pass"
    assert verdict("Done.", calls) == "fail"  # facts left out
    assert verdict(facts, "(no actions taken)") == "fail"  # the action was not done
    assert verdict(facts, calls.replace(TASK.gold.tool_calls[-1].arguments["ref"], "ZZ-1")) == "fail"
    assert verdict("Done.", calls, SimKnobs(verify_miss=1.0)) == "pass"
    assert verdict(facts, calls, SimKnobs(verify_false_alarm=1.0)) == "fail"


def _namespaced(body: dict[str, Any], prefix: str) -> dict[str, Any]:
    """``body`` as a system that namespaces its tools sends it (CrewAI's MCP tools are
    ``<server>_<tool>``, other stacks ``mcp__<server>__<tool>``): every offered tool and every call
    in the history carries ``prefix``."""
    body = json.loads(json.dumps(body))
    for tool in body.get("tools", []):
        tool["function"]["name"] = prefix + tool["function"]["name"]
    for message in body["messages"]:
        for call in message.get("tool_calls") or []:
            call["function"]["name"] = prefix + call["function"]["name"]
    return body


@pytest.mark.parametrize("prefix", ["desk_", "mcp__desk__", "desk-"])
def test_namespaced_tool_names_are_the_tasks_tools(prefix: str) -> None:
    # A real model calls `desk_fetch_x` as readily as `fetch_x`; the simulator must too, or a
    # system that namespaces its tools scores lower for its naming alone.
    first = {"messages": [{"role": "user", "content": TASK.request}], "tools": [s.openai_schema() for s in TASK.tools]}
    for body in (first, _settle_body()):
        plain = _ask(body)["tool_calls"][0]["function"]
        named = _ask(_namespaced(body, prefix))["tool_calls"][0]["function"]
        assert named["name"] == prefix + plain["name"] and named["arguments"] == plain["arguments"]
    assert _ask(_settle_body())["tool_calls"][0]["function"]["name"] == TASK.gold.tool_calls[-1].name


def test_a_namespaced_name_that_could_be_two_tools_is_not_guessed() -> None:
    body = {"messages": [{"role": "user", "content": TASK.request}], "tools": [s.openai_schema() for s in TASK.tools]}
    doubled = _namespaced(body, "a_")
    doubled["tools"] += _namespaced(body, "b_")["tools"]  # a_fetch_x and b_fetch_x: which is the task's?
    assert not _ask(doubled).get("tool_calls")  # as if the task's tools were not offered
