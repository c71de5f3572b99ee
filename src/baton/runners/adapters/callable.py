"""callable: a Python function is the system under test.

``params.target`` = ``"module:function"`` (or ``"path/to/file.py:function"``): a sync or async
function ``(request: AdapterRequest) -> AdapterResponse | str | dict``. A sync function runs on a
worker thread, so it may block (and call the run's MCP endpoint) freely.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from baton.errors import ConfigError
from baton.runners.adapters.harness import AdapterSession, Step, parse_response, run_adapter
from baton.runners.adapters.types import AdapterRequest
from baton.runners.context import RunContext
from baton.runners.registry import import_target, register_architecture


def load_target(ctx: RunContext) -> Any:
    target = ctx.params.get("target")
    if not isinstance(target, str):
        raise ConfigError(f"system {ctx.system.name!r}: params.target: expected 'module:attribute', got {target!r}")
    return import_target(target, what=f"system {ctx.system.name!r}: params.target")


@register_architecture("callable")
async def run_callable(ctx: RunContext) -> None:
    """A Python function: (AdapterRequest) -> AdapterResponse | str."""
    function = load_target(ctx)
    if not callable(function):
        raise ConfigError(f"system {ctx.system.name!r}: params.target is not callable")

    async def invoke(request: AdapterRequest, session: AdapterSession) -> tuple[str, list[Step]]:
        response = await _call(function, request)
        parsed = parse_response(response, source=ctx.params["target"])
        return parsed.answer, [session.event_hop(e) for e in parsed.hops]

    await run_adapter(ctx, "callable", invoke)


async def _call(function: Callable[[AdapterRequest], Any], request: AdapterRequest) -> Any:
    if inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(getattr(function, "__call__", None)):
        return await function(request)
    result = await asyncio.to_thread(function, request)
    return await result if inspect.isawaitable(result) else result
