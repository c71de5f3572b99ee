"""A run's World served through the Model Context Protocol (official ``mcp`` SDK).

* :func:`world_server` builds a low-level MCP server whose ``tools/list`` is the task's tools
  (read-only ones carry ``readOnlyHint``) and whose ``tools/call`` runs :meth:`World.call`. A
  successful call returns the JSON result as text content (and as structured content when it is
  an object); a :class:`~baton.world.ToolError` returns ``isError`` with the error message, which
  is what the calling model sees.
* :class:`ToolSession` is the MCP client the built-in act hop uses. Given the server object it
  connects in-process (no sockets, no JSON-RPC framing); given a URL it speaks streamable HTTP.
  Each call comes back as a :class:`ToolOutcome`, i.e. a trace ``tool`` hop's output.
* :func:`serve_world_http` serves a world over streamable HTTP on loopback for adapted systems:
  ``async with serve_world_http(world) as url:`` hands the user's agent ``url`` (``.../mcp``).
  The server runs on its own thread and event loop, so an agent that blocks its caller's loop
  still gets answers.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from baton.world import ToolError, World

if TYPE_CHECKING:
    import mcp_types as types
    from mcp.server import Server

SERVER_NAME = "baton-world"
# The ``mcp`` SDK (about 1 s of imports) is imported by the functions that use it, so a run whose
# architecture calls no tool (``naive``, ``rag``) never loads it.


@dataclass(slots=True)
class ToolOutcome:
    """One tool call as seen by the caller: the trace ``tool`` hop output plus its latency."""

    name: str
    arguments: dict[str, Any]
    result: Any = None
    error: str | None = None
    side_effect: bool = False
    latency_s: float = 0.0
    started_s: float = 0.0

    def as_output(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments, "result": self.result,
                "error": self.error, "side_effect": self.side_effect}


def _mcp_tools(world: World) -> list[types.Tool]:
    import mcp_types as types

    return [types.Tool(name=spec.name, description=spec.description, input_schema=spec.parameters,
                       annotations=types.ToolAnnotations(read_only_hint=not spec.side_effect,
                                                         destructive_hint=spec.side_effect,
                                                         open_world_hint=False))
            for spec in world.tool_specs()]


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def world_server(world: World, *, observer: Callable[[ToolOutcome], None] | None = None) -> Server:
    """An MCP server over ``world``. ``observer`` sees every call the server executed."""
    import mcp_types as types
    from mcp.server import Server

    tools = _mcp_tools(world)
    writes = {spec.name: spec.side_effect for spec in world.tool_specs()}

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        arguments = dict(params.arguments or {})
        started = time.perf_counter()
        outcome = ToolOutcome(params.name, arguments, side_effect=writes.get(params.name, False),
                              started_s=time.time())
        try:
            outcome.result = world.call(params.name, arguments)
        except ToolError as exc:
            outcome.error = str(exc)
        outcome.latency_s = time.perf_counter() - started
        if observer is not None:
            observer(outcome)
        if outcome.error is not None:
            return types.CallToolResult(content=[types.TextContent(type="text", text=outcome.error)],
                                        is_error=True)
        structured = outcome.result if isinstance(outcome.result, dict) else None
        return types.CallToolResult(content=[types.TextContent(type="text", text=_text(outcome.result))],
                                    structured_content=structured)

    return Server(SERVER_NAME, on_list_tools=list_tools, on_call_tool=call_tool)


def openai_tool(tool: types.Tool) -> dict[str, Any]:
    """An MCP tool in the OpenAI Chat Completions ``tools`` format."""
    return {"type": "function", "function": {"name": tool.name, "description": tool.description or "",
                                             "parameters": tool.input_schema or {"type": "object"}}}


def _decode(result: types.CallToolResult) -> tuple[Any, str | None]:
    import mcp_types as types

    texts = [block.text for block in result.content if isinstance(block, types.TextContent)]
    text = "\n".join(texts)
    if result.is_error:
        return None, text or "tool error"
    if result.structured_content is not None:
        return result.structured_content, None
    try:
        return json.loads(text), None
    except json.JSONDecodeError:
        return text, None


class ToolSession:
    """An MCP client session over one world: list the tools, call them, get :class:`ToolOutcome`."""

    def __init__(self, target: Server | str) -> None:
        from mcp import Client

        self._client = Client(target, cache=None)
        self.tools: list[types.Tool] = []
        self._writes: dict[str, bool] = {}

    async def __aenter__(self) -> ToolSession:
        await self._client.__aenter__()
        try:
            listed = await self._client.list_tools()
        except BaseException:
            await self._client.__aexit__(None, None, None)
            raise
        self.tools = list(listed.tools)
        self._writes = {t.name: not (t.annotations and t.annotations.read_only_hint) for t in self.tools}
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.__aexit__(*exc)  # type: ignore[arg-type]

    def openai_tools(self) -> list[dict[str, Any]]:
        return [openai_tool(t) for t in self.tools]

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        """Call a tool; tool failures (and protocol failures) come back as ``ToolOutcome.error``."""
        started = time.perf_counter()
        outcome = ToolOutcome(name, arguments, side_effect=self._writes.get(name, False), started_s=time.time())
        try:
            outcome.result, outcome.error = _decode(await self._client.call_tool(name, arguments))
        except Exception as exc:  # an MCP protocol error is what the model sees as a failed call
            outcome.error = f"{type(exc).__name__}: {exc}"
        outcome.latency_s = time.perf_counter() - started
        return outcome


@asynccontextmanager
async def serve_world_http(world: World, *, host: str = "127.0.0.1",
                           observer: Callable[[ToolOutcome], None] | None = None) -> AsyncIterator[str]:
    """Serve ``world`` over streamable HTTP on a free loopback port; yields the endpoint URL."""
    import uvicorn

    app = world_server(world, observer=observer).streamable_http_app(host=host)
    config = uvicorn.Config(app, host=host, port=0, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="baton-mcp-world", daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the MCP world server failed to start")
            await asyncio.sleep(0.005)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://{host}:{port}/mcp"
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 10)
