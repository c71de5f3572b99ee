"""langgraph: a LangGraph graph is the system under test; each node update becomes a hop.

A graph runs as written: synchronous or async nodes, one-argument ``node(state)`` or
``node(state, config)``, its own state keys, its own model clients. ``params``:

* ``target``: ``"module:attr"`` or ``"path/graph.py:attr"`` naming a compiled graph, a
  ``StateGraph`` (compiled here), or a function returning either; the file's folder is importable;
* ``input_key`` (default ``messages``): the state key that receives the customer's turns
  (``messages`` gets chat messages; any other key gets the request text);
* ``answer_key`` (alias ``output_key``; default: ``answer`` when the final state has it, else the
  last message): the state key holding the reply;
* ``verdict_key`` (default ``verdict``): the key a verify node writes (``True``/``False``,
  ``"pass"``/``"fail"``); a node writing it is a verify hop;
* ``hop_kinds``: node name -> hop kind; otherwise the kind is read from the node name (``route``/
  ``router``/``classify`` -> route, ``retriev``/``search`` -> retrieve, ``verif``/``check``/
  ``critic``/``review`` -> verify, ``tool`` -> tool, anything else -> generate);
* ``models``: name -> vendor profile for the graph's model calls (see below);
* ``openai_env`` (default true): point ``OPENAI_BASE_URL`` at Baton's model gateway.

A key that is not in the graph's state is a configuration error listing the graph's keys, raised
before any task runs. What each node does in the system comes from the system's
``hop_purposes`` (e.g. ``route = "model_select"``) and is stored on its hops.

Model calls: nodes may use the graph's own OpenAI-compatible clients — ``openai.OpenAI()`` built
from ``OPENAI_BASE_URL`` or pointed at ``config["configurable"]["baton"].model_base_url`` — which
Baton's model gateway (:mod:`baton.runners.adapters.gateway`) serves through its vendor clients:
the request's ``model`` is looked up in ``params.models`` (else the matrix cell's vendor serves
it), and each call's cost, tokens, vendor, model and simulated label land on the node's hop. Nodes
taking ``config`` can also use ``config["configurable"]["baton"].chat_client(name)``.
"""

from __future__ import annotations

import os
import time
from typing import Any

from baton.errors import ConfigError
from baton.runners.adapters.callable import load_system_target, load_target
from baton.runners.adapters.gateway import ModelGateway
from baton.runners.adapters.harness import AdapterSession, Step, complete_output, run_adapter
from baton.runners.adapters.types import AdapterRequest
from baton.runners.context import RunContext
from baton.runners.registry import register_architecture
from baton.systems import SystemConfig
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


def node_output(kind: HopKind, update: dict[str, Any], *, verdict_key: str = "verdict",
                answer_key: str | None = None) -> dict[str, Any]:
    """A node update as a hop output: the keys of its kind, plus the update itself."""
    if kind == "route":
        route = update.get("route")
        if route is None:
            route = next((v for v in update.values() if isinstance(v, str)), None)
        out: dict[str, Any] = {"route": route}
    elif kind == "retrieve":
        out = {"doc_ids": list(update.get("doc_ids") or []), "record_ids": list(update.get("record_ids") or [])}
    elif kind == "verify":
        verdict = update.get(verdict_key, update.get("verdict"))
        if isinstance(verdict, bool):
            verdict = "pass" if verdict else "fail"
        issues = update.get("issues") or []
        out = {"verdict": verdict, "issues": [str(i) for i in (issues if isinstance(issues, list) else [issues])]}
    elif kind == "tool":
        out = {}
    else:
        text = update.get(answer_key) if answer_key else None
        out = {"text": text if isinstance(text, str) else _text_of(update)}
    return {**complete_output(kind, out), "update": jsonable(update)}


def _graph_of(target: Any, system: SystemConfig) -> Any:
    if hasattr(target, "compile") and not hasattr(target, "astream"):
        target = target.compile()
    elif not hasattr(target, "astream") and callable(target):
        target = target()
        if hasattr(target, "compile") and not hasattr(target, "astream"):
            target = target.compile()
    if not hasattr(target, "astream"):
        raise ConfigError(f"system {system.name!r}: params.target: expected a LangGraph graph, "
                          f"got {type(target).__name__}")
    return target


