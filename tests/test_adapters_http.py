"""The HTTP adapter against services on loopback, and the shipped HTTP example on the sim vendor."""

from __future__ import annotations

import asyncio
import importlib.util
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from mcp import Client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from baton.errors import ConfigError
from baton.fixtures import load_tasks
from baton.model import ModelClient
from baton.runners import AdapterRequest, run_task
from baton.systems import SystemConfig
from baton.task import GoldenTask

ROOT = Path(__file__).resolve().parents[1]
TASK_FILE = ROOT / "fixtures/billing/tasks/refund-unauthorized-4471.yaml"


@pytest.fixture(scope="module")
def task() -> GoldenTask:
    return load_tasks(TASK_FILE)[0]


class NoModels:
    def client(self, vendor: str) -> ModelClient:
        raise AssertionError("HTTP systems bring their own models")


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        await asyncio.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 5)


received: list[dict[str, Any]] = []


async def agent(request: Request) -> Response:
    body = await request.json()
    received.append({"body": body, "auth": request.headers.get("authorization")})
    AdapterRequest.model_validate(body)  # the documented schema
    async with Client(body["mcp_url"]) as mcp:
        result = await mcp.call_tool("refund_invoice", {"invoice_id": "4471", "amount": 49.0, "reason": "unauthorized"})
    return JSONResponse({"answer": f"Done: {result.content[0].text}", "hops": [
        {"kind": "route", "name": "router", "output": {"route": "billing_refund"}, "started_s": 0.0,
         "usage": {"input_tokens": 10, "output_tokens": 2, "calls": 1}}]})


async def broken(request: Request) -> Response:
    return PlainTextResponse("upstream model exploded", status_code=502)


async def wrong_shape(request: Request) -> Response:
    return JSONResponse({"anwser": "typo"})


async def plain(request: Request) -> Response:
    return PlainTextResponse("Refunds take 3-5 business days.")


APP = Starlette(routes=[Route("/agent", agent, methods=["POST"]), Route("/broken", broken, methods=["POST"]),
                        Route("/wrong", wrong_shape, methods=["POST"]), Route("/plain", plain, methods=["POST"])])


def http_system(url: str, **params: Any) -> SystemConfig:
    return SystemConfig(name="svc", architecture="http", params={"url": url, **params})


async def test_the_service_gets_the_request_and_acts_through_mcp(task: GoldenTask,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SVC_AUTH_FOR_TEST", "Bearer s3cret")
    received.clear()
    async with serving(APP) as base:
        system = http_system(f"{base}/agent", headers_env={"Authorization": "SVC_AUTH_FOR_TEST"})
        trace = await run_task(task, system, "v", clients=NoModels())
    assert received[0]["auth"] == "Bearer s3cret" and received[0]["body"]["request"] == task.request
    assert "s3cret" not in trace.model_dump_json() and "SVC_AUTH_FOR_TEST" not in trace.model_dump_json()
    assert [(h.kind, h.name) for h in trace.hops] == [("route", "router"), ("tool", "act"), ("generate", "http")]
    assert trace.hops[0].usage.input_tokens == 10 and trace.usage.calls == 1
    assert "RF-4471-2" in trace.answer and trace.final_state["invoices"]["4471"]["status"] == "refunded"


async def test_plain_text_body_is_the_answer(task: GoldenTask) -> None:
    async with serving(APP) as base:
        trace = await run_task(task, http_system(f"{base}/plain"), "v", clients=NoModels())
    assert trace.answer == "Refunds take 3-5 business days." and trace.infra_error is None


async def test_http_errors_and_bad_bodies_are_the_systems_failures(task: GoldenTask) -> None:
    async with serving(APP) as base:
        status = await run_task(task, http_system(f"{base}/broken"), "v", clients=NoModels())
        shape = await run_task(task, http_system(f"{base}/wrong"), "v", clients=NoModels())
    assert "HTTP 502" in (status.hops[-1].error or "") and status.infra_error is None
    assert "'answer'" in (shape.hops[-1].error or "") and "Field required" in (shape.hops[-1].error or "")
    assert shape.infra_error is None and shape.answer == ""


async def test_an_unreachable_service_is_an_infra_error(task: GoldenTask) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    trace = await run_task(task, http_system(f"http://127.0.0.1:{port}/agent", timeout_s=2), "v", clients=NoModels())
    assert trace.infra_error and "cannot connect" in trace.infra_error and trace.hops[-1].infra_error


async def test_http_config_errors(task: GoldenTask) -> None:
    with pytest.raises(ConfigError, match="params.url: expected an http"):
        await run_task(task, http_system("ftp://x"), "v", clients=NoModels())
    with pytest.raises(ConfigError, match="BATON_TEST_UNSET_ENV"):
        await run_task(task, http_system("http://127.0.0.1:9/x", headers_env={"X-Key": "BATON_TEST_UNSET_ENV"}),
                       "v", clients=NoModels())


@pytest.mark.e2e
async def test_the_http_example_against_the_sim_vendor(task: GoldenTask, monkeypatch: pytest.MonkeyPatch) -> None:
    from baton.sim.server import SimServer
    from baton.vendor_config import builtin_profiles

    spec = importlib.util.spec_from_file_location("baton_example_http_service", ROOT / "examples/http_service.py")
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    sim = SimServer.from_profiles(builtin_profiles(), tasks=[task]).start()
    try:
        monkeypatch.setenv("EXAMPLE_BASE_URL", sim.base_url)
        monkeypatch.setenv("EXAMPLE_MODEL", "sim-frontier")
        async with serving(example.app) as base:
            trace = await run_task(task, http_system(f"{base}/answer"), "sim-frontier", clients=NoModels())
    finally:
        sim.stop()
    assert trace.infra_error is None, trace.infra_error
    assert [h.kind for h in trace.hops] == ["retrieve", "tool", "generate"]
    assert trace.hops[1].output["name"] == "get_invoice" and trace.hops[1].error is None
    assert "$49" in trace.answer and trace.hops[-1].output["text"] == trace.answer  # a fact of the record it read
    assert trace.usage.calls == 1 and trace.usage.input_tokens > 0


async def _empty_json(request: Request) -> Response:
    return Response(b"", media_type="application/json")


async def _broken_json(request: Request) -> Response:
    return Response(b'{"answer": ', media_type="application/json")


async def test_empty_or_broken_json_bodies_are_named_plainly(task: GoldenTask) -> None:
    app = Starlette(routes=[Route("/empty", _empty_json, methods=["POST"]),
                            Route("/broken-json", _broken_json, methods=["POST"])])
    async with serving(app) as base:
        empty = await run_task(task, http_system(f"{base}/empty"), "v", clients=NoModels())
        broken = await run_task(task, http_system(f"{base}/broken-json"), "v", clients=NoModels())
    assert "HTTP 200 with an empty body" in (empty.hops[-1].error or "") and empty.infra_error is None
    assert "not valid JSON" in (broken.hops[-1].error or "") and "{\"answer\": " in (broken.hops[-1].error or "")
    assert broken.infra_error is None and broken.answer == ""
