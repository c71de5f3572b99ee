"""The CrewAI side of the ``crewai`` adapter: a small HTTP server run by the CrewAI environment's
Python, never imported by Baton's.

CrewAI pins ``openai<3`` and ``mcp<2``; Baton needs ``openai>=3.50`` and ``mcp>=2.3``, so a crew
runs in its own virtual environment (``.venv-crewai``) and Baton talks to it over loopback HTTP.
This file uses only the standard library and CrewAI, and is started by
:mod:`baton.runners.adapters.crewai` as ``python crewai_sidecar.py --target T --gateway URL
--ready-fd N``:

* it imports the target (``module:attr`` or ``path/to/crew.py:attr``: a ``Crew``, or a function
  returning one, called with the request as a dict when it takes an argument), with the target's
  folder importable, then writes ``port <n>`` (or ``error <message>``) to the ready descriptor;
* ``POST /run`` with the :class:`~baton.runners.adapters.types.AdapterRequest` JSON runs the crew
  (one run at a time: the environment variables below are the run's) and answers
  ``{"answer": ..., "tasks": [{name, agent, started, ended, raw, structured, description}]}`` or
  ``{"error": ...}``;
* it exits when its standard input closes (Baton stopped or died).

During a run ``OPENAI_BASE_URL`` is the run's model-gateway URL and ``BATON_MCP_URL`` the run's
world over MCP; requests an already-built client sends to the gateway's shared ``/v1`` are sent
to the run's URL instead, so a crew built once, at import, is metered per run too.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import json
import os
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

READY_PREFIX_OK = "port "
READY_PREFIX_ERROR = "error "
_current: dict[str, str] = {}  # the run in progress: gateway base URL of the run


def load_target(target: str) -> Any:
    """``module:attr`` or ``file.py:attr`` (dotted attr allowed); the file's folder is importable."""
    module_name, sep, attr_path = target.rpartition(":")
    if not sep or not module_name or not attr_path:
        raise ValueError(f"expected 'module:attribute' or 'file.py:attribute', got {target!r}")
    if module_name.endswith(".py"):
        file = Path(module_name).resolve()
        if not file.is_file():
            raise ValueError(f"no such file: {module_name}")
        sys.path.insert(0, str(file.parent))
        spec = importlib.util.spec_from_file_location(file.stem, file)
        if spec is None or spec.loader is None:
            raise ValueError(f"cannot load {module_name}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[file.stem] = module
        spec.loader.exec_module(module)
        obj: Any = module
    else:
        obj = importlib.import_module(module_name)
    for part in attr_path.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"module {module_name!r} has no attribute {attr_path!r}")
        obj = getattr(obj, part)
    return obj


def build_crew(target: Any, request: dict[str, Any]) -> Any:
    """The crew for one run: the target itself, or what the factory returns for ``request``."""
    if hasattr(target, "kickoff"):
        return target
    if not callable(target):
        raise TypeError(f"the target is a {type(target).__name__}, expected a Crew or a function returning one")
    takes_request = any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
                        for p in inspect.signature(target).parameters.values())
    crew = target(request) if takes_request else target()
    if not hasattr(crew, "kickoff"):
        raise TypeError(f"the target returned a {type(crew).__name__}, expected a Crew")
    return crew


def kickoff_inputs(request: dict[str, Any]) -> dict[str, str]:
    """The request as ``{placeholder}`` inputs for the crew's task descriptions (all strings)."""
    routes = "\n".join(f"- {r['label']}: {r['description']}" for r in request.get("routes") or [])
    documents = "\n\n".join(f"[{d['id']}] {d['title']}\n{d['text']}" for d in request.get("documents") or [])
    conversation = "\n".join(f"{t['role']}: {t['content']}" for t in request.get("conversation") or [])
    return {"request": request.get("request") or "", "today": request.get("today") or "",
            "policy": request.get("policy") or "", "routes": routes, "documents": documents,
            "conversation": conversation,
            "customer": json.dumps(request.get("customer") or {}, sort_keys=True)}


def _structured(output: Any) -> dict[str, Any] | None:
    model = getattr(output, "pydantic", None)
    if model is not None and hasattr(model, "model_dump"):
        return model.model_dump(mode="json")
    data = getattr(output, "json_dict", None)
    return data if isinstance(data, dict) else None


