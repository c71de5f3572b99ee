"""The tool-effect DSL's extensions: dotted paths, append/extend, update_where, computed values,
several effects per call (all or nothing), loads across collections, exact ids, unordered and
nested final-state comparison, gold calls expected to fail, and the safe expression language."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from baton.expr import ExprError, evaluate, names_used, parse
from baton.task import GoldenTask, Route, ToolSpec, WorldSeed
from baton.task import Gold
from baton.validate import expected_equal, state_mismatches, tool_problems, validate_path
from baton.world import ToolError, World

WORLD = {
    "customers": {"C1": {"name": "Ann", "tier": "gold", "wallet": {"credit": 10.0}},
                  "C2": {"name": "Bo", "tier": "basic", "wallet": {"credit": 0.0}}},
    "orders": {"#O1": {"customer_id": "C1", "status": "open", "total": 40.0,
                       "ship": {"city": "Oslo", "zip": "0150"},
                       "lines": [{"sku": "S1", "qty": 1, "price": 15.0}, {"sku": "S2", "qty": 2, "price": 12.5}]},
               "#O2": {"customer_id": "C2", "status": "closed", "total": 9.0,
                       "ship": {"city": "Bergen", "zip": "5003"}, "lines": []}},
}


def tool(name: str, parameters: dict[str, Any], **behaviour: Any) -> ToolSpec:
    props = {p: ({"type": "array", "items": {"type": "string"}} if p.endswith("s") else
                 {"type": "number"} if p in ("amount", "qty") else {"type": "string"}) for p in parameters}
    return ToolSpec.model_validate({"name": name, "description": name,
                                    "parameters": {"type": "object", "properties": props,
                                                   "required": [p for p, req in parameters.items() if req]},
                                    **behaviour})


def make_task(*tools: ToolSpec) -> GoldenTask:
    return GoldenTask(id="d/t", version=1, domain="d", title="t", request="r",
                      routes=[Route(label="x", description="x")], documents=[], tools=list(tools),
                      world=WorldSeed.model_validate({"today": "2026-05-01", "collections": WORLD}),
                      gold=Gold(route="x", outcome="answer"))


def y(text: str) -> Any:
    return yaml.safe_load(textwrap.dedent(text))


def test_dotted_paths_in_find_set_and_require() -> None:
    find = tool("by_city", {"city": True}, effect={"op": "find", "collection": "orders", "match": {"ship.city": "city"}})
    move = tool("move", {"order_id": True, "city": True}, effect=y("""
        op: update
        collection: orders
        key: order_id
        require: [{field: ship.city, not_in: [Tromso], error: "already in {record[ship][city]}"}]
        set: {ship.city: $city, ship.moved_on: $today}
        returns: {city: $record.ship.city, zip: $record.ship.zip}
        """))
    world = World(make_task(find, move))
    assert [o["id"] for o in world.call("by_city", {"city": " oslo"})] == ["#O1"]
    assert world.call("move", {"order_id": "#O1", "city": "Tromso"}) == {"city": "Tromso", "zip": "0150"}
    assert world.snapshot()["orders"]["#O1"]["ship"] == {"city": "Tromso", "zip": "0150", "moved_on": "2026-05-01"}
    with pytest.raises(ToolError, match="already in Tromso"):
        world.call("move", {"order_id": "#O1", "city": "Tromso"})


def test_append_extend_update_where_and_computed_values() -> None:
    change = tool("change_qty", {"order_id": True, "sku": True, "qty": True}, effect=y("""
        op: update
        collection: orders
        key: order_id
        update_where:
          - list: lines
            where: "item.sku == sku"
            set: {qty: $qty, was: {$calc: "item.qty"}}
            error: "no line {sku} in {order_id}"
        set:
          total: {$calc: "round(sum((qty if l.sku == sku else l.qty) * l.price for l in record.lines), 2)"}
        append: {log: {what: qty, sku: $sku}}
        extend: {tags: {$calc: "[sku, 'qty-' + str(qty)]"}}
        """))
    world = World(make_task(change))
    out = world.call("change_qty", {"order_id": "#O1", "sku": "S2", "qty": 3})
    assert out["total"] == 52.5
    assert out["lines"][1] == {"sku": "S2", "qty": 3, "price": 12.5, "was": 2}
    assert out["log"] == [{"what": "qty", "sku": "S2"}] and out["tags"] == ["S2", "qty-3"]
    with pytest.raises(ToolError, match="no line S9 in #O1"):
        world.call("change_qty", {"order_id": "#O1", "sku": "S9", "qty": 1})
    assert world.snapshot()["orders"]["#O1"]["total"] == 52.5  # the failed call changed nothing


def test_several_effects_are_all_or_nothing_and_share_bound_records() -> None:
    pay = tool("pay_with_credit", {"order_id": True, "amount": True}, effects=y("""
        - op: update
          collection: orders
          key: order_id
          as: order
          require: [{field: status, equals: open, error: "order is {record[status]}"}]
          set: {paid: $amount, status: paid}
        - op: update
          collection: customers
          id: order.customer_id
          require: [{expr: "record.wallet.credit >= amount", error: "only {record[wallet][credit]} credit left"}]
          set: {wallet.credit: {$calc: "round(record.wallet.credit - amount, 2)"}}
          returns: {order: $order.id, status: $order.status, credit_left: $record.wallet.credit}
        """))
    task = make_task(pay)
    assert pay.side_effect and pay.written_collections == {"orders", "customers"}
    world = World(task)
    with pytest.raises(ToolError, match="only 10.0 credit left"):
        world.call("pay_with_credit", {"order_id": "#O1", "amount": 25})
    assert world.snapshot() == World(task).snapshot()  # the first effect's writes were undone
    assert world.call("pay_with_credit", {"order_id": "#O1", "amount": 7.5}) == {
        "order": "#O1", "status": "paid", "credit_left": 2.5}
    assert world.snapshot()["orders"]["#O1"]["status"] == "paid"


def test_loads_read_another_collections_nested_record() -> None:
    upgrade = tool("ship_free", {"order_id": True}, effect=y("""
        op: update
        collection: orders
        key: order_id
        load:
          customer: {collection: customers, id: record.customer_id}
          missing: {collection: customers, id: "'C404'", optional: true}
        require:
          - {expr: "customer.tier == 'gold' and missing is None", error: "{customer[name]} is not a gold customer"}
        set: {shipping: free, shipping_note: "free for {customer[name]}"}
        """))
    world = World(make_task(upgrade))
    assert world.call("ship_free", {"order_id": "#O1"})["shipping_note"] == "free for Ann"
    with pytest.raises(ToolError, match="Bo is not a gold customer"):
        world.call("ship_free", {"order_id": "#O2"})


def test_exact_ids_turn_lenient_matching_off() -> None:
    lenient = tool("get_lenient", {"order_id": True}, effect={"op": "get", "collection": "orders", "key": "order_id"})
    exact = tool("get_exact", {"order_id": True},
                 effect={"op": "get", "collection": "orders", "key": "order_id", "ids": "exact"})
    world = World(make_task(lenient, exact))
    assert world.call("get_lenient", {"order_id": "o1"})["id"] == "#O1"
    assert world.call("get_exact", {"order_id": "#O1"})["id"] == "#O1"
    for typed in ("O1", "#o1", " #O1"):
        with pytest.raises(ToolError, match=f'no order with id "{typed}"'):
            world.call("get_exact", {"order_id": typed})


def test_final_state_compares_nested_paths_and_unordered_lists() -> None:
    snapshot = {"orders": {"A": {"items": [{"id": 1}, {"id": 2}], "ship": {"city": "Oslo"}, "tags": ["x", "y"]}}}
    ok = {"orders": {"A": {"items": {"$unordered": [{"id": 2}, {"id": 1}]}, "ship.city": "Oslo",
                           "tags": {"$unordered": ["y", "x"]}}}}
    assert state_mismatches(ok, snapshot) == []
    bad = {"orders": {"A": {"items": {"$unordered": [{"id": 2}, {"id": 2}]}, "ship.zip": "0150",
                            "tags": ["y", "x"]}}}
    assert [path for path, _ in state_mismatches(bad, snapshot)] == ["orders.A.items", "orders.A.ship.zip", "orders.A.tags"]
    assert expected_equal([1.0000000001, 2], {"$unordered": [2, 1]})
    assert not expected_equal([1, 2, 3], {"$unordered": [2, 1]})


@pytest.mark.parametrize(("text", "names", "value"), [
    ("round(sum(l.qty * l.price for l in lines), 2)", {"lines": [{"qty": 2, "price": 1.005}, {"qty": 1, "price": 3}]}, 5.01),
    ("order.items[0].price - 10 if order.status == 'open' else 0", {"order": {"status": "open", "items": [{"price": 12}]}}, 2),
    ("[k for k in sorted(keys(m)) if m[k] > 1]", {"m": {"a": 1, "b": 2, "c": 3}}, ["b", "c"]),
    ("sum(pm.balance for pm in user.methods)", {"user": {"methods": {"g1": {"balance": 2}, "g2": {"balance": 3}}}}, 5),
    ("0.1 + 0.2 == 0.3 and not (x is None) and 'a' in ['a']", {"x": 1}, True),
    ("{'kind': 'refund', 'amount': -a}", {"a": 4}, {"kind": "refund", "amount": -4}),
])
def test_expressions(text: str, names: dict[str, Any], value: Any) -> None:
    assert evaluate(text, names) == value


@pytest.mark.parametrize("text", ["x.__class__", "2 ** 1000", "(lambda: 1)()", "open('f')", "x.items()",
                                  "[y := 1]", "f'{x}'", "__import__('os')", "x if"])
def test_expressions_outside_the_whitelist_are_rejected_when_parsed(text: str) -> None:
    with pytest.raises(ExprError):
        parse(text)


def test_expression_runtime_errors_are_expr_errors() -> None:
    with pytest.raises(ExprError, match="unknown name 'nope'"):
        evaluate("nope + 1", {})
    with pytest.raises(ExprError, match="no field 'missing'"):
        evaluate("r.missing", {"r": {"a": 1}})
    with pytest.raises(ExprError, match="cannot compute"):
        evaluate("1 / x", {"x": 0})
    assert names_used("sum(l.qty for l in record.lines) + amount") == {"record", "amount"}


def test_validation_names_the_field_of_a_bad_expression_or_reference() -> None:
    spec = tool("t", {"order_id": True}, effects=y("""
        - op: update
          collection: orders
          key: order_id
          as: order
          set: {total: {$calc: "record.total * rate"}, note: $reason}
        - op: update
          collection: customers
          id: "order.customer_id"
          require: [{expr: "record.__dict__", error: "x"}]
          set: {seen: {$calc: "order.id"}}
        """))
    problems = {(p.field, p.message.split(":")[0]) for p in tool_problems(spec, "domain.yaml")}
    assert ("tools[t].effects.0.set.total.$calc", "unknown name 'rate' in 'record.total * rate'") in problems
    assert any(f == "tools[t].effects.0.set.note" for f, _ in problems)
    assert ("tools[t].effects.1.require.0.expr", "field names starting with '_' are not allowed") in problems
    assert not any(f.startswith("tools[t].effects.1.set") or f == "tools[t].effects.1.id" for f, _ in problems)


def test_a_runtime_expression_error_is_a_tool_error_and_changes_nothing() -> None:
    spec = tool("t", {"order_id": True}, effect=y("""
        op: update
        collection: orders
        key: order_id
        set: {status: done, first: {$calc: "record.lines[0].sku"}}
        """))
    world = World(make_task(spec))
    with pytest.raises(ToolError, match=r"t: index 0 is out of range"):
        world.call("t", {"order_id": "#O2"})
    assert world.snapshot()["orders"]["#O2"]["status"] == "closed"


def test_a_tool_has_exactly_one_behaviour() -> None:
    with pytest.raises(ValueError, match="exactly one of 'effect', 'effects'"):
        tool("t", {"a": True}, effect={"op": "get", "collection": "c", "key": "a"},
             effects=[{"op": "get", "collection": "c", "key": "a"}])
    with pytest.raises(ValueError, match="exactly one of 'effect', 'effects'"):
        tool("t", {"a": True})


def test_validate_reports_expect_error_and_state_problems_by_field(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    (folder / "tasks").mkdir(parents=True)
    (folder / "domain.yaml").write_text(textwrap.dedent("""\
        domain: shop
        title: Shop
        routes: [{label: x, description: x}]
        tools:
          - name: close
            description: Close an order.
            parameters: {type: object, properties: {order_id: {type: string}}, required: [order_id]}
            effect:
              op: update
              collection: orders
              key: order_id
              ids: exact
              require: [{field: status, equals: open, error: "order is {record[status]}"}]
              set: {status: closed, lines: {$calc: "[l.sku for l in record.lines]"}}
        world:
          today: 2026-01-01
          collections:
            orders:
              "#1": {status: open, lines: [{sku: b}, {sku: a}]}
              "#2": {status: closed, lines: []}
        """))
    (folder / "tasks" / "a.yaml").write_text(textwrap.dedent("""\
        id: shop/a
        version: 1
        title: a
        request: close 1
        gold:
          route: x
          outcome: act
          tool_calls:
            - {name: close, arguments: {order_id: "1"}, expect_error: true}
            - {name: close, arguments: {order_id: "#2"}, expect_error: true}
            - {name: close, arguments: {order_id: "#1"}}
          final_state:
            orders:
              "#1": {status: closed, lines: {$unordered: [a, b]}}
        """))
    assert validate_path(folder).problems == []
    task_file = folder / "tasks" / "a.yaml"
    task_file.write_text(task_file.read_text().replace("{$unordered: [a, b]}", "[a, b]"))
    (problem,) = validate_path(folder).problems
    assert problem.field == "gold.final_state.orders.#1.lines" and "expected ['a', 'b'], got ['b', 'a']" in problem.message
