"""The simulated vendor's behaviour as a pure function (no HTTP): classification, tools, answers."""

from __future__ import annotations

import json
from typing import Any

from baton.sim.behaviour import respond
from baton.sim.knobs import SimKnobs

PERFECT = SimKnobs()
ROUTES = {"type": "object", "properties": {"route": {"type": "string", "enum": [
    "billing_refund", "billing_question", "account_access", "plan_change", "other"]}}, "required": ["route"]}
ROUTER_SYSTEM = """Route the customer's request to one label.
- billing_refund: The customer wants money back for a charge (refund, disputed or unauthorized charge).
- billing_question: Questions about invoices, pricing, payment methods or billing dates; no money moves.
- account_access: Login, password, two-factor authentication or account ownership problems.
- plan_change: Upgrade, downgrade or cancel a subscription plan.
- other: Anything that is not billing or account related."""


def _message(request: dict[str, Any], knobs: SimKnobs = PERFECT) -> dict[str, Any]:
    outcome = respond(request, knobs)
    assert outcome.body is not None
    return outcome.body["choices"][0]["message"]


def _structured(messages: list[dict[str, Any]], schema: dict[str, Any], knobs: SimKnobs = PERFECT,
                seed: int = 0) -> Any:
    msg = _message({"model": "m", "messages": messages, "seed": seed,
                    "response_format": {"type": "json_schema", "json_schema": {"name": "o", "schema": schema}}},
                   knobs)
    return json.loads(msg["content"])


def test_classifies_against_enum_labels_using_system_descriptions() -> None:
    cases = {
        "My invoice #4471 shows a charge I didn't authorize, can you refund it?": "billing_refund",
        "I can't log in, my password reset email never arrives": "account_access",
        "Please downgrade my subscription to the Starter plan": "plan_change",
        "Which payment methods do you accept for invoices?": "billing_question",
        "What is the weather in Lisbon tomorrow?": "other",
    }
    for text, label in cases.items():
        out = _structured([{"role": "system", "content": ROUTER_SYSTEM}, {"role": "user", "content": text}], ROUTES)
        assert out == {"route": label}, text


def test_wrong_label_knob_picks_another_label() -> None:
    always_wrong = SimKnobs(wrong_label=1.0)
    msgs = [{"role": "system", "content": ROUTER_SYSTEM},
            {"role": "user", "content": "Refund the unauthorized charge on invoice 4471"}]
    labels = {_structured(msgs, ROUTES, always_wrong, seed)["route"] for seed in range(20)}
    assert "billing_refund" not in labels and len(labels) > 1


def test_fills_fields_from_entities() -> None:
    schema = {"type": "object", "properties": {
        "invoice_id": {"type": "string", "description": 'digits only, e.g. "4471"'},
        "customer_id": {"type": "string"}, "email": {"type": "string"}, "amount": {"type": "number"},
        "date": {"type": "string"}}}
    text = ("Customer C-2002 (jo@example.org) was charged $120.50 on 2026-03-04 for invoice #8812; "
            "please check.")
    out = _structured([{"role": "user", "content": text}], schema)
    assert out == {"invoice_id": "8812", "customer_id": "C-2002", "email": "jo@example.org", "amount": 120.5,
                   "date": "2026-03-04"}


VERIFY = {"type": "object", "properties": {"verdict": {"type": "string", "enum": ["pass", "fail"]},
                                           "issues": {"type": "array", "items": {"type": "string"}}},
          "required": ["verdict", "issues"]}


def test_verifier_passes_supported_draft_and_fails_unsupported_values() -> None:
    context = 'Tool result: {"refund_id": "RF-77-1", "amount": 12.0, "eta": "3-5 business days"}'
    good = _structured([{"role": "user", "content": f"Context:\n{context}\nDraft:\nRefunded $12.00 (RF-77-1), "
                                                    f"3-5 business days."}], VERIFY)
    assert good == {"verdict": "pass", "issues": []}
    bad = _structured([{"role": "user", "content": f"Context:\n{context}\nDraft:\nRefunded $15.00 (RF-77-9)."}],
                      VERIFY)
    assert bad["verdict"] == "fail"
    assert any("15" in issue for issue in bad["issues"]) and any("RF-77-9" in issue for issue in bad["issues"])


def _tool(name: str, description: str, props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": {
        "type": "object", "properties": props, "required": required}}}


SHOP_TOOLS = [
    _tool("get_order", "Look up an order by its number.", {"order_id": {"type": "string"}}, ["order_id"]),
    _tool("cancel_order", "Cancel an order that has not shipped.", {"order_id": {"type": "string"}}, ["order_id"]),
    _tool("return_item", "Start a return for a delivered order.",
          {"order_id": {"type": "string"}, "sku": {"type": "string"}}, ["order_id", "sku"]),
]


