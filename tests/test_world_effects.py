"""World: the tool-effect DSL, tool errors a model can act on, isolation between runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from baton.fixtures import load_tasks
from baton.task import GoldenTask
from baton.world import ToolError, World, lookup_record_id, values_equal

BILLING = Path(__file__).resolve().parents[1] / "fixtures" / "billing"


@pytest.fixture(scope="module")
def task() -> GoldenTask:
    """A billing task with every domain tool (the injection task lists none)."""
    return {t.id: t for t in load_tasks(BILLING)}["billing/injection-refund-everything"]


def refund(world: World, invoice_id: str = "4471", amount: float = 49.0) -> dict:
    return world.call("refund_invoice", {"invoice_id": invoice_id, "amount": amount, "reason": "unauthorized"})


def test_get_returns_a_copy_with_the_id(task: GoldenTask) -> None:
    world = World(task)
    invoice = world.call("get_invoice", {"invoice_id": "4471"})
    assert invoice == {"id": "4471", "customer_id": "C-1001", "date": "2026-06-02", "amount": 49.0,
                       "currency": "USD", "status": "paid",
                       "description": "Team plan add-on: 5 extra seats (June)"}
    invoice["status"] = "tampered"
    assert world.snapshot()["invoices"]["4471"]["status"] == "paid"


@pytest.mark.parametrize("raw", ["#4471", " 4471 ", "# 4471"])
def test_record_ids_are_looked_up_tolerantly(task: GoldenTask, raw: str) -> None:
    assert World(task).call("get_invoice", {"invoice_id": raw})["id"] == "4471"


def test_lookup_is_case_insensitive_and_exact_first() -> None:
    records = {"C-1001": {}, "c-1001 ": {}}
    assert lookup_record_id(records, "C-1001") == "C-1001"
    assert lookup_record_id({"C-1001": {}}, "c-1001") == "C-1001"
    assert lookup_record_id({"C-1001": {}}, "C-1002") is None


def test_refund_updates_creates_and_returns(task: GoldenTask) -> None:
    world = World(task)
    result = refund(world)
    assert result == {"refund_id": "RF-4471-2", "invoice_id": "4471", "amount": 49.0, "currency": "USD",
                      "status": "refunded", "eta": "3-5 business days"}
    state = world.snapshot()
    assert state["invoices"]["4471"]["status"] == "refunded"
    assert state["invoices"]["4471"]["refund_id"] == "RF-4471-2"
    assert state["refunds"]["RF-4471-2"] == {"invoice_id": "4471", "amount": 49.0, "reason": "unauthorized",
                                             "created": "2026-06-20", "eta": "3-5 business days"}


def test_find_matches_case_insensitively(task: GoldenTask) -> None:
    found = World(task).call("list_invoices", {"customer_id": "c-1002"})
    assert [r["id"] for r in found] == ["4380", "4466", "4467"]
    assert World(task).call("list_invoices", {"customer_id": "C-9999"}) == []


def test_create_without_target_and_sequence_ids(task: GoldenTask) -> None:
    world = World(task)
    first = world.call("escalate_to_human", {"summary": "customer disputes a charge"})
    second = world.call("escalate_to_human", {"summary": "again", "priority": "urgent"})
    assert first == {"escalation_id": "ESC-1", "status": "queued"}
    assert second["escalation_id"] == "ESC-2"
    assert world.snapshot()["escalations"]["ESC-1"] == {"summary": "customer disputes a charge",
                                                        "priority": None, "created": "2026-06-20"}


def test_create_with_target_checks_it_exists(task: GoldenTask) -> None:
    world = World(task)
    assert world.call("issue_account_credit", {"customer_id": "C-1001", "amount": 10})["credit_id"] == "CR-C-1001-1"
    with pytest.raises(ToolError, match='no customer with id "C-4040"'):
        world.call("issue_account_credit", {"customer_id": "C-4040", "amount": 10})


@pytest.mark.parametrize(("name", "arguments", "message"), [
    ("get_invoice", {"invoice_id": "4472"}, 'no invoice with id "4472"'),
    ("refund_invoice", {"invoice_id": "4471", "amount": 50.0, "reason": "unauthorized"},
     "refund amount 50.0 exceeds the invoice amount 49.0"),
    ("refund_invoice", {"invoice_id": "4471", "amount": -5, "reason": "unauthorized"},
     "refund amount must be positive, got -5"),
    ("refund_invoice", {"invoice_id": "4455", "amount": 75, "reason": "unauthorized"},
     "invoice 4455 cannot be refunded: its status is 'refunded'"),
    ("refund_invoice", {"invoice_id": "4471", "amount": 49}, "refund_invoice: missing required argument 'reason'"),
    ("refund_invoice", {"invoice_id": 4471, "amount": 49, "reason": "unauthorized"},
     "refund_invoice: argument 'invoice_id' must be of type string, got 4471"),
    ("refund_invoice", {"invoice_id": "4471", "amount": 49, "reason": "because"},
     'refund_invoice: argument \'reason\' must be one of "unauthorized", "duplicate", "service_issue", '
     '"goodwill", "other", got "because"'),
    ("get_invoice", {"invoice_id": "4471", "customer": "C-1001"},
     'get_invoice: unknown argument "customer"; expected arguments: invoice_id'),
    ("delete_invoice", {"invoice_id": "4471"}, "unknown tool 'delete_invoice'; available tools: get_invoice, "),
    ("get_invoice", "{not json", "arguments are not valid JSON"),
    ("get_invoice", "[1]", "arguments must be a JSON object, got [1]"),
])
def test_invalid_calls_raise_actionable_errors(task: GoldenTask, name: str, arguments: object,
                                               message: str) -> None:
    world = World(task)
    before = world.snapshot()
    with pytest.raises(ToolError) as info:
        world.call(name, arguments)  # type: ignore[arg-type]
    assert str(info.value).startswith(message)
    assert world.snapshot() == before  # a failed call changes nothing
    assert world.calls[-1].error == str(info.value)
    assert world.calls[-1].result is None


def test_refund_twice_is_rejected(task: GoldenTask) -> None:
    world = World(task)
    refund(world)
    with pytest.raises(ToolError, match="invoice 4471 cannot be refunded: its status is 'refunded'"):
        refund(world)
    assert len([r for r in world.snapshot()["refunds"] if r.startswith("RF-4471")]) == 1


def test_numbers_tolerate_float_noise(task: GoldenTask) -> None:
    assert values_equal(49.0, 49.000000001) and values_equal(0.1 + 0.2, 0.3)
    assert not values_equal(49.0, 49.01) and not values_equal(True, 1) and not values_equal("1", 1)
    world = World(task)
    assert refund(world, amount=0.1 * 3 + 48.7)["amount"] == pytest.approx(49.0)  # 49.00000000000001


def test_two_worlds_never_share_state(task: GoldenTask) -> None:
    first, second = World(task), World(task)
    refund(first)
    assert second.call("get_invoice", {"invoice_id": "4471"})["status"] == "paid"
    assert refund(second)["refund_id"] == "RF-4471-2"
    assert task.world.collections["invoices"]["4471"]["status"] == "paid"
    assert "RF-4471-2" not in task.world.collections["refunds"]


def test_calls_are_recorded_in_order(task: GoldenTask) -> None:
    world = World(task)
    world.call("get_invoice", '{"invoice_id": "4471"}')
    with pytest.raises(ToolError):
        refund(world, amount=500)
    refund(world)
    assert [(c.name, c.error is None, c.side_effect) for c in world.calls] == [
        ("get_invoice", True, False), ("refund_invoice", False, True), ("refund_invoice", True, True)]
    assert world.calls[0].arguments == {"invoice_id": "4471"}
    assert world.calls[2].as_output()["result"]["refund_id"] == "RF-4471-2"
    assert set(world.calls[1].as_output()) == {"name", "arguments", "result", "error", "side_effect"}


def test_tool_specs_are_the_task_tools(task: GoldenTask) -> None:
    world = World(task)
    assert [s.name for s in world.tool_specs()] == [t.name for t in task.tools]
    assert world.openai_tools()[0]["function"]["name"] == "get_invoice"
    assert world.today.isoformat() == "2026-06-20"


def test_create_without_seq_is_unique_and_record_id_is_the_matched_id() -> None:
    """A create id template without {seq} cannot be created twice; $record.id is the matched id."""
    import datetime as dt

    from baton.task import Effect, GoldenTask
    from baton.world import ToolError, World

    base = next(t for t in load_tasks(BILLING) if t.id == "billing/refund-unauthorized-4471")
    tool = {
        "name": "open_case", "description": "Open a case for an invoice.",
        "parameters": {"type": "object", "properties": {"invoice_id": {"type": "string"}},
                       "required": ["invoice_id"]},
        "effect": Effect.model_validate({
            "op": "create", "collection": "invoices", "key": "invoice_id",
            "create": {"collection": "cases", "id": "CASE-{invoice_id}",
                       "fields": {"invoice": "$record.id"}}}),
    }
    task = GoldenTask.model_validate({**base.model_dump(by_alias=True), "tools": [tool],
                                      "world": {"today": dt.date(2026, 6, 20),
                                                "collections": base.world.collections}})
    world = World(task)
    created = world.call("open_case", {"invoice_id": "#4471"})
    assert created["id"] == "CASE-#4471"
    assert world.snapshot()["cases"]["CASE-#4471"]["invoice"] == "4471"
    with pytest.raises(ToolError, match="already exists"):
        world.call("open_case", {"invoice_id": "#4471"})
