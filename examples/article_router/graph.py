"""The article's router graph, as the article writes it: route -> fast_model / frontier_model ->
verify, synchronous one-argument nodes, its own state keys (``query``, ``answer``, ``verified``),
its own OpenAI client. Nothing in this file knows about Baton.

One change from the article's listing: it adds ``router`` itself as the ``route`` node, but a
LangGraph node must return a state update, not a branch name, so the ``route`` node records the
choice (``{"model": router(state)}``) and the conditional edge calls ``router`` as written.

Run it through Baton with configuration only (``runners/systems.toml``)::

    [article_router]
    architecture = "langgraph"
    hop_purposes = {route = "model_select", verify = "verify"}
    params = {target = "examples/article_router/graph.py:app", input_key = "query",
              answer_key = "answer", verdict_key = "verified",
              models = {"small-model" = "sim-small", "frontier-model" = "sim-frontier"}}

``openai.OpenAI()`` reads ``OPENAI_BASE_URL``, which Baton points at its model gateway while it
runs the graph: each call is served by the vendor that ``params.models`` names for the request's
model, and its cost, tokens, vendor and model land on the node that made it.
"""

from __future__ import annotations

from typing_extensions import TypedDict

from langgraph.graph import END, StateGraph
from openai import OpenAI
from prompts import CRITIQUE, SUPPORT  # a sibling module: the graph's folder is importable

SMALL_MODEL = "small-model"
FRONTIER_MODEL = "frontier-model"

client = OpenAI()


class State(TypedDict, total=False):
    query: str
    model: str
    answer: str
    verified: bool
    issues: list[str]


def router(state: State) -> str:
    q = state["query"]
    # Simple heuristic; in prod use a small classifier model
    if len(q) < 80 and "?" in q:
        return "fast_model"  # small model, low cost
    return "frontier_model"  # high-stakes, full capability


def route(state: State) -> dict:
    return {"model": router(state)}


def _complete(model: str, state: State) -> dict:
    reply = client.chat.completions.create(
        model=model, messages=[{"role": "system", "content": SUPPORT}, {"role": "user", "content": state["query"]}])
    return {"answer": reply.choices[0].message.content or ""}


def call_small_model(state: State) -> dict:
    return _complete(SMALL_MODEL, state)


def call_frontier_model(state: State) -> dict:
    return _complete(FRONTIER_MODEL, state)


def critique_loop(state: State) -> dict:
    reply = client.chat.completions.create(
        model=FRONTIER_MODEL,
        messages=[{"role": "system", "content": CRITIQUE},
                  {"role": "user", "content": f"Question: {state['query']}\nDraft answer: {state['answer']}"}],
        response_format={"type": "json_schema", "json_schema": {"name": "verdict", "schema": {
            "type": "object", "additionalProperties": False, "required": ["verdict", "issues"],
            "properties": {"verdict": {"type": "string", "enum": ["pass", "fail"]},
                           "issues": {"type": "array", "items": {"type": "string"}}}}}})
    import json

    try:
        parsed = json.loads(reply.choices[0].message.content or "{}")
    except ValueError:
        parsed = {}
    return {"verified": parsed.get("verdict") == "pass", "issues": list(parsed.get("issues") or [])}


graph = StateGraph(State)
graph.add_node("route", route)
graph.add_node("fast_model", call_small_model)
graph.add_node("frontier_model", call_frontier_model)
graph.add_node("verify", critique_loop)  # closes coordination gap
graph.set_entry_point("route")
graph.add_conditional_edges("route", router, {"fast_model": "fast_model", "frontier_model": "frontier_model"})
graph.add_edge("fast_model", "verify")
graph.add_edge("frontier_model", "verify")
graph.add_edge("verify", END)
app = graph.compile()  # production-ready pattern
