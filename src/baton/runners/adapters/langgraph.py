"""langgraph: a LangGraph graph is the system under test; each node update becomes a hop.

``params``:

* ``target``: ``"module:attr"`` naming a compiled graph, a ``StateGraph`` (compiled here), or a
  function returning either;
* ``input_key`` (default ``messages``): the state key that receives the customer's turns
  (``messages`` gets chat messages; any other key gets the request text);
* ``output_key`` (default: ``answer`` when the final state has it, else the last message);
* ``hop_kinds``: node name -> hop kind; otherwise the kind is read from the node name (``route``/
  ``router``/``classify`` -> route, ``retriev``/``search`` -> retrieve, ``verif``/``check``/
  ``critic``/``review`` -> verify, ``tool`` -> tool, anything else -> generate).

Nodes reach the run through ``config["configurable"]["baton"]``, the :class:`AdapterRequest`
(its ``mcp_url``, documents, and ``chat_client(name)`` for Baton's model clients, whose usage
is attributed to the node that made the calls).
"""

from __future__ import annotations

import time
from typing import Any

from baton.errors import ConfigError
from baton.runners.adapters.callable import load_target
from baton.runners.adapters.harness import AdapterSession, Step, complete_output, run_adapter
from baton.runners.adapters.types import AdapterRequest
from baton.runners.context import RunContext
from baton.runners.registry import register_architecture
from baton.trace import HOP_KINDS, Hop, HopKind

_NAME_KINDS: tuple[tuple[tuple[str, ...], HopKind], ...] = (
    (("route", "router", "classif"), "route"),
    (("retriev", "search"), "retrieve"),
    (("verif", "check", "critic", "review", "judge"), "verify"),
    (("tool",), "tool"),
)


def node_kind(node: str, mapping: dict[str, str]) -> HopKind:
    if node in mapping:
        kind = mapping[node]
        if kind not in HOP_KINDS:
            raise ConfigError(f"params.hop_kinds.{node}: expected one of {', '.join(HOP_KINDS)}, got {kind!r}")
        return kind  # type: ignore[return-value]
    lowered = node.lower()
    for needles, kind in _NAME_KINDS:
        if any(n in lowered for n in needles):
            return kind
    return "generate"


def jsonable(value: Any) -> Any:
    """State values (LangChain messages, pydantic models) as JSON data."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "content") and hasattr(value, "type"):  # a LangChain message
        return {"role": str(value.type), "content": jsonable(value.content)}
    if hasattr(value, "model_dump"):
        return jsonable(value.model_dump(mode="json"))
    return str(value)


def _message_text(message: Any) -> str:
    data = jsonable(message)
    content = data.get("content") if isinstance(data, dict) else data
    if isinstance(content, list):  # content blocks
        return " ".join(str(b.get("text", "")) if isinstance(b, dict) else str(b) for b in content)
    return "" if content is None else str(content)


def _text_of(update: dict[str, Any]) -> str:
    for key in ("answer", "text", "draft", "response", "output"):
        if isinstance(update.get(key), str):
            return update[key]
    messages = update.get("messages")
    if isinstance(messages, list) and messages:
        return _message_text(messages[-1])
    return ""


def node_output(kind: HopKind, update: dict[str, Any]) -> dict[str, Any]:
    """A node update as a hop output: the keys of its kind, plus the update itself."""
    if kind == "route":
        route = update.get("route")
        if route is None:
            route = next((v for v in update.values() if isinstance(v, str)), None)
        out: dict[str, Any] = {"route": route}
    elif kind == "retrieve":
        out = {"doc_ids": list(update.get("doc_ids") or []), "record_ids": list(update.get("record_ids") or [])}
    elif kind == "verify":
        verdict = update.get("verdict")
        if isinstance(verdict, bool):
            verdict = "pass" if verdict else "fail"
        out = {"verdict": verdict, "issues": [str(i) for i in update.get("issues") or []]}
    elif kind == "tool":
        out = {}
    else:
        out = {"text": _text_of(update)}
    return {**complete_output(kind, out), "update": jsonable(update)}


def load_graph(ctx: RunContext) -> Any:
    target = load_target(ctx)
    if hasattr(target, "compile") and not hasattr(target, "astream"):
        target = target.compile()
    elif not hasattr(target, "astream") and callable(target):
        target = target()
        if hasattr(target, "compile") and not hasattr(target, "astream"):
            target = target.compile()
    if not hasattr(target, "astream"):
        raise ConfigError(f"system {ctx.system.name!r}: params.target: expected a LangGraph graph, "
                          f"got {type(target).__name__}")
    return target


@register_architecture("langgraph")
async def run_langgraph(ctx: RunContext) -> None:
    """A LangGraph graph; node updates become hops."""
    graph = load_graph(ctx)
    input_key = ctx.param("input_key", "messages", str)
    output_key = ctx.param("output_key", None, str)
    kinds = ctx.param("hop_kinds", {}, dict)

    async def invoke(request: AdapterRequest, session: AdapterSession) -> tuple[str, list[Step]]:
        state_in: dict[str, Any] = {input_key: request.messages() if input_key == "messages" else request.request}
        config = {"configurable": {"baton": request, "thread_id": f"{request.task_id}#{request.trial}"}}
        steps: list[Step] = []
        final: dict[str, Any] = {}
        previous = time.perf_counter()
        async for mode, chunk in graph.astream(state_in, config, stream_mode=["updates", "values"]):
            now = time.perf_counter()
            if mode == "values":
                final = chunk if isinstance(chunk, dict) else {}
                continue
            for node, update in (chunk or {}).items():
                if node.startswith("__"):
                    continue
                update = update if isinstance(update, dict) else {"value": update}
                kind = node_kind(node, kinds)
                usage = session.usage_between(previous, now)
                steps.append(Step(previous - session.started,
                                  Hop(kind=kind, name=node, output=node_output(kind, update),
                                      latency_s=now - previous, usage=usage)))
            previous = now
        return _answer(final, output_key), steps

    await run_adapter(ctx, "langgraph", invoke)


def _answer(state: dict[str, Any], output_key: str | None) -> str:
    if output_key is not None:
        value = state.get(output_key)
        return value if isinstance(value, str) else _message_text(value) if value is not None else ""
    if isinstance(state.get("answer"), str):
        return state["answer"]
    messages = state.get("messages")
    return _message_text(messages[-1]) if isinstance(messages, list) and messages else ""
