"""Prompts of the built-in architectures.

Written for the weakest model Baton runs (SmolLM2-135M): short, one instruction per line, the
customer's message last and alone in the user turn; context goes in the system message. The
simulated vendor reads the same prompts: it answers from the context sentences most relevant to
the user's message, classifies enum fields by overlap, and calls tools that match the request.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from baton.model import Message
from baton.runners.retrieval import Chunk
from baton.task import GoldenTask

NAIVE_SYSTEM = "You are a helpful customer support agent. Reply to the customer briefly and politely."


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))


def user_messages(task: GoldenTask) -> list[Message]:
    """The conversation so far and the request, as chat turns."""
    turns: list[Message] = [{"role": t.role, "content": t.content} for t in task.conversation]
    turns.append({"role": "user", "content": task.request})
    return turns


def customer_line(task: GoldenTask) -> str:
    if task.customer is None:
        return ""
    parts = [f"id {task.customer.id}"]
    if task.customer.name:
        parts.append(task.customer.name)
    if task.customer.email:
        parts.append(task.customer.email)
    return "Customer: " + ", ".join(parts) + "."


def _lines(*parts: str) -> str:
    return "\n".join(p for p in parts if p)


def context_block(chunks: Sequence[Chunk], records: Sequence[dict[str, Any]] = ()) -> str:
    lines = [f"[{c.doc_id}] {c.text}" for c in chunks]
    lines += [f"[record {r['ref']}] {_json(r['data'])}" for r in records]
    return "\n".join(lines) if lines else "(none)"


def tool_results_block(results: Sequence[dict[str, Any]]) -> str:
    if not results:
        return "(no actions taken)"
    lines = []
    for r in results:
        status = f"ERROR {r['error']}" if r.get("error") else _json(r.get("result"))
        lines.append(f"{r['name']}({_json(r.get('arguments', {}))}) -> {status}")
    return "\n".join(lines)


def naive(task: GoldenTask) -> list[Message]:
    return [{"role": "system", "content": _lines(NAIVE_SYSTEM, customer_line(task))}, *user_messages(task)]


def rag(task: GoldenTask, chunks: Sequence[Chunk]) -> list[Message]:
    system = _lines("You are a customer support agent.",
                    "Answer the customer using only the context below.",
                    "If the context does not answer it, say so.",
                    customer_line(task), "Context:", context_block(chunks))
    return [{"role": "system", "content": system}, *user_messages(task)]


def router(task: GoldenTask) -> list[Message]:
    routes = "\n".join(f"- {r.label}: {r.description}" for r in task.routes)
    system = _lines("Classify the customer's message into exactly one route.", "Routes:", routes,
                    'Reply with JSON: {"route": "<label>"}.')
    return [{"role": "system", "content": system}, *user_messages(task)]


def router_schema(task: GoldenTask) -> dict[str, Any]:
    return {"type": "object", "properties": {"route": {"type": "string", "enum": task.route_labels}},
            "required": ["route"], "additionalProperties": False}


def _agent_header(task: GoldenTask, route: str | None) -> str:
    return _lines("You are a customer support agent.",
                  f"Policy: {task.policy}" if task.policy else "",
                  f"Today: {task.world.today.isoformat()}.",
                  customer_line(task),
                  f"Topic: {route}." if route else "")


def draft(task: GoldenTask, route: str | None, evidence: str) -> list[Message]:
    system = _lines(_agent_header(task, route),
                    "Write a short reply plan: what to do (which tool, which arguments) and what to tell the customer.",
                    "Use only the evidence below. Follow the current policy.",
                    "Evidence:", evidence)
    return [{"role": "system", "content": system}, *user_messages(task)]


def act(task: GoldenTask, route: str | None, evidence: str, plan: str | None) -> list[Message]:
    system = _lines(_agent_header(task, route),
                    "Do what the customer needs by calling tools. Call a tool only if the policy allows it.",
                    "Use exact ids and amounts from the evidence.",
                    "When done, write the reply to the customer: what was done, with the amounts, "
                    "reference numbers and timing the tools returned. Never claim an action no tool did.",
                    "Evidence:", evidence,
                    f"Plan: {plan}" if plan else "")
    return [{"role": "system", "content": system}, *user_messages(task)]


def answer(task: GoldenTask, route: str | None, evidence: str, plan: str) -> list[Message]:
    """The reply written after the tool calls (append :func:`tool_history` to it)."""
    system = _lines(_agent_header(task, route),
                    "Write the final reply to the customer.",
                    "State what was done, quoting amounts, reference numbers and timing from the tool results.",
                    "Never claim an action that no tool result shows.",
                    "Evidence:", evidence, f"Plan: {plan}")
    return [{"role": "system", "content": system}, *user_messages(task)]


def tool_history(results: Sequence[dict[str, Any]], prefix: str = "call") -> list[Message]:
    """Tool calls already made (trace ``tool`` outputs) as assistant tool calls and tool results."""
    if not results:
        return []
    ids = [f"{prefix}_{i}" for i in range(len(results))]
    calls = [{"id": i, "type": "function", "function": {"name": r["name"], "arguments": _json(r.get("arguments", {}))}}
             for i, r in zip(ids, results)]
    replies: list[Message] = [{"role": "tool", "tool_call_id": i,
                               "content": f"ERROR: {r['error']}" if r.get("error") else _json(r.get("result"))}
                              for i, r in zip(ids, results)]
    return [{"role": "assistant", "content": "", "tool_calls": calls}, *replies]


def verify(task: GoldenTask, evidence: str, results: str, reply: str) -> list[Message]:
    system = _lines("You check a support reply before it is sent.",
                    f"Policy: {task.policy}" if task.policy else "",
                    f"Today: {task.world.today.isoformat()}.",
                    "Fail it if it breaks the policy, contradicts the evidence, claims an action not in the "
                    "action results, or leaves out a result the customer needs (amount, reference, timing).",
                    'Reply with JSON: {"verdict": "pass" or "fail", "issues": ["..."]}.',
                    "Evidence:", evidence, "Action results:", results)
    earlier = [{"role": t.role, "content": t.content} for t in task.conversation]
    check = f"Customer message: {task.request}\nReply to check: {reply}"
    return [{"role": "system", "content": system}, *earlier, {"role": "user", "content": check}]


VERIFY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"verdict": {"type": "string", "enum": ["pass", "fail"]},
                   "issues": {"type": "array", "items": {"type": "string"}}},
    "required": ["verdict", "issues"], "additionalProperties": False}


def revise(task: GoldenTask, route: str | None, evidence: str, reply: str, issues: Sequence[str]) -> list[Message]:
    """A rewrite of ``reply`` fixing ``issues`` (append :func:`tool_history` to it)."""
    system = _lines(_agent_header(task, route),
                    "Rewrite the reply to the customer so that it fixes these issues:",
                    "\n".join(f"- {i}" for i in issues) or "- (unspecified)",
                    "Quote amounts, reference numbers and timing from the tool results.",
                    "Evidence:", evidence, "Previous reply:", reply)
    return [{"role": "system", "content": system}, *user_messages(task)]
