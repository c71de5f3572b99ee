"""Calibration: the mistake rates the simulated vendor is given are the rates it measures.

The behaviour is called in process (the same function the HTTP server calls), decision by
decision, on a made-up task. n = 1,200 runs per check (at least 1,000): the analytical value must fall inside the
Wilson 95% interval of the measured rate.
"""

from __future__ import annotations

import json
import random
from typing import Any

from sim_taskgen import _domain, act_task, answer_task

from baton.graders import user_texts
from baton.graders.answer import check_facts
from baton.graders.facts import Extracted
from baton.graders.spans import AnswerText
from baton.runners import prompts
from baton.sim.behaviour import respond
from baton.sim.knobs import SimKnobs
from baton.stats import wilson_interval
from baton.task import GoldenTask
from baton.world import World

RUNS = 1200


def _body(messages: list[dict[str, Any]], seed: int, *, tools: list[dict[str, Any]] | None = None,
          schema: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "cal", "messages": messages, "seed": seed}
    if tools:
        body["tools"] = tools
    if schema is not None:
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "out", "schema": schema}}
    return body


def _message(task: GoldenTask, knobs: SimKnobs, body: dict[str, Any]) -> dict[str, Any]:
    outcome = respond(body, knobs, task)
    assert outcome.body is not None
    return outcome.body["choices"][0]["message"]


def _states_every_fact(task: GoldenTask, text: str) -> bool:
    report = check_facts(task, Extracted(AnswerText(text, user_texts(task))))
    return not report.missing and not report.claims


def _route_ok(task: GoldenTask, knobs: SimKnobs, run: int) -> bool:
    body = _body(prompts.router(task), run, schema=prompts.router_schema(task))
    return json.loads(_message(task, knobs, body)["content"]) == {"route": task.gold.route}


def _writes_ok(task: GoldenTask, knobs: SimKnobs, run: int) -> list[bool]:
    """Each side-effecting gold call, asked for with everything it needs in context: made exactly?"""
    tools = [spec.openai_schema() for spec in task.tools]
    world = World(task)
    messages: list[dict[str, Any]] = [{"role": "system", "content": "Do what the customer asks with the tools."},
                                      {"role": "user", "content": task.request}]
    results = []
    for i, gold in enumerate(task.gold.tool_calls):
        result = world.call(gold.name, dict(gold.arguments))
        if task.tool(gold.name).side_effect:
            message = _message(task, knobs, _body(messages, run * 100 + i, tools=tools))
            made = [(c["function"]["name"], json.loads(c["function"]["arguments"]))
                    for c in message.get("tool_calls") or ()]
            results.append(made == [(gold.name, gold.arguments)])
        call_id = f"c{i}"
        messages += [{"role": "assistant", "content": None, "tool_calls": [
                         {"id": call_id, "type": "function",
                          "function": {"name": gold.name, "arguments": json.dumps(gold.arguments)}}]},
                     {"role": "tool", "tool_call_id": call_id, "content": json.dumps(result, default=str)}]
    return results


def _reply_ok(task: GoldenTask, knobs: SimKnobs, run: int) -> bool:
    context = "\n".join(f"[{d.id}] {d.text}" for d in task.documents)
    body = _body([{"role": "system", "content": f"Context:\n{context}"}, {"role": "user", "content": task.request}], run)
    return _states_every_fact(task, _message(task, knobs, body)["content"])


def _inside(successes: int, expected: float) -> tuple[bool, str]:
    low, high = wilson_interval(successes, RUNS)
    return low <= expected <= high, f"measured {successes / RUNS:.3f} [{low:.3f}, {high:.3f}], analytical {expected:.3f}"


def test_six_decision_points_at_three_percent_measure_0_833() -> None:
    rng = random.Random(21)
    domain = _domain(rng)
    act, answer = act_task(rng, domain, writes=4), answer_task(rng, domain)
    knobs = SimKnobs(wrong_label=0.03, wrong_argument=0.03, dropped_fact=0.03)
    successes = 0
    for run in range(RUNS):
        decisions = [_route_ok(act, knobs, run), *_writes_ok(act, knobs, run), _reply_ok(answer, knobs, run)]
        assert len(decisions) == 6
        successes += all(decisions)
    ok, detail = _inside(successes, 0.97 ** 6)
    assert ok, detail


def _verify(task: GoldenTask, knobs: SimKnobs, reply: str, run: int) -> str:
    context = "\n".join(f"[{d.id}] {d.text}" for d in task.documents)
    messages = prompts.verify(task, context, "(no actions taken)", reply)
    content = _message(task, knobs, _body(messages, run, schema=prompts.VERIFY_SCHEMA))["content"]
    return str(json.loads(content)["verdict"])


def test_a_verifier_with_catch_rate_c_recovers_what_the_analysis_says() -> None:
    """Draft wrong with probability e; the verifier catches a wrong draft with probability c; a
    caught draft is rewritten once (wrong again with probability e). Success: (1-e) + e*c*(1-e)."""
    rng = random.Random(5)
    task = answer_task(rng, _domain(rng))
    e, c = 0.3, 0.8
    knobs = SimKnobs(dropped_fact=e, verify_miss=1 - c)
    successes = 0
    for run in range(RUNS):
        draft_ok = _reply_ok(task, knobs, 2 * run)
        context = "\n".join(f"[{d.id}] {d.text}" for d in task.documents)
        body = _body([{"role": "system", "content": f"Context:\n{context}"},
                      {"role": "user", "content": task.request}], 2 * run)
        draft = _message(task, knobs, body)["content"]
        assert _states_every_fact(task, draft) == draft_ok
        final_ok = draft_ok
        if _verify(task, knobs, draft, run) == "fail":
            final_ok = _reply_ok(task, knobs, 2 * run + 1)
        successes += final_ok
    ok, detail = _inside(successes, (1 - e) + e * c * (1 - e))
    assert ok, detail


def test_false_alarms_send_good_drafts_to_a_rewrite_at_their_rate() -> None:
    rng = random.Random(8)
    task = answer_task(rng, _domain(rng))
    knobs = SimKnobs(verify_false_alarm=0.1)
    context = "\n".join(f"[{d.id}] {d.text}" for d in task.documents)
    good = _message(task, SimKnobs(), _body([{"role": "system", "content": f"Context:\n{context}"},
                                             {"role": "user", "content": task.request}], 0))["content"]
    passes = sum(_verify(task, knobs, good, run) == "pass" for run in range(RUNS))
    ok, detail = _inside(passes, 0.9)
    assert ok, detail
