"""An AutoGen workbench over the run's world, served over MCP.

AutoGen's own ``McpWorkbench`` (autogen-ext 0.7) imports ``mcp.shared.context.RequestContext``,
which the ``mcp`` 2.x client that Baton depends on no longer has; this workbench speaks to the
same streamable-HTTP endpoint (:attr:`AdapterRequest.mcp_url`) with that client. The session is
opened and closed by the adapter, in the run's own task (the MCP client's task group must be left
by the task that entered it); agents only list and call tools through it.

A failed call reaches the model as ``ERROR: <message>``, the way Baton's own agents report one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from autogen_core import CancellationToken
from autogen_core.tools import TextResultContent, ToolResult, ToolSchema, Workbench
from mcp import Client


class WorldWorkbench(Workbench):
    """The task's tools, listed and called over MCP (see the module docstring)."""

    def __init__(self, client: Client | None) -> None:
        self._client = client
        self._schemas: list[ToolSchema] | None = None

    async def list_tools(self) -> list[ToolSchema]:
        if self._client is None:
            return []
        if self._schemas is None:
            listed = await self._client.list_tools()
            self._schemas = [ToolSchema(name=t.name, description=t.description or "",
                                        parameters=t.input_schema or {"type": "object", "properties": {}})
                             for t in listed.tools]
        return list(self._schemas)

    async def call_tool(self, name: str, arguments: Mapping[str, Any] | None = None,
                        cancellation_token: CancellationToken | None = None,
                        call_id: str | None = None) -> ToolResult:
        if self._client is None:
            return ToolResult(name=name, result=[TextResultContent(content="ERROR: no tools in this run")],
                              is_error=True)
        try:
            result = await self._client.call_tool(name, dict(arguments or {}))
        except Exception as exc:  # a protocol failure is what the model sees as a failed call
            return ToolResult(name=name, result=[TextResultContent(content=f"ERROR: {type(exc).__name__}: {exc}")],
                              is_error=True)
        text = "\n".join(getattr(block, "text", "") for block in result.content if getattr(block, "text", None))
        if not text and result.structured_content is not None:
            text = json.dumps(result.structured_content)
        if result.is_error:
            text = f"ERROR: {text or 'tool error'}"
        return ToolResult(name=name, result=[TextResultContent(content=text)], is_error=bool(result.is_error))

    async def start(self) -> None:
        """Nothing to start: the adapter opened the session."""

    async def stop(self) -> None:
        """Nothing to stop: the adapter closes the session."""

    async def reset(self) -> None:
        self._schemas = None

    async def save_state(self) -> Mapping[str, Any]:
        return {}

    async def load_state(self, state: Mapping[str, Any]) -> None:
        """Stateless: the world's state lives in the world."""
