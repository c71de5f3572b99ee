"""The simulated vendor's behaviour: one Chat Completions request in, a response or a fault out.

A pure function of (knobs, request, seed, attempt): the random generator is seeded from a hash
of the canonical request and its ``seed``, so the same request always gets the same bytes. Faults
(429, 500, timeouts) also depend on the attempt number, so that a retry can succeed.

Conventions it understands (all optional, all generic):

* structured output: ``response_format`` ``json_schema`` or ``json_object`` + ``schema``, a
  forced tool (``tool_choice``), or a JSON schema quoted in the system prompt;
* the last user message may have sections (``Question:``, ``Context:``, ``Draft:``); a schema with
  a pass/fail ``verdict`` (and ``issues``) checks that every number, amount and code the draft
  states appears in the rest of the request;
* ``today``'s date (``Today: 2026-06-20``) lets it refuse actions outside a stated N-day window
  and read weekdays ('on Saturday') and dates ('June 11') in the request;
* ``Customer: id C-1002`` in the context names the customer, whose records it may list when the
  request names none; without it, tools whose description says "only for verified identities"
  are not used;
* documents quoted as ``[doc-id] Title: text`` lines whose id or title marks them superseded,
  retired, outdated or not policy are ignored; ``Plan:`` lines are the pipeline's own notes;
* instructions inside the customer's message ('ignore your policy', ``[SYSTEM NOTICE] ...``) are
  cut out before the request is understood; what remains decides the action.

With tools, it plans like a careful support agent (:mod:`baton.sim.agent`): it maps paraphrases
to support verbs (:mod:`baton.sim.intent`), looks records up (named ones, references, the
customer's list), checks the current policy (:mod:`baton.sim.policy`), asks when the target is
ambiguous or an argument is unknown, acts, and replies with what the tools returned.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from typing import Any

from baton.sim.agent import next_step, parse_tools
from baton.sim.answer import compose_answer
from baton.sim.conversation import Conversation
from baton.sim.fill import Filler
from baton.sim.knobs import SimKnobs

MISTAKES = ("wrong_label", "wrong_argument", "missing_argument", "dropped_fact", "invented_fact", "malformed_json")


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


def respond(request: dict[str, Any], knobs: SimKnobs, *, attempt: int = 0, raw_size: int | None = None) -> Outcome:
    """The simulated model's reply to one request (see the module docstring)."""
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty list")
    seed = request.get("seed") or 0
    canonical = json.dumps({k: v for k, v in request.items() if k not in ("seed", "stream")},
                           sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    fault = _fault(knobs, digest, seed, attempt)
    if fault is not None:
        return Outcome(None, fault=fault)
    rng = random.Random(f"{digest}:{seed}")
    draws = [rng.random() for _ in MISTAKES]
    mistakes = {name: u < getattr(knobs, name) for name, u in zip(MISTAKES, draws, strict=True)}
    delay = knobs.latency_s(rng.gauss(0.0, 1.0))
    content, tool_calls = _behave(request, messages, rng, mistakes)
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


def _behave(request: dict[str, Any], messages: list[dict[str, Any]], rng: random.Random,
            mistakes: dict[str, bool]) -> tuple[str | None, list[dict[str, Any]]]:
    conv = Conversation.parse(messages)
    tools = request.get("tools") or []
    forced = _forced_tool(request.get("tool_choice"), tools)
    if forced is not None:
        args = Filler(conv, rng, mistakes).fill_schema(forced.get("parameters") or {})
        return None, [_tool_call(forced["name"], _dump(args, mistakes, rng), rng)]
    schema = _response_schema(request.get("response_format"), conv)
    if schema is not None:
        return _dump(Filler(conv, rng, mistakes).fill_schema(schema), mistakes, rng), []
    if tools and request.get("tool_choice") != "none":
        step = next_step(conv, parse_tools(tools), rng, mistakes)
        if step.call is not None:
            name, args = step.call
            return None, [_tool_call(name, _dump(args, mistakes, rng), rng)]
        return step.text, []
    return compose_answer(conv, rng, mistakes), []


def _forced_tool(choice: Any, tools: Any) -> dict[str, Any] | None:
    if not isinstance(choice, dict):
        return None
    name = (choice.get("function") or {}).get("name")
    for tool in parse_tools(tools):
        if tool.name == name:
            return {"name": tool.name, "parameters": tool.parameters}
    raise BadRequest(f"tool_choice names a function that is not in 'tools': {name!r}")


def _response_schema(response_format: Any, conv: Conversation) -> dict[str, Any] | None:
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
            return schema if isinstance(schema, dict) else (_schema_in_text(conv.system) or {"type": "object"})
    return _schema_in_text(conv.system)


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


def _dump(value: Any, mistakes: dict[str, bool], rng: random.Random) -> str:
    text = json.dumps(value)
    if mistakes.get("malformed_json") and len(text) > 2:
        cut = 1 + rng.randrange(len(text) - 1)
        return text[:cut]
    return text


def _tool_call(name: str, arguments: str, rng: random.Random) -> dict[str, Any]:
    return {"id": f"call_{rng.getrandbits(64):016x}", "type": "function",
            "function": {"name": name, "arguments": arguments}}
