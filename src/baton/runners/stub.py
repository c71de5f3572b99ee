"""An instant, rule-based stand-in model for CPU benchmarks and offline tests of the runners.

:class:`StubClients` hands out :class:`~baton.model.ScriptedClient` objects driven by
:func:`stub_script`, which answers from the request alone, with no I/O:

* a schema enumerating labels -> the label sharing most words with the customer's message;
* the verifier's schema -> ``pass``;
* tools offered -> a call of the tool best matching the message (once per conversation), its
  required arguments filled from the message (id-like tokens, enum values, amounts);
* otherwise -> a short reply quoting the last tool result, if any.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from baton.model import ChatResponse, Message, ModelClient, RequestedToolCall, ScriptedClient

_WORDS = re.compile(r"[a-z0-9]+")
_ID = re.compile(r"#?([A-Za-z]*-?\d[\w\-]*)")


def _words(text: str) -> set[str]:
    return set(_WORDS.findall(text.lower().replace("_", " ")))


def _last_user(messages: Sequence[Message]) -> str:
    return next((str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"), "")


def _argument(name: str, schema: dict[str, Any], text: str) -> Any:
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return max(schema["enum"], key=lambda v: len(_words(str(v)) & _words(text)))
    if schema.get("type") in ("number", "integer"):
        amounts = re.findall(r"\$(\d+(?:\.\d+)?)", text)
        return float(amounts[0]) if amounts else 1
    ids = [m.group(1) for m in _ID.finditer(text)]
    return ids[0] if ids else name


def stub_script(messages: Sequence[Message], options: dict[str, Any]) -> ChatResponse | dict[str, Any] | str:
    request = _last_user(messages)
    schema = options.get("schema") or {}
    properties = schema.get("properties", {})
    if "verdict" in properties:
        return {"verdict": "pass", "issues": []}
    for key, spec in properties.items():
        if isinstance(spec.get("enum"), list):
            return {key: max(spec["enum"], key=lambda v: len(_words(str(v)) & _words(request)))}
    tools = options.get("tools") or []
    results = [m for m in messages if m.get("role") == "tool"]
    called = {c["function"]["name"] for m in messages for c in m.get("tool_calls") or ()}
    best = max(tools, key=lambda t: len(_words(t["function"]["name"] + " " + t["function"].get("description", ""))
                                        & _words(request)), default=None)
    if best is not None and best["function"]["name"] not in called:
        params = best["function"].get("parameters", {})
        args = {name: _argument(name, params.get("properties", {}).get(name, {}), request)
                for name in params.get("required", [])}
        call = RequestedToolCall(id="call_1", name=best["function"]["name"], arguments=args,
                                 raw_arguments=json.dumps(args))
        return ChatResponse(tool_calls=[call], finish_reason="tool_calls")
    if results:
        return f"Done: {results[-1].get('content')}"
    return "Thank you for your message. Here is what I found."


class StubClients:
    """A ``ClientSource`` whose every vendor is an instant stub (marked simulated)."""

    def __init__(self) -> None:
        self._clients: dict[str, ModelClient] = {}

    def client(self, vendor: str) -> ModelClient:
        if vendor not in self._clients:
            self._clients[vendor] = ScriptedClient(stub_script, vendor=vendor, model="stub")
        return self._clients[vendor]
