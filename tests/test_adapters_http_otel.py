"""Trace-based evaluation of a service Baton drives over HTTP: the service is instrumented with the
OpenTelemetry SDK (GenAI conventions) and exports to Baton's loopback OTLP receiver; its hops come
from its own spans, joined to the request by the W3C traceparent Baton sends."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest

from baton.errors import ConfigError
from baton.fixtures import load_tasks
from baton.model import ScriptedClient
from baton.runners import run_task
from baton.systems import SystemConfig

pytestmark = pytest.mark.e2e
TASK = Path(__file__).resolve().parents[1] / "fixtures/billing/tasks/refund-unauthorized-4471.yaml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def otel_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def service(otel_port):
    """An instrumented support service on loopback; yields its URL."""
    import uvicorn
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.trace import SpanKind
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"http://127.0.0.1:{otel_port}/v1/traces")))
    tracer = provider.get_tracer("support-bot")

    async def answer(request):
        body = await request.json()
        parent = TraceContextTextMapPropagator().extract(dict(request.headers))
        reply = f"About your request ({len(body['request'])} chars): refunds take 3-5 business days."
        with tracer.start_as_current_span("invoke_agent support", context=parent, kind=SpanKind.SERVER,
                                          attributes={"gen_ai.operation.name": "invoke_agent",
                                                      "gen_ai.agent.name": "support"}):
            with tracer.start_as_current_span("chat m-small", attributes={
                    "gen_ai.operation.name": "chat", "gen_ai.request.model": "m-small",
                    "gen_ai.provider.name": "openai", "gen_ai.usage.input_tokens": 11,
                    "gen_ai.usage.output_tokens": 7,
                    "gen_ai.output.messages": json.dumps([{"role": "assistant",
                                                           "parts": [{"type": "text", "content": reply}]}])}):
                pass
            with tracer.start_as_current_span("chat m-large", attributes={
                    "gen_ai.operation.name": "chat", "gen_ai.agent.name": "verifier",
                    "gen_ai.request.model": "m-large", "gen_ai.usage.input_tokens": 20,
                    "gen_ai.usage.output_tokens": 4, "gen_ai.output.messages": '{"verdict": "pass"}'}):
                pass
        return JSONResponse({"answer": reply})

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=[Route("/answer", answer, methods=["POST"])]),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive()
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}/answer"
    server.should_exit = True
    thread.join(10)
    provider.shutdown()


class NoModels:
    def client(self, vendor):
        return ScriptedClient(lambda m, o: "unused")


async def test_hops_come_from_the_services_own_spans(service, otel_port):
    (task,) = load_tasks(TASK)
    system = SystemConfig(name="bot", architecture="http",
                          params={"url": service, "otel_port": otel_port, "otel_wait_s": 60, "mcp": False})
    traces = [await run_task(task, system, "sim-frontier", clients=NoModels(), trial=t) for t in range(3)]
    for trace in traces:
        assert trace.infra_error is None
        assert [(h.kind, h.name, h.model) for h in trace.hops] == [("generate", "chat m-small", "m-small"),
                                                                   ("verify", "verifier", "m-large")]
        draft, verify = trace.hops
        assert (draft.usage.input_tokens, draft.usage.output_tokens, draft.vendor) == (11, 7, "openai")
        assert draft.output["text"] == trace.answer and "3-5 business days" in trace.answer
        assert verify.output["verdict"] == "pass"


async def test_otel_port_must_be_a_port():
    (task,) = load_tasks(TASK)
    system = SystemConfig(name="bot", architecture="http", params={"url": "http://127.0.0.1:9/x", "otel_port": "x"})
    with pytest.raises(ConfigError, match="params.otel_port: expected a TCP port number"):
        await run_task(task, system, "sim-frontier", clients=NoModels())
