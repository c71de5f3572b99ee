"""A loopback OpenAI-compatible endpoint for adapted systems' own model clients.

A graph written for production calls models through a plain client (``openai.OpenAI()``,
LangChain's ``ChatOpenAI``), not through Baton. Pointed at this gateway, its calls are served by
Baton's vendor clients — so they carry cost, tokens, the vendor and model, the simulated label and
the run's context (``X-Baton-Run``) — and each is attributed to the node that made it.

* One gateway per process, on ``127.0.0.1``, in its own thread; it forwards each call to the
  event loop of the run it belongs to.
* A call finds its run by its URL (``<base>/run/<token>/v1``, :attr:`AdapterRequest.model_base_url`)
  or, for clients built from ``OPENAI_BASE_URL`` (``<base>/v1``), by the run context that Baton adds
  as the ``X-Baton-Run`` header to requests bound for the gateway: :func:`install_header_hook`
  wraps the ``httpx``/``httpx2`` transports (what ``openai`` uses), only for the gateway's address.
* The request's ``model`` picks the vendor: a name of the system's ``params.models``, a role
  (router, drafter, actor, verifier, answerer), or anything else: the matrix cell's vendor.
* Only non-streaming ``/v1/chat/completions``; a streaming request gets a clear 400.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from baton.call_context import HEADER, CallContext, current_call
from baton.model import ChatResponse, InfraError

if TYPE_CHECKING:
    from baton.runners.adapters.harness import AdapterSession

_ids = itertools.count(1)


class _Registration:
    def __init__(self, session: AdapterSession, loop: asyncio.AbstractEventLoop, context: CallContext) -> None:
        self.session = session
        self.loop = loop
        self.context = context


def _run_key(context: CallContext) -> str:
    return context.for_hop(None).to_header()


class ModelGateway:
    """The process's gateway: runs register while they execute."""

    _instance: ModelGateway | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self._by_token: dict[str, _Registration] = {}
        self._by_context: dict[str, _Registration] = {}
        self.host = "127.0.0.1"
        self.port = 0
        self._start()

    @classmethod
    def get(cls) -> ModelGateway:
        with cls._lock:
            if cls._instance is None:
                cls._instance = ModelGateway()
                install_header_hook(cls._instance)
            return cls._instance

    @property
    def base_url(self) -> str:
        """For clients configured once (``OPENAI_BASE_URL``): runs are told apart by context."""
        return f"http://{self.host}:{self.port}/v1"

    def _start(self) -> None:
        import uvicorn
        from starlette.applications import Starlette
        from starlette.routing import Route

        app = Starlette(routes=[Route("/v1/chat/completions", self._handle, methods=["POST"]),
                                Route("/run/{token}/v1/chat/completions", self._handle, methods=["POST"]),
                                Route("/v1/models", self._models), Route("/run/{token}/v1/models", self._models)])
        server = uvicorn.Server(uvicorn.Config(app, host=self.host, port=0, log_level="warning",
                                               lifespan="off", access_log=False))
        thread = threading.Thread(target=server.run, name="baton-model-gateway", daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("Baton's model gateway failed to start")
            time.sleep(0.005)
        self.port = server.servers[0].sockets[0].getsockname()[1]

    @contextmanager
    def register(self, session: AdapterSession, context: CallContext) -> Iterator[str]:
        """Route this run's calls to ``session`` while the block runs; yields the run's base URL."""
        token = secrets.token_hex(8)
        loop = asyncio.get_running_loop()
        _roomy_default_executor(loop)
        registration = _Registration(session, loop, context)
        key = _run_key(context)
        self._by_token[token] = registration
        self._by_context[key] = registration
        try:
            yield f"http://{self.host}:{self.port}/run/{token}/v1"
        finally:
            self._by_token.pop(token, None)
            if self._by_context.get(key) is registration:
                del self._by_context[key]

    def _find(self, request: Any) -> _Registration | None:
        token = request.path_params.get("token")
        if token is not None:
            return self._by_token.get(token)
        header = request.headers.get(HEADER)
        if not header:
            return None
        try:
            return self._by_context.get(_run_key(CallContext.from_header(header)))
        except ValueError:
            return None

    async def _models(self, request: Any) -> Any:
        from starlette.responses import JSONResponse

        return JSONResponse({"object": "list", "data": []})

    async def _handle(self, request: Any) -> Any:
        from starlette.responses import JSONResponse

        registration = self._find(request)
        if registration is None:
            return _error(404, "this request belongs to no run in progress: point the client at the URL Baton "
                               "gives the run (AdapterRequest.model_base_url or OPENAI_BASE_URL during the run)")
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(400, "the body is not JSON")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _error(400, "expected a Chat Completions body with a 'messages' list")
        if body.get("stream"):
            return _error(400, "streaming is not supported by Baton's model gateway; call without stream=True")
        header = request.headers.get(HEADER)
        hop = None
        if header:
            try:
                hop = CallContext.from_header(header).hop
            except ValueError:
                hop = None
        future = asyncio.run_coroutine_threadsafe(_forward(registration, body, hop), registration.loop)
        try:
            response = await asyncio.wrap_future(future)
        except InfraError as exc:
            return _error(424, f"the vendor failed after Baton's retries: {exc}", kind="vendor_error")
        except Exception as exc:  # a bad request (unknown model name, ...): the system's error
            return _error(400, f"{type(exc).__name__}: {exc}")
        return JSONResponse(_completion(response, str(body.get("model") or response.model)))


SYNC_NODE_THREADS = 1024  # more than any sensible --concurrency
_sized_loops: "weakref.WeakSet[asyncio.AbstractEventLoop]" = weakref.WeakSet()


def _roomy_default_executor(loop: asyncio.AbstractEventLoop) -> None:
    """Give the run's loop a default executor with room for blocked synchronous nodes.

    LangGraph (like ``asyncio.to_thread``) runs synchronous nodes in the loop's default executor,
    which holds only ``min(32, CPUs + 4)`` threads. A sync node blocks its thread until its model
    call returns, and serving that call needs the same executor (name resolution, the results
    writer): with as many sync nodes in flight as threads, every run would wait forever. Threads
    are started on demand, so a larger pool costs nothing until it is used."""
    if loop in _sized_loops:
        return
    from concurrent.futures import ThreadPoolExecutor

    loop.set_default_executor(ThreadPoolExecutor(max_workers=SYNC_NODE_THREADS, thread_name_prefix="baton-node"))
    _sized_loops.add(loop)


def _error(status: int, message: str, kind: str = "invalid_request_error") -> Any:
    from starlette.responses import JSONResponse

    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status)


