"""The run's world over MCP: in-process for the built-ins, streamable HTTP for external clients."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from mcp import Client

from baton.fixtures import load_tasks
from baton.runners import ToolOutcome, ToolSession, serve_world_http, world_server
from baton.task import GoldenTask
from baton.world import World

TASK_FILE = Path(__file__).resolve().parents[1] / "fixtures/billing/tasks/refund-unauthorized-4471.yaml"
REFUND = {"invoice_id": "4471", "amount": 49.0, "reason": "unauthorized"}


@pytest.fixture(scope="module")
def task() -> GoldenTask:
    return load_tasks(TASK_FILE)[0]


async def test_in_process_session_lists_and_calls_tools(task: GoldenTask) -> None:
    world = World(task)
    async with ToolSession(world_server(world)) as session:
        names = [t["function"]["name"] for t in session.openai_tools()]
        assert names == [s.name for s in task.tools]
        assert session.openai_tools()[0]["function"]["parameters"] == task.tools[0].parameters
        found = await session.call("list_invoices", {"customer_id": "C-1001"})
        assert isinstance(found.result, list) and {r["id"] for r in found.result} >= {"4471", "4417"}
        done = await session.call("refund_invoice", REFUND)
        again = await session.call("refund_invoice", REFUND)
        unknown = await session.call("delete_everything", {})
    assert done.error is None and done.side_effect and done.result["refund_id"] == "RF-4471-2"
    assert again.result is None and "status is 'refunded'" in (again.error or "")
    assert "unknown tool 'delete_everything'" in (unknown.error or "")
    assert not found.side_effect
    assert [c.name for c in world.calls] == ["list_invoices", "refund_invoice", "refund_invoice", "delete_everything"]
    assert world.snapshot()["invoices"]["4471"]["status"] == "refunded"


async def test_streamable_http_serves_an_external_client(task: GoldenTask) -> None:
    world = World(task)
    observed: list[ToolOutcome] = []
    async with serve_world_http(world, observer=observed.append) as url:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/mcp")
        async with Client(url) as client:  # a plain MCP client, as a user's agent would use
            listed = await client.list_tools()
            refund_tool = next(t for t in listed.tools if t.name == "refund_invoice")
            assert refund_tool.annotations is not None and refund_tool.annotations.read_only_hint is False
            result = await client.call_tool("refund_invoice", REFUND)
            failed = await client.call_tool("get_invoice", {"invoice_id": "9999"})
    assert not result.is_error and result.structured_content["refund_id"] == "RF-4471-2"
    assert failed.is_error and "no invoice with id" in failed.content[0].text
    assert [(o.name, o.error is None) for o in observed] == [("refund_invoice", True), ("get_invoice", False)]
    assert world.snapshot()["refunds"]["RF-4471-2"]["amount"] == 49.0


async def test_two_worlds_served_at_once_stay_apart(task: GoldenTask) -> None:
    first, second = World(task), World(task)
    async with serve_world_http(first) as url_a, serve_world_http(second) as url_b:
        assert url_a != url_b
        async with Client(url_a) as a, ToolSession(url_b) as b:
            await asyncio.gather(a.call_tool("refund_invoice", REFUND),
                                 b.call("refund_invoice", {**REFUND, "amount": 10.0}))
    assert first.snapshot()["invoices"]["4471"]["refunded_amount"] == 49.0
    assert second.snapshot()["invoices"]["4471"]["refunded_amount"] == 10.0
    assert World(task).snapshot()["invoices"]["4471"]["status"] == "paid"