def _gateway_env(system: SystemConfig) -> None:
    """Clients built from the environment (``openai.OpenAI()``) reach Baton's model gateway."""
    openai_env = system.params.get("openai_env", True)
    if not isinstance(openai_env, bool):
        raise ConfigError(f"system {system.name!r}: params.openai_env: expected true or false, got {openai_env!r}")
    if openai_env:
        os.environ["OPENAI_BASE_URL"] = ModelGateway.get().base_url
        os.environ.setdefault("OPENAI_API_KEY", "baton-gateway")


def load_graph(ctx: RunContext) -> Any:
    _gateway_env(ctx.system)
    return _graph_of(load_target(ctx), ctx.system)


def state_keys(graph: Any) -> list[str] | None:
    """The graph's state keys, or None when its state is a plain ``dict`` (keys not declared)."""
    channels = [str(c) for c in getattr(graph, "channels", {}) or {}]
    keys = [c for c in channels if not c.startswith("__") and not c.startswith("branch:")]
    return keys or None


def check_keys(graph: Any, system: SystemConfig) -> None:
    """Every key named in ``params`` is a key of the graph's state (ConfigError listing them)."""
    keys = state_keys(graph)
    if keys is None:
        return
    for param in ("input_key", "answer_key", "output_key", "verdict_key"):
        value = system.params.get(param)
        if value is None:
            if param == "input_key" and "messages" not in keys:
                raise ConfigError(f"system {system.name!r}: params.input_key: the graph has no 'messages' key; "
                                  f"name the key that receives the request — its state keys are: {', '.join(keys)}")
            continue
        if not isinstance(value, str):
            raise ConfigError(f"system {system.name!r}: params.{param}: expected a state key (string), got {value!r}")
        if value not in keys:
            raise ConfigError(f"system {system.name!r}: params.{param}: {value!r} is not a key of the graph's "
                              f"state; its state keys are: {', '.join(keys)}")


def check_system(system: SystemConfig) -> None:
    """Configuration-time check of a ``langgraph`` system: target loads, keys exist."""
    _gateway_env(system)
    check_keys(_graph_of(load_system_target(system), system), system)


@register_architecture("langgraph")
async def run_langgraph(ctx: RunContext) -> None:
    """A LangGraph graph; node updates become hops."""
    graph = load_graph(ctx)
    check_keys(graph, ctx.system)
    input_key = ctx.param("input_key", "messages", str)
    output_key = ctx.param("answer_key", None, str) or ctx.param("output_key", None, str)
    verdict_key = ctx.param("verdict_key", "verdict", str)
    kinds = ctx.param("hop_kinds", {}, dict)

    async def invoke(request: AdapterRequest, session: AdapterSession) -> tuple[str, list[Step]]:
        state_in: dict[str, Any] = {input_key: request.messages() if input_key == "messages" else request.request}
        config = {"configurable": {"baton": request, "thread_id": f"{request.task_id}#{request.trial}"}}
        steps = session.steps  # recorded as the graph streams: a node that raises keeps the ones before it
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
                if node not in kinds and verdict_key in update and kind == "generate":
                    kind = "verify"
                usage = session.usage_between(previous, now)
                vendor, model = session.served_between(previous, now)
                steps.append(Step(previous - session.started,
                                  Hop(kind=kind, name=node, vendor=vendor, model=model,
                                      output=node_output(kind, update, verdict_key=verdict_key,
                                                         answer_key=output_key),
                                      latency_s=now - previous, usage=usage)))
            previous = now
        return _answer(final, output_key), steps

    await run_adapter(ctx, "langgraph", invoke, gateway=True)


def _answer(state: dict[str, Any], output_key: str | None) -> str:
    if output_key is not None:
        value = state.get(output_key)
        return value if isinstance(value, str) else _message_text(value) if value is not None else ""
    if isinstance(state.get("answer"), str):
        return state["answer"]
    messages = state.get("messages")
    return _message_text(messages[-1]) if isinstance(messages, list) and messages else ""
