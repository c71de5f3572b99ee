"""A controllable OpenAI-compatible vendor on loopback, for tests that must not race the clock.

``StubVendor`` answers ``GET /v1/models`` and ``POST /v1/chat/completions``: with a fixed or
computed reply, with an HTTP error, or by forwarding to an upstream endpoint (the simulated
vendor). ``admit=N`` lets the first N chat requests through and holds every later one until
``release`` is set; ``blocked`` is set when the first request is held and :meth:`wait_held`
waits until a number of requests are held at once (every lane of a run stuck at the gate: the
run cannot make progress). So a test can stop a run after exactly N model calls,
deterministically, however loaded the machine is.

Test modules import it by path (the tests folder is not a package; see ``import_stub_vendor``
in them).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

Reply = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]


def text_reply(text: str | Callable[[dict[str, Any]], str]) -> Reply:
    """A chat completion whose message is ``text`` (or ``text(request body)``)."""

    def reply(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        content = text(body) if callable(text) else text
        return 200, {"id": "stub-1", "object": "chat.completion", "model": body.get("model", "stub"),
                     "choices": [{"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": content}}],
                     "usage": {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16}}

    return reply


def error_reply(status: int, message: str) -> Reply:
    def reply(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return status, {"error": {"message": message, "type": "stub_error", "code": status}}

    return reply


class StubVendor:
    """An OpenAI-compatible endpoint served from a thread; use as a context manager."""

    def __init__(self, reply: Reply | None = None, *, upstream: str | None = None, admit: int | None = None,
                 models_status: int = 200) -> None:
        self.reply = reply or text_reply("I cannot help with that.")
        self.upstream = upstream
        self.admit = admit
        self.models_status = models_status
        self.requests = 0
        self.authorization: list[str | None] = []
        self.blocked = threading.Event()
        self.release = threading.Event()
        self.held = 0
        self._lock = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._client = httpx.Client(timeout=60) if upstream else None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def hold_after(self, admitted: int) -> None:
        """From now on, let ``admitted`` more chat requests through and hold the rest."""
        with self._lock:
            self.requests, self.admit = 0, admitted
            self.blocked.clear()
            self.release.clear()

    def open(self) -> None:
        """Let every request through, the held ones included."""
        with self._lock:
            self.admit = None
            self.release.set()

    def wait_held(self, count: int, timeout: float = 120) -> bool:
        """Wait until ``count`` requests are held at once (False if that never happens)."""
        with self._lock:
            return self._lock.wait_for(lambda: self.held >= count, timeout)

    def _admit(self) -> None:
        with self._lock:
            self.requests += 1
            held = self.admit is not None and self.requests > self.admit
            if held:
                self.held += 1
                self._lock.notify_all()
        if held:
            self.blocked.set()
            self.release.wait()
            with self._lock:
                self.held -= 1

    def _chat(self, raw: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        self._admit()
        if self._client is not None:
            forward = {k: v for k, v in headers.items() if k.lower() in ("content-type", "x-baton-attempt", "x-baton-run")}
            response = self._client.post(f"{self.upstream}/chat/completions", content=raw, headers=forward)
            return response.status_code, response.content
        status, body = self.reply(json.loads(raw))
        return status, json.dumps(body).encode()

    def __enter__(self) -> StubVendor:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                stub.authorization.append(self.headers.get("Authorization"))
                if self.path.rstrip("/").endswith("/models"):
                    self._send(stub.models_status, json.dumps({"object": "list", "data": [{"id": "stub"}]}).encode())
                else:
                    self._send(404, b'{"error": "not found"}')

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, b'{"error": "not found"}')
                    return
                try:
                    status, payload = stub._chat(raw, dict(self.headers.items()))
                    self._send(status, payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client went away (a cancelled run)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._client is not None:
            self._client.close()

