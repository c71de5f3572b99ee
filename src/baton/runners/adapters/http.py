"""http: a service (any language, an n8n webhook) is the system under test.

Baton POSTs the :class:`AdapterRequest` JSON to ``params.url`` and expects
``{"answer": str, "hops": [...]}`` back (a ``text/plain`` body is taken as the answer).
``params``: ``url`` (required), ``timeout_s`` (default 120), ``headers`` (literal, non-secret
headers), ``headers_env`` (header name -> *name* of the environment variable holding its value,
e.g. ``{Authorization = "MY_SERVICE_AUTH"}``; values are never stored).

Trace-based evaluation: with ``otel_port`` (an integer), Baton runs an OTLP/HTTP receiver on
``127.0.0.1:<otel_port>`` (point the service's ``OTEL_EXPORTER_OTLP_ENDPOINT`` there), sends each
request with a W3C ``traceparent`` header, waits (up to ``otel_wait_s``, default 30) for the
service's spans of that trace, and takes the hops from them (:mod:`baton.otel.ingest`: GenAI,
OpenInference, OpenLLMetry; ``otel_spans`` maps custom span names like
``[tool.baton.otel.ingest.spans]``) instead of the response's hop events.

A service that cannot be reached is an infrastructure error; an HTTP error status, a timeout or
a malformed body is the system's failure.
"""

from __future__ import annotations

import os
import secrets

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
    import httpx  # here, not at import: a run of a built-in system never loads httpx or openai

    from baton.client import call_headers

    headers = {**call_headers(), **_headers(ctx)}  # X-Baton-Run: the service may forward it to its model

    otel = _otel_options(ctx)
    if otel is not None:  # listening before the first request, which the service exports during
        from baton.otel.receiver import OtlpReceiver

        OtlpReceiver.shared(otel[0])

    async def invoke(request: AdapterRequest, session: AdapterSession) -> tuple[str, list[Step]]:
        send_headers = dict(headers)
        if otel is not None:
            trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
            send_headers["traceparent"] = f"00-{trace_id}-{parent_id}-01"
        async with httpx.AsyncClient(timeout=timeout, headers=send_headers) as client:
            try:
                reply = await client.post(url, json=request.model_dump(mode="json"))
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                raise AdapterInfraError(f"{url}: cannot connect: {exc}") from exc
            except httpx.TimeoutException as exc:
                raise TimeoutError(f"{url}: no response within {timeout}s") from exc
        if reply.status_code >= 400:
            raise RuntimeError(f"{url}: HTTP {reply.status_code}: {reply.text[:300]}")
        if reply.headers.get("content-type", "").startswith("application/json"):
            body: object = _json_body(reply, url)
        else:
            body = reply.text
        parsed = parse_response(body, source=url)
        if otel is not None:
            return parsed.answer, await _span_steps(otel, trace_id, parent_id, session)
        return parsed.answer, [session.event_hop(e) for e in parsed.hops]

    await run_adapter(ctx, "http", invoke)


def _json_body(reply: httpx.Response, url: str) -> object:
    """A JSON reply's body; an empty or malformed one is the system's failure, said plainly
    (n8n answers HTTP 200 with an empty JSON body when its workflow fails before responding)."""
    if not reply.content.strip():
        raise ValueError(f"{url}: HTTP {reply.status_code} with an empty body; expected "
                         '{"answer": str, "hops": [...]} (did the service fail before it responded?)')
    try:
        return reply.json()
    except ValueError as exc:
        raise ValueError(f"{url}: HTTP {reply.status_code}: the body is not valid JSON ({exc}): "
                         f"{reply.text[:200]!r}") from None


def _otel_options(ctx: RunContext) -> tuple[int, float, object] | None:
    """(receiver port, wait seconds, ingest settings) when ``params.otel_port`` is set."""
    port = ctx.params.get("otel_port")
    if port is None:
        return None
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError(f"system {ctx.system.name!r}: params.otel_port: expected a TCP port number, got {port!r}")
    from baton.otel.ingest import parse_ingest_table

    wait = ctx.param("otel_wait_s", 30.0, (int, float))
    settings = parse_ingest_table({"spans": ctx.param("otel_spans", {}, dict)},
                                  f"system {ctx.system.name!r}: params.otel_spans")
    return port, float(wait), settings


async def _span_steps(otel: tuple[int, float, object], trace_id: str, parent_id: str,
                      session: AdapterSession) -> list[Step]:
    """The service's spans of this request as steps, placed by their start times."""
    import asyncio

    from baton.otel.ingest import span_hop
    from baton.otel.receiver import OtlpReceiver

    port, wait, settings = otel
    receiver = OtlpReceiver.shared(port)
    spans = await asyncio.to_thread(receiver.wait_for_trace, trace_id, parent_id, timeout_s=wait)
    parents = {s.parent_id for s in spans if s.parent_id}
    steps = []
    for span in sorted(spans, key=lambda s: s.start_ns):
        hop = span_hop(span, settings, has_children=span.span_id in parents)  # type: ignore[arg-type]
        if hop is not None:
            steps.append(Step(max(0.0, span.start_ns / 1e9 - session.started_wall), hop))
    return steps
