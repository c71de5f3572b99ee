"""What an adapted system receives and returns.

An adapted system gets an :class:`AdapterRequest`: the task's user-visible parts (request,
customer, conversation, documents, the operating policy and routes, the tool list) and
``mcp_url``, a streamable-HTTP MCP endpoint serving this run's sandboxed world: list its tools,
call them, and Baton grades the world the system leaves behind. Over HTTP the request is the
JSON of this model (``AdapterRequest.model_json_schema()`` documents it).

It returns an :class:`AdapterResponse` (or just the answer string): the answer and, optionally,
hop events describing its steps. Tool hops need not be reported: every call made through
``mcp_url`` becomes a ``tool`` hop (tool events are only kept when the world served no call).
Each event's ``output`` follows the hop kinds of :mod:`baton.trace` (``route``: ``route``;
``retrieve``: ``doc_ids``, ``record_ids``; ``generate``: ``text``; ``verify``: ``verdict``,
``issues``); missing keys are filled with empty values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from baton.model import ModelClient
from baton.trace import HopKind, Usage


class AdapterRequest(BaseModel):
    """One task run, as an adapted system sees it. No gold labels."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task_id: str
    trial: int = 0
    seed: int = 0
    request: str = Field(description="The customer's message, verbatim.")
    customer: dict[str, Any] | None = None
    conversation: list[dict[str, str]] = Field(default_factory=list,
                                               description="Earlier turns: {role, content}.")
    today: str = Field(description="The world's current date (ISO).")
    policy: str | None = None
    routes: list[dict[str, str]] = Field(default_factory=list, description="{label, description}")
    documents: list[dict[str, str]] = Field(default_factory=list, description="{id, title, text}")
    tools: list[dict[str, Any]] = Field(default_factory=list,
                                        description="The task's tools, OpenAI Chat Completions format.")
    mcp_url: str | None = Field(default=None, description="Streamable-HTTP MCP endpoint of this run's world.")
    model_base_url: str | None = Field(default=None, description="OpenAI-compatible base URL (in-process "
                                       "adapters): a plain client pointed here is served by Baton's vendor "
                                       "clients, each call metered and attributed to the step making it.")

    _models: Callable[[str], ModelClient] | None = PrivateAttr(default=None)

    def chat_client(self, name: str) -> ModelClient:
        """A Baton model client (in-process adapters only): a role (router, drafter, actor,
        verifier, answerer) or a name from the system's ``params.models`` (e.g. 'small')."""
        if self._models is None:
            raise RuntimeError("this AdapterRequest carries no model clients (it was not made by Baton's runner)")
        return self._models(name)

    def messages(self) -> list[dict[str, str]]:
        """The conversation and the request as chat messages."""
        return [*self.conversation, {"role": "user", "content": self.request}]


class HopEvent(BaseModel):
    """One step an adapted system reports."""

    model_config = ConfigDict(extra="forbid")

    kind: HopKind
    name: str
    input: dict[str, Any] = Field(default_factory=dict)
    output: dict[str, Any] = Field(default_factory=dict)
    latency_s: float = 0.0
    started_s: float | None = Field(default=None, description="Seconds since the request was sent; "
                                    "orders the event among the MCP tool calls.")
    usage: Usage | None = None
    vendor: str | None = None
    model: str | None = None
    error: str | None = None


class AdapterResponse(BaseModel):
    """What an adapted system returns: the answer and optional hop events."""

    model_config = ConfigDict(extra="forbid")

    answer: str
    hops: list[HopEvent] = Field(default_factory=list)
