"""The LangGraph pattern from the articles, as the system under test (architecture ``langgraph``).

A router node sends short questions to a small model and the rest to a frontier model (with the
documents that match the question as context), then a verify node checks the answer against
that context. Each node update becomes a hop of the trace: ``router`` -> route, ``small_model``
/ ``frontier_model`` -> generate, ``verify`` -> verify.

Nodes reach the run through ``config["configurable"]["baton"]`` (the
:class:`~baton.runners.AdapterRequest`): ``chat_client("small")`` and ``chat_client("frontier")``
are Baton model clients for the vendors the system names (plain ``openai`` clients pointed at the
profiles' ``base_url`` work too)::

    [langgraph_router]
    architecture = "langgraph"
    params = {target = "examples/langgraph_router.py:graph",
              models = {small = "sim-small", frontier = "sim-frontier"}}
"""

from __future__ import annotations

import re
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, MessagesState, StateGraph

SHORT_QUESTION_WORDS = 16
VERDICT_SCHEMA = {"type": "object", "additionalProperties": False, "required": ["verdict", "issues"],
                  "properties": {"verdict": {"type": "string", "enum": ["pass", "fail"]},
                                 "issues": {"type": "array", "items": {"type": "string"}}}}


class State(MessagesState):
    route: str
    context: str
    answer: str
    verdict: str
    issues: list[str]


def _question(state: State) -> str:
    last = state["messages"][-1]
    return str(getattr(last, "content", last))


def _context(baton: Any, question: str, k: int = 2) -> str:
    words = set(re.findall(r"[a-z0-9]{3,}", question.lower()))
    ranked = sorted(baton.documents, key=lambda d: -len(words & set(re.findall(r"[a-z0-9]{3,}", d["text"].lower()))))
    return "\n".join(f"[{d['id']}] {d['text']}" for d in ranked[:k])


def router(state: State) -> dict[str, str]:
    return {"route": "small" if len(_question(state).split()) <= SHORT_QUESTION_WORDS else "frontier"}


async def _answer_with(model_name: str, state: State, config: RunnableConfig) -> dict[str, Any]:
    baton = config["configurable"]["baton"]
    question = _question(state)
    context = _context(baton, question)
    reply = await baton.chat_client(model_name).chat([
        {"role": "system", "content": f"You are a support agent. Answer from this context.\nContext:\n{context}"},
        {"role": "user", "content": question}])
    return {"answer": reply.text, "context": context, "messages": [{"role": "assistant", "content": reply.text}]}


async def small_model(state: State, config: RunnableConfig) -> dict[str, Any]:
    return await _answer_with("small", state, config)


async def frontier_model(state: State, config: RunnableConfig) -> dict[str, Any]:
    return await _answer_with("frontier", state, config)


async def verify(state: State, config: RunnableConfig) -> dict[str, Any]:
    baton = config["configurable"]["baton"]
    check = f"Question: {_question(state)}\nDraft: {state['answer']}"
    reply = await baton.chat_client("frontier").chat(
        [{"role": "system", "content": f"Check the draft against the context.\nContext:\n{state['context']}"},
         {"role": "user", "content": check}], schema=VERDICT_SCHEMA, schema_name="verdict")
    parsed = reply.parsed or {}
    return {"verdict": parsed.get("verdict", "fail"), "issues": list(parsed.get("issues") or [])}


def build() -> Any:
    builder = StateGraph(State)
    builder.add_node("router", router)
    builder.add_node("small_model", small_model)
    builder.add_node("frontier_model", frontier_model)
    builder.add_node("verify", verify)
    builder.add_edge(START, "router")
    builder.add_conditional_edges("router", lambda s: s["route"], {"small": "small_model", "frontier": "frontier_model"})
    builder.add_edge("small_model", "verify")
    builder.add_edge("frontier_model", "verify")
    builder.add_edge("verify", END)
    return builder.compile()


graph = build()
