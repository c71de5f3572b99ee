"""The simulated vendor over HTTP: OpenAI Chat Completions wire format on Starlette + uvicorn.

One server serves every simulated profile; the request's ``model`` selects the profile (by profile
name or by its ``model``), and the ``X-Baton-Run`` header the task whose gold it answers from
(:mod:`baton.sim.tasks`); a request without it gets a 400 that says how to call the endpoint. :class:`SimServer` runs it on a free loopback port in a background
thread, for tests and for :class:`baton.client.ClientPool`; ``baton sim serve`` runs it standalone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from baton.errors import ConfigError
from baton.call_context import HEADER
from baton.sim.behaviour import BadRequest, respond
from baton.sim.knobs import SimKnobs
from baton.sim.tasks import TaskBook, UnknownTask
from baton.task import GoldenTask
from baton.vendors import VendorProfile


def sim_models(profiles: Mapping[str, VendorProfile]) -> dict[str, SimKnobs]:
    """Model name -> knobs for every simulated profile (reachable by profile name and by model)."""
    models: dict[str, SimKnobs] = {}
    owner: dict[str, str] = {}
    for profile in profiles.values():
        if profile.kind != "sim":
            continue
        knobs = SimKnobs.model_validate(profile.sim)
        for key in (profile.name, profile.model):
            if key in models and models[key] != knobs:
                raise ConfigError(f"simulated profiles '{owner[key]}' and '{profile.name}' both answer to "
                                  f"model '{key}' with different knobs; give them distinct model names")
            models[key] = knobs
            owner[key] = profile.name
    return models


def _error(status: int, message: str, code: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "invalid_request_error", "code": code,
                                   "param": None}}, status_code=status)


class InFlight:
    """Chat requests in flight per requested model, their peak and total (``GET /stats``): lets a
    test check a client-side concurrency limit from the vendor's side."""

    def __init__(self) -> None:
        self.now: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.total: dict[str, int] = {}

    @contextlib.contextmanager
    def track(self, model: str) -> Iterator[None]:
        self.now[model] = self.now.get(model, 0) + 1
        self.peak[model] = max(self.peak.get(model, 0), self.now[model])
        self.total[model] = self.total.get(model, 0) + 1
        try:
            yield
        finally:
            self.now[model] -= 1

    def as_json(self) -> dict[str, dict[str, int]]:
        return {"in_flight": dict(self.now), "max_in_flight": dict(self.peak), "requests": dict(self.total)}


def create_app(models: Mapping[str, SimKnobs], tasks: TaskBook | None = None) -> Starlette:
    """The ASGI app: ``POST /v1/chat/completions``, ``GET /v1/models``, ``GET /health``, ``GET /stats``."""
    models = dict(models)
    book = tasks if tasks is not None else TaskBook()
    model_list = {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "baton-sim"}
                                             for name in sorted(models)]}

    async def chat(request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            return _error(400, "request body is not valid JSON", "invalid_json")
        if not isinstance(body, dict):
            return _error(400, "request body must be a JSON object", "invalid_request")
        if body.get("stream"):
            return _error(400, "streaming is not supported by the simulated vendor", "unsupported")
        knobs = models.get(body.get("model", ""))
        if knobs is None:
            return _error(404, f"model {body.get('model')!r} is not served here; models: {', '.join(sorted(models))}",
                          "model_not_found")
        headers = request.headers
        try:
            task, _ = book.resolve(headers.get(HEADER))
        except UnknownTask as exc:
            return _error(400, str(exc), "missing_task_context")
        attempt_header = headers.get("x-baton-attempt") or headers.get("x-stainless-retry-count") or "0"
        try:
            outcome = respond(body, knobs, task, attempt=int(attempt_header), raw_size=len(raw))
        except (BadRequest, ValueError, TypeError, AttributeError, KeyError) as exc:
            return _error(400, f"invalid request: {exc}", "invalid_request")
        if outcome.fault is not None:
            fault = outcome.fault
            if fault.stall_s:
                await asyncio.sleep(fault.stall_s)
            extra = {"retry-after": f"{fault.retry_after_s:g}"} if fault.retry_after_s is not None else None
            return JSONResponse(fault.body(), status_code=fault.status, headers=extra)
        if outcome.delay_s:
            await asyncio.sleep(outcome.delay_s)
        return Response(json.dumps(outcome.body).encode(), media_type="application/json")

    async def list_models(request: Request) -> Response:
        return JSONResponse(model_list)

    load = InFlight()

    async def counted_chat(request: Request) -> Response:
        try:
            model = str(json.loads(await request.body()).get("model", ""))  # Starlette caches the body for chat
        except (ValueError, AttributeError):
            model = ""
        with load.track(model):
            return await chat(request)

    async def stats(request: Request) -> Response:
        return JSONResponse(load.as_json())

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "models": sorted(models), "tasks": len(book)})

    return Starlette(routes=[Route("/v1/chat/completions", counted_chat, methods=["POST"]),
                             Route("/chat/completions", counted_chat, methods=["POST"]),
                             Route("/stats", stats, methods=["GET"]),
                             Route("/v1/models", list_models, methods=["GET"]),
                             Route("/health", health, methods=["GET"])])