async def _forward(registration: _Registration, body: dict[str, Any], hop: str | None) -> ChatResponse:
    session = registration.session
    client = session.gateway_client(str(body.get("model") or ""))
    schema, schema_name = None, "output"
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        spec = response_format.get("json_schema") or {}
        schema, schema_name = spec.get("schema"), str(spec.get("name") or "output")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    token = current_call.set(registration.context.for_hop(hop))
    try:
        return await client.chat(body["messages"], tools=body.get("tools") or None, schema=schema,
                                 schema_name=schema_name, temperature=float(body.get("temperature") or 0.0),
                                 max_tokens=int(max_tokens) if max_tokens else None,
                                 seed=body.get("seed") if isinstance(body.get("seed"), int) else None)
    finally:
        current_call.reset(token)


def _completion(response: ChatResponse, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": response.text}
    if response.tool_calls:
        message["tool_calls"] = [{"id": call.id, "type": "function",
                                  "function": {"name": call.name,
                                               "arguments": call.raw_arguments or json.dumps(call.arguments)}}
                                 for call in response.tool_calls]
    usage = response.usage
    return {"id": f"chatcmpl-baton-{next(_ids)}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "message": message,
                                         "finish_reason": response.finish_reason or
                                         ("tool_calls" if response.tool_calls else "stop")}],
            "usage": {"prompt_tokens": usage.input_tokens, "completion_tokens": usage.output_tokens,
                      "total_tokens": usage.input_tokens + usage.output_tokens}}


def install_header_hook(gateway: ModelGateway) -> None:
    """Add ``X-Baton-Run`` (the caller's run context) to requests bound for the gateway only."""
    import httpx

    try:
        import httpx2
    except ImportError:  # pragma: no cover - openai always brings it
        httpx2 = None  # type: ignore[assignment]
    for module in (m for m in (httpx, httpx2) if m is not None):
        _wrap(module.HTTPTransport, "handle_request", gateway)
        _wrap(module.AsyncHTTPTransport, "handle_async_request", gateway)


def _wrap(cls: type, method: str, gateway: ModelGateway) -> None:
    original = getattr(cls, method)
    if getattr(original, "_baton_gateway", False):
        return

    def tag(request: Any) -> None:
        context = current_call.get()
        url = request.url
        if context is not None and url.host == gateway.host and url.port == gateway.port \
                and HEADER not in request.headers:
            request.headers[HEADER] = context.to_header()

    if method == "handle_request":
        def wrapped(self: Any, request: Any) -> Any:
            tag(request)
            return original(self, request)
    else:
        async def wrapped(self: Any, request: Any) -> Any:  # type: ignore[misc]
            tag(request)
            return await original(self, request)
    wrapped._baton_gateway = True  # type: ignore[attr-defined]
    setattr(cls, method, wrapped)
