"""The model-call contract every runner uses: a chat request in, a :class:`ChatResponse` out.

``baton.client.VendorClient`` implements it over the ``openai`` package for any
OpenAI-compatible endpoint; :class:`ScriptedClient` implements it in-process for unit tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from baton.trace import Usage

Message = dict[str, Any]  # an OpenAI Chat Completions message


class InfraError(Exception):
    """The vendor could not serve the call after its retries (HTTP 429/5xx, timeout, connection).

    Graders must not count it as the system failing the task."""


@dataclass(slots=True)
class RequestedToolCall:
    id: str
    name: str
    arguments: dict[str, Any]
    raw_arguments: str = ""
    error: str | None = None  # arguments were not valid JSON


@dataclass(slots=True)
class ChatResponse:
    """One completed model call.

    ``parsed`` is the decoded JSON object when a ``schema`` was requested and the model returned
    valid JSON; ``error`` says why not otherwise. Malformed JSON, and a request the vendor rejects
    as unservable (HTTP 400/413/422: context too long, an unsupported schema), are the *system's*
    failures, recorded here; only a vendor that cannot serve at all raises :class:`InfraError`."""

    text: str = ""
    tool_calls: list[RequestedToolCall] = field(default_factory=list)
    parsed: dict[str, Any] | None = None
    error: str | None = None
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    vendor: str = ""
    model: str = ""
    finish_reason: str | None = None


@runtime_checkable
class ModelClient(Protocol):
    """What a runner may ask of a model."""

    @property
    def vendor_name(self) -> str: ...

    @property
    def model_name(self) -> str: ...

    @property
    def simulated(self) -> bool: ...

    async def chat(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[dict[str, Any]] | None = None,
        schema: dict[str, Any] | None = None,
        schema_name: str = "output",
        temperature: float = 0.0,
        max_tokens: int | None = None,
        seed: int | None = None,
    ) -> ChatResponse:
        """Send one chat completion. Raises :class:`InfraError` when the vendor fails after retries."""
        ...


Script = Callable[[Sequence[Message], dict[str, Any]], ChatResponse | str | dict[str, Any]]


class ScriptedClient:
    """An in-process client for unit tests and CPU benchmarks: answers come from a function.

    The function gets ``(messages, options)`` where options hold ``tools``, ``schema`` and the
    rest, and returns a :class:`ChatResponse`, a plain string (the text), or a dict (the parsed
    structured output)."""

    def __init__(self, script: Script, *, vendor: str = "scripted", model: str = "scripted",
                 simulated: bool = True) -> None:
        self._script = script
        self._vendor = vendor
        self._model = model
        self._simulated = simulated
        self.calls: list[tuple[list[Message], dict[str, Any]]] = []

    @property
    def vendor_name(self) -> str:
        return self._vendor

    @property
    def model_name(self) -> str:
        return self._model

    @property
    def simulated(self) -> bool:
        return self._simulated

    async def chat(self, messages: Sequence[Message], *, tools: Sequence[dict[str, Any]] | None = None,
                   schema: dict[str, Any] | None = None, schema_name: str = "output",
                   temperature: float = 0.0, max_tokens: int | None = None,
                   seed: int | None = None) -> ChatResponse:
        options = {"tools": tools, "schema": schema, "schema_name": schema_name,
                   "temperature": temperature, "max_tokens": max_tokens, "seed": seed}
        self.calls.append((list(messages), options))
        out = self._script(messages, options)
        if isinstance(out, ChatResponse):
            response = out
        elif isinstance(out, str):
            response = ChatResponse(text=out)
        else:
            response = ChatResponse(parsed=out, text=_json_text(out))
        response.vendor = response.vendor or self._vendor
        response.model = response.model or self._model
        if response.usage.calls == 0:
            response.usage = Usage(input_tokens=1, output_tokens=1, calls=1)
        return response


def _json_text(obj: Any) -> str:
    import json

    return json.dumps(obj)