class _Server(uvicorn.Server):
    """uvicorn's server without its signal handlers: Ctrl-C stays the host program's."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class SimServer:
    """The simulated vendor on a loopback port.

    ``with SimServer(models) as server:`` runs it in a background thread; ``async with`` (or
    ``await server.astart()``) runs it as a task in the running event loop, which avoids GIL
    hand-offs between the server and an async client in the same process. ``server.base_url``
    is the OpenAI ``base_url`` (``http://127.0.0.1:PORT/v1``); ``server.tasks`` the task set
    it answers for (more can be added while it runs)."""

    def __init__(self, models: Mapping[str, SimKnobs], *, tasks: Iterable[GoldenTask] = (),
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.tasks = TaskBook(tasks)
        self._app = create_app(models, self.tasks)
        self._host = host
        self._port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_profiles(cls, profiles: Mapping[str, VendorProfile], **kwargs: Any) -> SimServer:
        return cls(sim_models(profiles), **kwargs)

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self._port}/v1"

    @property
    def running(self) -> bool:
        return (self._thread is not None and self._thread.is_alive()) or (
            self._task is not None and not self._task.done())

    def _prepare(self) -> socket.socket:
        # proto=IPPROTO_TCP lets asyncio set TCP_NODELAY on accepted connections (with proto 0 it
        # does not, and every keep-alive request then waits ~40 ms for a delayed ACK).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self._host, self._port))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(self._app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=1, backlog=2048)
        self._server = _Server(config)
        return sock

    def start(self, timeout_s: float = 10.0) -> SimServer:
        """Serve from a background thread (returns once the port accepts connections)."""
        if self.running:
            return self
        sock = self._prepare()
        assert self._server is not None
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name=f"baton-sim-{self._port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the simulated vendor did not start on {self._host}:{self._port}")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout=5)
        self._thread = None
        self._server = None

    async def astart(self, timeout_s: float = 10.0) -> SimServer:
        """Serve from a task in the running event loop (returns once the port accepts connections)."""
        if self.running:
            return self
        sock = self._prepare()
        server = self._server
        assert server is not None
        self._task = asyncio.create_task(server.serve(sockets=[sock]), name=f"baton-sim-{self._port}")
        deadline = time.monotonic() + timeout_s
        while not server.started:
            if self._task.done() or time.monotonic() > deadline:
                await self.astop()
                raise RuntimeError(f"the simulated vendor did not start on {self._host}:{self._port}")
            await asyncio.sleep(0.002)
        return self

    async def astop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            await asyncio.to_thread(self.stop)
            return
        if self._server is not None:
            self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=5)
        except TimeoutError:
            if self._server is not None:
                self._server.force_exit = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._server = None

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> SimServer:
        return await self.astart()

    async def __aexit__(self, *exc: object) -> None:
        await self.astop()


def serve_forever(models: Mapping[str, SimKnobs], host: str, port: int, tasks: Iterable[GoldenTask] = ()) -> None:
    """Run the simulated vendor in the foreground until interrupted (``baton sim serve``)."""
    uvicorn.run(create_app(models, TaskBook(tasks)), host=host, port=port, log_level="warning", access_log=False,
                lifespan="off", timeout_graceful_shutdown=1, backlog=2048)
