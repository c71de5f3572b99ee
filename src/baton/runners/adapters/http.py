"""http: a service (any language, an n8n webhook) is the system under test.

Baton POSTs the :class:`AdapterRequest` JSON to ``params.url`` and expects
``{"answer": str, "hops": [...]}`` back (a ``text/plain`` body is taken as the answer).
``params``: ``url`` (required), ``timeout_s`` (default 120), ``headers`` (literal, non-secret
headers), ``headers_env`` (header name -> *name* of the environment variable holding its value,
e.g. ``{Authorization = "MY_SERVICE_AUTH"}``; values are never stored).

A service that cannot be reached is an infrastructure error; an HTTP error status, a timeout or
a malformed body is the system's failure.
"""

from __future__ import annotations

import os

import httpx

from baton.client import call_headers
from baton.errors import ConfigError
from baton.runners.adapters.harness import AdapterInfraError, AdapterSession, Step, parse_response, run_adapter
from baton.runners.adapters.types import AdapterRequest
from baton.runners.context import RunContext
from baton.runners.registry import register_architecture

DEFAULT_TIMEOUT_S = 120.0


def _headers(ctx: RunContext) -> dict[str, str]:
    headers = {str(k): str(v) for k, v in ctx.param("headers", {}, dict).items()}
    for header, env_name in ctx.param("headers_env", {}, dict).items():
        value = os.environ.get(str(env_name))
        if value is None:
            raise ConfigError(f"system {ctx.system.name!r}: params.headers_env.{header}: environment "
                              f"variable {env_name!r} is not set")
        headers[str(header)] = value
    return headers


@register_architecture("http")
async def run_http(ctx: RunContext) -> None:
    """An HTTP endpoint: POST the request JSON, get the answer and hop events back."""
    url = ctx.params.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError(f"system {ctx.system.name!r}: params.url: expected an http(s) URL, got {url!r}")
    timeout = ctx.param("timeout_s", DEFAULT_TIMEOUT_S, (int, float))
    headers = {**call_headers(), **_headers(ctx)}  # X-Baton-Run: the service may forward it to its model

    async def invoke(request: AdapterRequest, session: AdapterSession) -> tuple[str, list[Step]]:
        async with httpx.AsyncClient(timeout=timeout, headers=headers) as client:
            try:
                reply = await client.post(url, json=request.model_dump(mode="json"))
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                raise AdapterInfraError(f"{url}: cannot connect: {exc}") from exc
            except httpx.TimeoutException as exc:
                raise TimeoutError(f"{url}: no response within {timeout}s") from exc
        if reply.status_code >= 400:
            raise RuntimeError(f"{url}: HTTP {reply.status_code}: {reply.text[:300]}")
        if reply.headers.get("content-type", "").startswith("application/json"):
            body: object = reply.json()
        else:
            body = reply.text
        parsed = parse_response(body, source=url)
        return parsed.answer, [session.event_hop(e) for e in parsed.hops]

    await run_adapter(ctx, "http", invoke)