def task_records(crew: Any) -> list[dict[str, Any]]:
    """What each task of the crew did, in order (tasks that never ran are left out)."""
    records = []
    for task in crew.tasks:
        output = task.output
        if output is None:
            continue
        agent = getattr(task.agent, "role", None) or getattr(output, "agent", "") or ""
        records.append({
            "name": task.name or agent, "agent": agent,
            "started": task.start_time.timestamp() if task.start_time else None,
            "ended": task.end_time.timestamp() if task.end_time else None,
            "raw": output.raw or "", "structured": _structured(output), "description": task.description or ""})
    return records


def run_crew(target: Any, request: dict[str, Any]) -> dict[str, Any]:
    """One run: point the environment at the run's gateway and world, build, kick off, report."""
    base = request.get("model_base_url")
    if base:
        os.environ["OPENAI_BASE_URL"] = base
        _current["base"] = base
    if request.get("mcp_url"):
        os.environ["BATON_MCP_URL"] = request["mcp_url"]
    try:
        crew = build_crew(target, request)
        result = crew.kickoff(inputs=kickoff_inputs(request))
        return {"answer": getattr(result, "raw", None) or str(result), "tasks": task_records(crew)}
    finally:
        _current.pop("base", None)


def install_gateway_rewrite(gateway: str) -> None:
    """Requests to the gateway's shared ``/v1`` go to the run in progress's URL instead."""
    import httpx

    shared = urlsplit(gateway)
    prefix = shared.path.rstrip("/")

    def rewrite(request: Any) -> None:
        base = _current.get("base")
        url = request.url
        if base and url.host == shared.hostname and url.port == shared.port and url.path.startswith(prefix + "/"):
            run = urlsplit(base)
            request.url = url.copy_with(path=run.path.rstrip("/") + url.path[len(prefix):])
            request.headers["host"] = f"{run.hostname}:{run.port}"

    sync_send = httpx.HTTPTransport.handle_request
    async_send = httpx.AsyncHTTPTransport.handle_async_request

    def handle_request(self: Any, request: Any) -> Any:
        rewrite(request)
        return sync_send(self, request)

    async def handle_async_request(self: Any, request: Any) -> Any:
        rewrite(request)
        return await async_send(self, request)

    httpx.HTTPTransport.handle_request = handle_request  # type: ignore[method-assign]
    httpx.AsyncHTTPTransport.handle_async_request = handle_async_request  # type: ignore[method-assign]


def make_handler(target: Any) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet access log
            return

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body, default=str).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            self._reply(200 if self.path == "/health" else 404, {"ok": self.path == "/health"})

        def do_POST(self) -> None:  # noqa: N802
            if self.path != "/run":
                self._reply(404, {"error": f"no route {self.path}"})
                return
            try:
                request = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
            except ValueError:
                self._reply(400, {"error": "the body is not JSON"})
                return
            try:
                body = run_crew(target, request)
            except Exception as exc:  # the crew's failure: reported, the server goes on
                body = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-4000:]}
            self._reply(200, body)

    return Handler


def _exit_when_stdin_closes(server: HTTPServer) -> None:
    def watch() -> None:
        while sys.stdin.buffer.read(65536):
            pass
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True)
    parser.add_argument("--gateway", required=True, help="the model gateway's shared base URL (…/v1)")
    parser.add_argument("--ready-fd", type=int, required=True)
    args = parser.parse_args(argv)
    ready = os.fdopen(args.ready_fd, "w")
    try:
        install_gateway_rewrite(args.gateway)
        os.environ["OPENAI_BASE_URL"] = args.gateway
        os.environ["OPENAI_API_KEY"] = "baton-gateway"  # the gateway needs none: a real key goes nowhere
        target = load_target(args.target)
        server = HTTPServer(("127.0.0.1", 0), make_handler(target))
    except BaseException as exc:  # the target does not load: say why, on the ready channel
        message = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        ready.write(f"{READY_PREFIX_ERROR}{message}\n")
        ready.close()
        return 2
    _exit_when_stdin_closes(server)
    ready.write(f"{READY_PREFIX_OK}{server.server_address[1]}\n")
    ready.close()
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
