"""multi_agent: route -> retrieve -> draft -> act (tools over MCP) -> verify (-> revise).

Hops and roles:

* ``route`` (router): structured output whose schema enumerates the task's route labels.
* ``retrieve``: two retrieval passes with the system's retriever (``params.retriever``, default
  BM25), both ``retrieve`` hops:

  1. the request and the route: the ``params.top_k`` best chunks (default 6: several hops share
     this evidence), plus the records the request mentions, looked up through the read-only tools
     (``tool`` hops named ``retrieve``);
  2. only when records were found, the records' field names and values as the query (what a
     pipeline asks its documents once it knows the case: the rules for this record's type, tier
     and status), ``params.follow_up_k`` chunks (default 4; 0 turns the pass off), adding only
     what the first pass missed.

  In each pass the ``params.expand_docs`` best documents (default 2; ranked by the total score
  of their chunks among the retriever's top ``params.expand_pool``, default 50) are handed on
  whole (parent-document expansion): a chunk that matched the question often sits next to the
  one that holds the answer. The hop's output names them (``whole_documents``).
* ``draft`` (drafter): a reply plan from the request and the evidence.
* ``act`` (actor): a tool-calling loop over the task's tools through MCP, at most
  ``params.max_tool_steps`` model calls (default 10), continuing from the retrieve hop's lookups;
  tool errors go back to the model and into the trace as ``tool`` hops with ``error``. The
  actor's closing message is the reply, so it carries what the tools returned.
* ``answer`` (drafter), only when the actor ended without a reply: the reply written from the
  plan and the tool results.
* ``verify`` (verifier): a structured verdict on the reply and the actions against the policy and
  the evidence; on ``fail`` the drafter revises (``revise``) and the verifier checks again, up to
  ``params.max_revisions`` rounds (default 1).

Isolated-component mode runs one hop with gold inputs from :mod:`baton.runners.gold`:
``route`` alone; ``retrieve`` with the gold route; ``act`` with the gold route and evidence;
``draft`` with the gold route and evidence and the gold tool calls replayed on the world: the
plan, then the reply written from the gold tool results (what the drafter would have had if every
upstream hop had been right); ``verify`` with the same, the system's own draft and reply written
from them, then the verdict.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from baton.errors import ConfigError
from baton.model import ChatResponse
from baton.runners import gold, prompts
from baton.runners.context import RunContext
from baton.runners.evidence import Evidence
from baton.runners.lookup import plan_lookups
from baton.runners.mcp_world import ToolOutcome, ToolSession, world_server
from baton.runners.rag import retrieval_query
from baton.runners.retrieval import (Chunk, combine_passes, rank_documents, ranked_doc_ids, record_query, search,
                                     with_whole_documents)
from baton.runners.registry import register_architecture
from baton.trace import Hop

DEFAULT_MAX_TOOL_STEPS = 10
DEFAULT_MAX_REVISIONS = 1
DEFAULT_MAX_LOOKUPS = 3
DEFAULT_TOP_K = 6  # several hops share the evidence: retrieve a little more than rag's single call does
DEFAULT_EXPAND_DOCS = 2
DEFAULT_EXPAND_POOL = 50
DEFAULT_FOLLOW_UP_K = 4


def record_tool(ctx: RunContext, step: str, outcome: ToolOutcome, *, isolated: bool = False) -> Hop:
    return ctx.add(Hop(kind="tool", name=step, input={"name": outcome.name, "arguments": outcome.arguments},
                       output=outcome.as_output(), latency_s=outcome.latency_s, error=outcome.error,
                       isolated=isolated))


def _results(outcomes: Sequence[ToolOutcome]) -> str:
    return prompts.tool_results_block([o.as_output() for o in outcomes])


# --------------------------------------------------------------------------- hops


async def route_hop(ctx: RunContext, *, isolated: bool = False) -> str | None:
    response, hop = await ctx.chat("router", kind="route", name="route", messages=prompts.router(ctx.task),
                                   schema=prompts.router_schema(ctx.task), schema_name="route",
                                   hop_input={"request": ctx.task.request, "labels": ctx.task.route_labels},
                                   isolated=isolated)
    label = (response.parsed or {}).get("route")
    if label not in ctx.task.route_labels:
        hop.error = hop.error or f"router returned {label!r}, not one of {ctx.task.route_labels}"
        label = None
    hop.output = {"route": label}
    return label


async def retrieve_hop(ctx: RunContext, session: ToolSession, route: str | None, *,
                       isolated: bool = False) -> tuple[Evidence, list[ToolOutcome]]:
    """Documents for the request and route, the records it mentions, then documents for those
    records: (evidence, lookups). See the module docstring for the passes and their params."""
    route_terms = []
    if route:
        description = next((r.description for r in ctx.task.routes if r.label == route), "")
        route_terms = [route.replace("_", " "), description]
    query = retrieval_query(ctx, *route_terms)
    ranked, passed, error, seconds = _search(ctx, query, ctx.param("top_k", DEFAULT_TOP_K))
    evidence = Evidence(chunks=passed)
    hop = ctx.add(Hop(kind="retrieve", name="retrieve", input={"query": query, "route": route},
                      error=error, isolated=isolated))
    lookups = []
    for lookup in plan_lookups(ctx.task, ctx.param("max_lookups", DEFAULT_MAX_LOOKUPS)):
        outcome = await session.call(lookup.tool, {lookup.param: lookup.value})
        lookups.append(outcome)
        record_tool(ctx, "retrieve", outcome, isolated=isolated)
        seconds += outcome.latency_s
        if outcome.error is None and isinstance(outcome.result, dict):
            record_id = str(outcome.result.get("id", lookup.value))
            evidence.records.append({"ref": f"{lookup.collection}/{record_id}", "data": outcome.result})
    hop.latency_s = seconds
    hop.output = _retrieved(ranked, passed, evidence.record_ids)
    follow_k = ctx.param("follow_up_k", DEFAULT_FOLLOW_UP_K)
    if follow_k > 0 and evidence.records:
        query = record_query([r["data"] for r in evidence.records])
        ranked, passed, error, seconds = _search(ctx, query, follow_k)
        added = combine_passes([evidence.chunks, passed])[len(evidence.chunks):]
        evidence.chunks += added
        ctx.add(Hop(kind="retrieve", name="retrieve", latency_s=seconds, error=error, isolated=isolated,
                    input={"query": query, "pass": "records", "records": evidence.record_ids},
                    output=_retrieved([c for c in ranked if c.doc_id in {a.doc_id for a in added}], added, [])))
    return evidence, lookups


def _search(ctx: RunContext, query: str, k: int) -> tuple[list[Chunk], list[Chunk], str | None, float]:
    """One pass: (the top ``k`` chunks, the passages handed on: the ``expand_docs`` best documents
    whole, then the other chunks; error; seconds)."""
    expand = ctx.param("expand_docs", DEFAULT_EXPAND_DOCS)
    pool = max(k, ctx.param("expand_pool", DEFAULT_EXPAND_POOL)) if expand > 0 else k
    chunks, error, seconds = search(list(ctx.task.documents), ctx.params, query, pool)
    whole = rank_documents(chunks)[:max(0, expand)]
    return chunks[:k], with_whole_documents(chunks[:k], ctx.task.documents, whole), error, seconds


def _retrieved(ranked: Sequence[Chunk], passed: Sequence[Chunk], record_ids: list[str]) -> dict[str, Any]:
    """A retrieve hop's output: the documents handed on (whole ones first), the records, the
    chunks the retriever ranked (with their text) and which documents went on whole."""
    return {"doc_ids": ranked_doc_ids(passed), "record_ids": record_ids,
            "chunks": [c.as_dict() for c in ranked], "whole_documents": [c.doc_id for c in passed if c.whole]}


async def draft_hop(ctx: RunContext, route: str | None, evidence: Evidence, *, isolated: bool = False) -> str:
    response, hop = await ctx.chat("drafter", kind="generate", name="draft",
                                   messages=prompts.draft(ctx.task, route, evidence.text()),
                                   hop_input={"route": route, **evidence.summary()}, isolated=isolated)
    hop.output = {"text": response.text}
    return response.text


def _assistant_turn(response: ChatResponse) -> dict[str, Any]:
    calls = [{"id": c.id, "type": "function",
              "function": {"name": c.name, "arguments": c.raw_arguments or json.dumps(c.arguments)}}
             for c in response.tool_calls]
    return {"role": "assistant", "content": response.text or "", "tool_calls": calls}


async def act_hop(ctx: RunContext, session: ToolSession, route: str | None, evidence: Evidence,
                  plan: str | None, *, history: Sequence[ToolOutcome] = (), isolated: bool = False
                  ) -> tuple[list[ToolOutcome], str]:
    """The tool loop, after the calls in ``history`` (the retrieve hop's lookups).

    Returns the new tool outcomes and the actor's closing text (its reply to the customer)."""
    messages = prompts.act(ctx.task, route, evidence.text(), plan)
    messages += prompts.tool_history([o.as_output() for o in history if o.error is None], prefix="lookup")
    tools = session.openai_tools()
    outcomes: list[ToolOutcome] = []
    closing = ""
    for step in range(ctx.param("max_tool_steps", DEFAULT_MAX_TOOL_STEPS)):
        response, hop = await ctx.chat("actor", kind="generate", name="act", messages=messages, tools=tools,
                                       hop_input={"step": step, "route": route, **evidence.summary()},
                                       isolated=isolated)
        hop.output = {"text": response.text,
                      "tool_calls": [{"name": c.name, "arguments": c.arguments} for c in response.tool_calls]}
        if not response.tool_calls:
            closing = response.text
            break
        messages.append(_assistant_turn(response))
        for call in response.tool_calls:
            if call.error is not None:
                outcome = ToolOutcome(call.name, {}, error=call.error)  # unparseable arguments: not sent
            else:
                outcome = await session.call(call.name, call.arguments)
            outcomes.append(outcome)
            record_tool(ctx, "act", outcome, isolated=isolated)
            content = f"ERROR: {outcome.error}" if outcome.error else json.dumps(outcome.result, default=str)
            messages.append({"role": "tool", "tool_call_id": call.id, "content": content})
    return outcomes, closing


async def answer_hop(ctx: RunContext, route: str | None, evidence: Evidence, plan: str,
                     outcomes: Sequence[ToolOutcome], *, isolated: bool = False) -> str:
    """The reply written from the plan and the tool results (when the actor wrote none)."""
    messages = prompts.answer(ctx.task, route, evidence.text(), plan)
    messages += prompts.tool_history([o.as_output() for o in outcomes])
    response, hop = await ctx.chat("drafter", kind="generate", name="answer", messages=messages,
                                   hop_input={"route": route, "tool_calls": [o.name for o in outcomes]},
                                   isolated=isolated)
    hop.output = {"text": response.text}
    return response.text


async def verify_hop(ctx: RunContext, evidence: Evidence, outcomes: Sequence[ToolOutcome], reply: str, *,
                     isolated: bool = False) -> tuple[str, list[str]]:
    response, hop = await ctx.chat("verifier", kind="verify", name="verify",
                                   messages=prompts.verify(ctx.task, evidence.text(), _results(outcomes), reply),
                                   schema=prompts.VERIFY_SCHEMA, schema_name="verdict",
                                   hop_input={"answer": reply, "tool_calls": [o.as_output() for o in outcomes],
                                              **evidence.summary()},
                                   isolated=isolated)
    parsed = response.parsed or {}
    verdict = parsed.get("verdict")
    issues = [str(i) for i in parsed.get("issues") or [] if str(i).strip()]
    if verdict not in ("pass", "fail"):
        # an unreadable verdict stops nothing: the reply goes out as it is, so record it as a pass
        hop.error = hop.error or f"verifier returned no valid verdict: {response.text[:200]!r}"
        verdict = "pass"
    hop.output = {"verdict": verdict, "issues": issues}
    return verdict, issues


async def revise_hop(ctx: RunContext, route: str | None, evidence: Evidence, outcomes: Sequence[ToolOutcome],
                     reply: str, issues: Sequence[str]) -> str:
    messages = prompts.revise(ctx.task, route, evidence.text(), reply, issues)
    messages += prompts.tool_history([o.as_output() for o in outcomes])
    response, hop = await ctx.chat("drafter", kind="generate", name="revise", messages=messages,
                                   hop_input={"issues": list(issues)})
    hop.output = {"text": response.text}
    return response.text or reply


async def verify_loop(ctx: RunContext, route: str | None, evidence: Evidence, outcomes: Sequence[ToolOutcome],
                      reply: str) -> str:
    """Verify; on fail revise and verify again, up to ``max_revisions`` rounds. The final reply."""
    rounds = ctx.param("max_revisions", DEFAULT_MAX_REVISIONS)
    verdict, issues = await verify_hop(ctx, evidence, outcomes, reply)
    for _ in range(rounds):
        if verdict == "pass":
            break
        reply = await revise_hop(ctx, route, evidence, outcomes, reply, issues)
        ctx.trace.answer = reply
        verdict, issues = await verify_hop(ctx, evidence, outcomes, reply)
    return reply


# --------------------------------------------------------------------------- the pipeline


INT_PARAMS = {"top_k": DEFAULT_TOP_K, "expand_docs": DEFAULT_EXPAND_DOCS, "expand_pool": DEFAULT_EXPAND_POOL,
              "follow_up_k": DEFAULT_FOLLOW_UP_K, "max_lookups": DEFAULT_MAX_LOOKUPS,
              "max_tool_steps": DEFAULT_MAX_TOOL_STEPS, "max_revisions": DEFAULT_MAX_REVISIONS}


def check_params(ctx: RunContext) -> None:
    """A clear :class:`ConfigError` for a count parameter that is not a non-negative integer, before
    any hop runs (inside the tool session it would surface wrapped in an exception group)."""
    for name, default in INT_PARAMS.items():
        if ctx.param(name, default) < 0:
            raise ConfigError(f"system {ctx.system.name!r}: params.{name}: expected an integer >= 0, "
                              f"got {ctx.params[name]!r}")


@register_architecture("multi_agent", isolated_hops=("route", "retrieve", "draft", "act", "verify"))
async def run_multi_agent(ctx: RunContext) -> None:
    """route -> retrieve -> draft -> act (MCP tools) -> verify, with revisions."""
    check_params(ctx)
    if ctx.isolated is not None:
        await _run_isolated(ctx, ctx.isolated)
        return
    async with ToolSession(world_server(ctx.world)) as session:
        route = await route_hop(ctx)
        evidence, lookups = await retrieve_hop(ctx, session, route)
        plan = await draft_hop(ctx, route, evidence)
        actions, reply = await act_hop(ctx, session, route, evidence, plan, history=lookups)
    outcomes = [*lookups, *actions]
    if not reply.strip():
        reply = await answer_hop(ctx, route, evidence, plan, outcomes)
    ctx.trace.answer = reply
    ctx.trace.answer = await verify_loop(ctx, route, evidence, outcomes, reply)


async def _run_isolated(ctx: RunContext, hop: str) -> None:
    """One hop fed gold inputs by the harness; its hops are marked ``isolated``."""
    task = ctx.task
    if hop == "route":
        await route_hop(ctx, isolated=True)
        return
    route = gold.gold_route(task)
    if hop == "retrieve":
        async with ToolSession(world_server(ctx.world)) as session:
            await retrieve_hop(ctx, session, route, isolated=True)
        return
    evidence = gold.gold_evidence(task)
    if hop == "act":
        async with ToolSession(world_server(ctx.world)) as session:
            _, ctx.trace.answer = await act_hop(ctx, session, route, evidence, None, isolated=True)
        return
    # draft and verify: the drafter writes from gold evidence and the gold tool results
    plan = await draft_hop(ctx, route, evidence, isolated=True)
    outcomes = gold.replay_gold_calls(task, ctx.world)
    for outcome in outcomes:
        record_tool(ctx, "act", outcome, isolated=True)
    reply = await answer_hop(ctx, route, evidence, plan, outcomes, isolated=True)
    ctx.trace.answer = reply
    if hop == "verify":
        await verify_hop(ctx, evidence, outcomes, reply, isolated=True)