def _run_agent(system: str, user: str, tools: list[dict[str, Any]], results: dict[str, Any],
               knobs: SimKnobs = PERFECT, max_steps: int = 5) -> tuple[list[tuple[str, dict[str, Any]]], str]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    calls = []
    for _ in range(max_steps):
        msg = _message({"model": "m", "messages": messages, "tools": tools}, knobs)
        if not msg.get("tool_calls"):
            return calls, msg["content"]
        call = msg["tool_calls"][0]
        args = json.loads(call["function"]["arguments"])
        calls.append((call["function"]["name"], args))
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        messages.append({"role": "tool", "tool_call_id": call["id"],
                         "content": json.dumps(results.get(call["function"]["name"], {"ok": True}))})
    raise AssertionError("the agent never answered")


def test_agent_looks_up_then_acts_then_answers() -> None:
    calls, answer = _run_agent("You help shop customers.", "Please cancel order #A-5521, I ordered by mistake.",
                               SHOP_TOOLS, {"get_order": {"order_id": "A-5521", "status": "processing"},
                                            "cancel_order": {"order_id": "A-5521", "status": "cancelled",
                                                             "confirmation": "CX-991"}})
    assert calls == [("get_order", {"order_id": "A-5521"}), ("cancel_order", {"order_id": "A-5521"})]
    assert "CX-991" in answer and "cancelled" in answer


def test_agent_asks_for_missing_required_arguments() -> None:
    calls, answer = _run_agent("You help shop customers.", "I want to return an item from order #A-5521.",
                               SHOP_TOOLS, {"get_order": {"order_id": "A-5521", "status": "delivered"}})
    assert calls == [("get_order", {"order_id": "A-5521"})]
    assert "sku" in answer.lower() and "?" in answer


def test_agent_refuses_outside_the_stated_window() -> None:
    system = "Today is 2026-06-20. Orders can be returned within 14 days of delivery."
    tools = SHOP_TOOLS[:1] + [_tool("return_order", "Start a return for a delivered order.",
                                    {"order_id": {"type": "string"}}, ["order_id"])]
    calls, answer = _run_agent(system, "Please return order #A-77, it does not fit.", tools,
                               {"get_order": {"order_id": "A-77", "delivered": "2026-05-01"}})
    assert calls == [("get_order", {"order_id": "A-77"})]
    assert "14-day" in answer and "2026-05-01" in answer
    calls, _ = _run_agent(system, "Please return order #A-77, it does not fit.", tools,
                          {"get_order": {"order_id": "A-77", "delivered": "2026-06-15"}})
    assert calls[-1] == ("return_order", {"order_id": "A-77"})


def test_agent_argument_mistakes() -> None:
    results = {"get_order": {"order_id": "A-5521", "status": "processing"}}
    user = "Please cancel order #A-5521."
    calls, _ = _run_agent("", user, SHOP_TOOLS, results, SimKnobs(wrong_argument=1.0))
    assert calls[-1][0] == "cancel_order" and calls[-1][1] != {"order_id": "A-5521"}
    calls, _ = _run_agent("", user, SHOP_TOOLS, results, SimKnobs(missing_argument=1.0))
    assert calls[-1] == ("cancel_order", {})


def test_plain_answer_uses_relevant_context_sentences() -> None:
    system = ("Shipping takes 2-4 business days within the EU. Gift cards never expire. "
              "Returns are free for members.")
    msg = _message({"model": "m", "messages": [{"role": "system", "content": system},
                                               {"role": "user", "content": "How long does shipping take?"}]})
    assert "2-4 business days" in msg["content"] and "Gift cards" not in msg["content"]


def test_without_context_it_says_it_cannot_access_the_data() -> None:
    msg = _message({"model": "m", "messages": [{"role": "user", "content": "What's the balance of account 99812?"}]})
    assert "access" in msg["content"] and "?" in msg["content"]


def test_fact_knobs_change_the_answer() -> None:
    messages = [{"role": "system", "content": "Shipping takes 2-4 business days. Express shipping takes 1 day."},
                {"role": "user", "content": "How long does shipping and express shipping take?"}]
    base = _message({"model": "m", "messages": messages})["content"]
    dropped = _message({"model": "m", "messages": messages}, SimKnobs(dropped_fact=1.0))["content"]
    invented = _message({"model": "m", "messages": messages}, SimKnobs(invented_fact=1.0))["content"]
    assert len(dropped) < len(base)
    assert invented.startswith(base) and "$" in invented[len(base):]


def test_malformed_json_knob() -> None:
    msg = _message({"model": "m", "messages": [{"role": "user", "content": "refund"}],
                    "response_format": {"type": "json_schema", "json_schema": {"name": "o", "schema": ROUTES}}},
                   SimKnobs(malformed_json=1.0))
    try:
        json.loads(msg["content"])
    except ValueError:
        return
    raise AssertionError("expected malformed JSON")


def test_same_request_same_output_and_latency_draws() -> None:
    knobs = SimKnobs(latency_median_ms=50, latency_p95_ms=200, wrong_label=0.5)
    request = {"model": "m", "seed": 7, "messages": [{"role": "user", "content": "refund invoice 12"}],
               "response_format": {"type": "json_schema", "json_schema": {"name": "o", "schema": ROUTES}}}
    first, second = respond(request, knobs), respond(dict(request), knobs)
    assert first == second
    delays = [respond({**request, "seed": s}, knobs).delay_s for s in range(200)]
    delays.sort()
    assert 0.035 < delays[100] < 0.07 and 0.12 < delays[190] < 0.35
