"""An OTLP/HTTP trace receiver on loopback: collects a system's spans while Baton runs it.

``POST /v1/traces`` with ``application/x-protobuf`` (the OTLP exporters' default; needs
``opentelemetry-proto``, part of ``baton-evals[otel]``) or ``application/json``. Point the
system's exporter at :attr:`OtlpReceiver.endpoint` (``OTEL_EXPORTER_OTLP_ENDPOINT``). Waiting
is on counts, never on the clock: :meth:`wait_for` returns once the spans of the given trace
ids (or a number of spans) have arrived.
"""

from __future__ import annotations

import json
import threading
from types import TracebackType
from typing import Any, Self

from baton.otel.ingest import OtelSpan, spans_from_otlp_json, spans_from_otlp_protobuf


class OtlpReceiver:
    """``with OtlpReceiver() as receiver:`` serves on a free loopback port in a thread."""

    _shared: dict[int, OtlpReceiver] = {}
    _shared_lock = threading.Lock()

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.spans: list[OtelSpan] = []
        self._arrived = threading.Condition()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        """Base URL for ``OTEL_EXPORTER_OTLP_ENDPOINT`` (the exporter appends ``/v1/traces``)."""
        return f"http://{self.host}:{self.port}"

    async def _traces(self, request: Any) -> Any:
        from starlette.responses import JSONResponse, Response

        body = await request.body()
        content_type = request.headers.get("content-type", "")
        try:
            if "json" in content_type:
                spans = list(spans_from_otlp_json(json.loads(body)))
            else:
                spans = spans_from_otlp_protobuf(body)
        except Exception as exc:  # a malformed export: tell the sender, keep serving
            return JSONResponse({"error": f"cannot decode OTLP traces ({type(exc).__name__}: {exc})"},
                                status_code=400)
        with self._arrived:
            self.spans.extend(spans)
            self._arrived.notify_all()
        if "json" in content_type:
            return JSONResponse({})
        return Response(b"", media_type="application/x-protobuf")

    def __enter__(self) -> Self:
        import time

        import uvicorn
        from starlette.applications import Starlette
        from starlette.routing import Route

        app = Starlette(routes=[Route("/v1/traces", self._traces, methods=["POST"])])
        self._server = uvicorn.Server(uvicorn.Config(app, host=self.host, port=self.port, log_level="warning",
                                                     lifespan="off", access_log=False))
        self._thread = threading.Thread(target=self._server.run, name="baton-otlp-receiver", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the OTLP receiver could not listen on {self.host}:{self.port} "
                                   f"(port in use?)")
            time.sleep(0.005)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)

    def wait_for(self, *, spans: int, timeout_s: float = 30.0) -> list[OtelSpan]:
        """Block until at least ``spans`` spans have arrived (TimeoutError after ``timeout_s``)."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.spans) >= spans, timeout=timeout_s):
                raise TimeoutError(f"{len(self.spans)} of {spans} spans arrived at {self.endpoint}")
            return list(self.spans)

    @classmethod
    def shared(cls, port: int) -> OtlpReceiver:
        """The process's receiver on ``port`` (started on first use, serves until exit)."""
        with cls._shared_lock:
            receiver = cls._shared.get(port)
            if receiver is None:
                receiver = cls(port=port).__enter__()
                cls._shared[port] = receiver
            return receiver

    def wait_for_trace(self, trace_id: str, parent_span_id: str, *, timeout_s: float) -> list[OtelSpan]:
        """The spans of ``trace_id`` once the span whose parent is ``parent_span_id`` (the system's
        top span for the request Baton sent) has arrived; removes them from the receiver.
        TimeoutError when it has not arrived within ``timeout_s``."""
        def arrived() -> bool:
            return any(s.trace_id == trace_id and s.parent_id == parent_span_id for s in self.spans)

        with self._arrived:
            if not self._arrived.wait_for(arrived, timeout=timeout_s):
                raise TimeoutError(f"the system's spans for trace {trace_id} did not reach {self.endpoint} "
                                   f"within {timeout_s:g}s (is its OTLP exporter pointed there?)")
            mine = [s for s in self.spans if s.trace_id == trace_id]
            self.spans = [s for s in self.spans if s.trace_id != trace_id]
            return mine
