"""The simulated vendor's transport-independent half: one Chat Completions request in, a response or a fault out.

Two layers meet here. Faults and latency (429 with Retry-After, 500, stalls that time out,
malformed JSON, a latency distribution) come from :class:`~baton.sim.knobs.SimKnobs`; what the
model *says* comes from a pluggable :class:`Behaviour`, by default the gold-informed
:class:`~baton.sim.oracle.Oracle`. Both are deterministic: the random generator is seeded from a
hash of the canonical request (its ``model`` is the profile), the task it belongs to and its
``seed``, so the same request always gets the same bytes. Faults also depend on the attempt
number, so that a retry can succeed.

Structured output is asked for with ``response_format`` (``json_schema``, or ``json_object`` with a
``schema``), a forced tool (``tool_choice``), or a JSON schema quoted in the system prompt.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from typing import Any, Protocol

from baton.sim.knobs import SimKnobs
from baton.sim.oracle import Ask, Decision, Oracle
from baton.task import GoldenTask


class Behaviour(Protocol):
    """What a simulated model says, given the task a request belongs to (see :class:`~baton.sim.oracle.Oracle`)."""

    def decide(self, task: GoldenTask, ask: Ask, knobs: SimKnobs, rng: random.Random) -> Decision: ...


ORACLE = Oracle()


class BadRequest(ValueError):
    """The request is not a valid Chat Completions request (HTTP 400)."""


@dataclass(frozen=True, slots=True)
class Fault:
    status: int  # 429, 500, or 504 after a stall
    stall_s: float = 0.0
    retry_after_s: float | None = None

    def body(self) -> dict[str, Any]:
        kinds = {429: ("rate_limit_exceeded", "Rate limit reached (simulated)."),
                 500: ("server_error", "The server had an error while processing your request (simulated)."),
                 504: ("timeout", "The request timed out (simulated).")}
        code, message = kinds[self.status]
        return {"error": {"message": message, "type": code, "code": code, "param": None}}


@dataclass(frozen=True, slots=True)
class Outcome:
    """A response body to send after ``delay_s``, or a fault."""

    body: dict[str, Any] | None
    delay_s: float = 0.0
    fault: Fault | None = None


def respond(request: dict[str, Any], knobs: SimKnobs, task: GoldenTask, *, attempt: int = 0,
            raw_size: int | None = None, behaviour: Behaviour = ORACLE) -> Outcome:
    """The simulated model's reply to one request of ``task`` (see the module docstring)."""
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty list")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise BadRequest(f"messages[{i}]: expected an object with a 'role' and 'content'")
    seed = request.get("seed") or 0
    canonical = json.dumps({k: v for k, v in request.items() if k not in ("seed", "stream")},
                           sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(f"{task.id}@{task.version}\n{canonical}".encode()).hexdigest()
    fault = _fault(knobs, digest, seed, attempt)
    if fault is not None:
        return Outcome(None, fault=fault)
    rng = random.Random(f"{digest}:{seed}")
    malformed = rng.random() < knobs.malformed_json
    delay = knobs.latency_s(rng.gauss(0.0, 1.0))
    content, tool_calls = _behave(request, messages, task, knobs, rng, behaviour, malformed)
    prompt_tokens = max(1, (raw_size if raw_size is not None else len(canonical)) // 4)
    out_len = len(content or "") + sum(len(c["function"]["arguments"]) + len(c["function"]["name"])
                                       for c in tool_calls)
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    body = {
        "id": f"chatcmpl-sim-{digest[:24]}-{seed}",
        "object": "chat.completion",
        "created": 0,
        "model": request.get("model", ""),
        "system_fingerprint": "baton-sim",
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": "tool_calls" if tool_calls else "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": max(1, out_len // 4),
                  "total_tokens": prompt_tokens + max(1, out_len // 4)},
    }
    return Outcome(body, delay_s=delay)


def _fault(knobs: SimKnobs, digest: str, seed: int, attempt: int) -> Fault | None:
    total = knobs.rate_429 + knobs.rate_500 + knobs.rate_timeout
    if total <= 0:
        return None
    u = random.Random(f"{digest}:{seed}:fault:{attempt}").random()
    if u < knobs.rate_429:
        return Fault(429, retry_after_s=knobs.retry_after_s)
    if u < knobs.rate_429 + knobs.rate_500:
        return Fault(500)
    if u < total:
        return Fault(504, stall_s=knobs.stall_s)
    return None


def _behave(request: dict[str, Any], messages: list[dict[str, Any]], task: GoldenTask, knobs: SimKnobs,
            rng: random.Random, behaviour: Behaviour, malformed: bool
            ) -> tuple[str | None, list[dict[str, Any]]]:
    tools = _offered(request.get("tools"))
    forced = _forced_tool(request.get("tool_choice"), tools)
    aliases = namespaced_tools(task, tools)
    if aliases:  # the behaviour sees the task's own names; the system gets its names back
        tools = {aliases.get(name, name): schema for name, schema in tools.items()}
        messages = _renamed_calls(messages, aliases)
        forced = aliases.get(forced, forced) if forced is not None else None
    offered_as = {task_name: name for name, task_name in aliases.items()}
    if forced is not None:
        decision = behaviour.decide(task, Ask(messages, {}, tools[forced]), knobs, rng)
        return None, [_tool_call(offered_as.get(forced, forced), _cut(decision.content or "{}", malformed, rng),
                                 rng)]
    offered = tools if request.get("tool_choice") != "none" else {}
    schema = None if offered else _response_schema(request.get("response_format"), messages)
    decision = behaviour.decide(task, Ask(messages, offered, schema), knobs, rng)
    calls = [_tool_call(offered_as.get(name, name), _cut(json.dumps(arguments), malformed, rng), rng)
             for name, arguments in decision.tool_calls]
    content = decision.content
    if schema is not None and content is not None:
        content = _cut(content, malformed, rng)
    return content, calls


def _offered(tools: Any) -> dict[str, dict[str, Any]]:
    """Offered tools (OpenAI ``tools``): name -> parameters schema."""
    if tools is None:
        return {}
    if not isinstance(tools, list):
        raise BadRequest("'tools' must be a list")
    offered: dict[str, dict[str, Any]] = {}
    for i, tool in enumerate(tools):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise BadRequest(f"tools[{i}]: expected {{'type': 'function', 'function': {{'name': ..., "
                             "'parameters': {...}}}")
        params = fn.get("parameters", {"type": "object", "properties": {}})
        if not isinstance(params, dict):
            raise BadRequest(f"tools[{i}].function.parameters: expected a JSON schema object")
        offered[fn["name"]] = params
    return offered


_SEPARATORS = frozenset("_-.:/")


def namespaced_tools(task: GoldenTask, offered: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Offered tool names that are one of the task's tools under a namespace -> that tool's name.

    Systems namespace the tools they offer a model (CrewAI's MCP tools are ``<server>_<tool>``,
    other stacks ``mcp__<server>__<tool>``); a real model calls ``desk_fetch_x`` as readily as
    ``fetch_x``. An offered name is the task's tool whose name it ends with after a separator
    (``_ - . : /``), the longest such; never when the task's tool is offered under its own name
    too, or when two offered names end with the same tool (which one would be a guess)."""
    names = {spec.name for spec in task.tools}
    found: dict[str, str] = {}
    for name in offered:
        if name in names:
            continue
        ends = [t for t in names if len(name) > len(t) and name.endswith(t) and name[-len(t) - 1] in _SEPARATORS]
        if ends:
            found[name] = max(ends, key=len)
    targets = list(found.values())
    return {name: tool for name, tool in found.items() if tool not in offered and targets.count(tool) == 1}


def _renamed_calls(messages: list[dict[str, Any]], aliases: dict[str, str]) -> list[dict[str, Any]]:
    """``messages`` with the tool calls in its history renamed by ``aliases`` (copies; the request is untouched)."""
    out = []
    for message in messages:
        calls = message.get("tool_calls") if isinstance(message, dict) else None
        if calls:
            message = {**message, "tool_calls": [
                {**call, "function": {**call["function"], "name": aliases.get(call["function"].get("name"),
                                                                               call["function"].get("name"))}}
                if isinstance(call, dict) and isinstance(call.get("function"), dict) else call
                for call in calls]}
        out.append(message)
    return out


def _forced_tool(choice: Any, tools: dict[str, dict[str, Any]]) -> str | None:
    if not isinstance(choice, dict):
        return None
    name = (choice.get("function") or {}).get("name")
    if name not in tools:
        raise BadRequest(f"tool_choice names a function that is not in 'tools': {name!r}")
    return str(name)


def _system_text(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("content") for m in messages
                     if isinstance(m, dict) and m.get("role") in ("system", "developer")
                     and isinstance(m.get("content"), str))


def _response_schema(response_format: Any, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    if isinstance(response_format, dict):
        kind = response_format.get("type")
        if kind == "json_schema":
            spec = response_format.get("json_schema") or {}
            schema = spec.get("schema")
            if not isinstance(schema, dict):
                raise BadRequest("response_format.json_schema.schema must be an object")
            return schema
        if kind == "json_object":
            schema = response_format.get("schema")
            return schema if isinstance(schema, dict) else (_schema_in_text(_system_text(messages))
                                                            or {"type": "object"})
    return _schema_in_text(_system_text(messages))


def _schema_in_text(text: str) -> dict[str, Any] | None:
    """A JSON schema quoted in a system prompt ('... conforms to this JSON schema: {...}')."""
    if "schema" not in text.lower() or '"properties"' not in text:
        return None
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            obj, _ = decoder.raw_decode(text, start)
        except ValueError:
            start = text.find("{", start + 1)
            continue
        if isinstance(obj, dict) and ("properties" in obj or obj.get("type") == "object"):
            return obj
        start = text.find("{", start + 1)
    return None


def _cut(text: str, malformed: bool, rng: random.Random) -> str:
    """``text``, or (a malformed-JSON mistake) a random prefix of it."""
    if malformed and len(text) > 2:
        return text[:1 + rng.randrange(len(text) - 1)]
    return text


def _tool_call(name: str, arguments: str, rng: random.Random) -> dict[str, Any]:
    return {"id": f"call_{rng.getrandbits(64):016x}", "type": "function",
            "function": {"name": name, "arguments": arguments}}
