"""Facts v2 in the task format: optional facts, typed forbidden claims, asks_for, assertions
(graded by the LLM judge, unjudged without one), and the errors bad input gets."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from baton.fixtures import load_tasks
from baton.graders import grade_run
from baton.graders.judge import JUDGE_SCHEMA, grade_run_with_judge, judge_schema
from baton.model import ScriptedClient
from baton.task import ForbiddenClaim, GoldenTask
from baton.trace import Hop, Trace
from baton.validate import validate_path
from baton.world import World

REPO = Path(__file__).resolve().parents[1]
BILLING = REPO / "fixtures" / "billing"
REF = BILLING / "tasks" / "refund-unauthorized-4471.yaml"
REF_FILE = "set/billing/tasks/refund-unauthorized-4471.yaml"
GOLD = [("get_invoice", {"invoice_id": "4471"}),
        ("refund_invoice", {"invoice_id": "4471", "amount": 49, "reason": "unauthorized"})]
GOOD = "I've refunded $49 to your original card (RF-4471-2); allow 3-5 business days."


def variant(**gold: Any) -> GoldenTask:
    data = load_tasks(REF)[0].model_dump(by_alias=True)
    data["gold"].update(gold)
    return GoldenTask.model_validate(data)


def trace(task: GoldenTask, answer: str, calls: list[tuple[str, dict[str, Any]]] = GOLD) -> Trace:
    world = World(task)
    hops = []
    for name, arguments in calls:
        world.call(name, arguments)
        hops.append(Hop(kind="tool", name="act", output=world.calls[-1].as_output()))
    return Trace(task_id=task.id, task_version=task.version, system="naive@test", architecture="naive",
                 hops=hops, answer=answer, final_state=world.snapshot())


# --------------------------------------------------------------------------- the format


def test_existing_fixtures_keep_validating() -> None:
    report = validate_path(REPO / "fixtures")
    assert report.problems == []


def test_plain_string_claims_and_typed_claims_load_side_by_side() -> None:
    task = variant(forbidden_claims=["60 days", {"kind": "money", "forms": ["$98"], "why": "double"}])
    assert task.gold.forbidden_claims[0] == "60 days"
    assert task.gold.forbidden_claims[1] == ForbiddenClaim(kind="money", forms=("$98",), why="double")


def test_typed_claim_matches_other_written_forms_and_respects_negation() -> None:
    task = variant(forbidden_claims=[{"kind": "money", "forms": ["$98"]}])
    said = grade_run(task, trace(task, GOOD + " That's USD 98.00 in total with last month."))
    assert said.failure_category == "forbidden_claim"
    denied = grade_run(task, trace(task, GOOD + " It is not $98."))
    assert denied.status == "passed"


def test_optional_fact_need_not_appear_but_must_be_right() -> None:
    facts = [{"id": "amount", "kind": "money", "forms": ["$49"]},
             {"id": "timing", "kind": "duration", "forms": ["3-5 business days"], "required": False}]
    task = variant(facts=facts)
    assert grade_run(task, trace(task, "I've refunded $49.")).status == "passed"
    wrong = grade_run(task, trace(task, "I've refunded $49; it takes 9 business days."))
    assert wrong.failure_category == "wrong_fact"
    detail = next(c.detail for c in wrong.checks if c.name == "facts")
    assert "timing" in detail and "9 business day" in detail


def test_wrong_value_outranks_missing_and_names_the_value() -> None:
    task = load_tasks(REF)[0]
    grade = grade_run(task, trace(task, "I've refunded $59 (RF-4471-2); allow 3-5 business days."))
    assert (grade.status, grade.failure_category, grade.first_divergent_hop) == ("failed", "wrong_fact", "generate")
    assert "'$59'" in next(c.detail for c in grade.checks if c.name == "facts")
    assert grade.components["answer"].passed is False


def test_a_value_the_run_saw_is_not_a_contradiction() -> None:
    # 4417 is a real invoice the run looked up: naming its amount is not a wrong value for 4471
    task = variant(facts=[{"id": "amount", "kind": "money", "forms": ["$49"]}])
    calls = [("get_invoice", {"invoice_id": "4417"}), *GOLD]
    grade = grade_run(task, trace(task, "I've refunded invoice #4471.", calls))
    assert grade.failure_category == "missing_facts"


def test_asks_for_needs_a_question_for_every_field() -> None:
    task = variant(outcome="ask", tool_calls=[], final_state={}, facts=[],
                   asks_for=[{"id": "invoice", "forms": ["invoice number"]},
                             {"id": "email", "forms": ["email address"]}])
    asked = grade_run(task, trace(task, "Could you send the invoice number and your email address?", []))
    assert asked.status == "passed" and any(c.name == "asks_for" and c.passed for c in asked.checks)
    partial = grade_run(task, trace(task, "Which invoice number? I'll email your email address a receipt.", []))
    assert partial.failure_category == "missing_ask"
    assert "email" in next(c.detail for c in partial.checks if c.name == "asks_for")


def test_asks_for_is_only_for_ask_tasks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(BILLING, tmp_path / "set" / "billing")
    monkeypatch.chdir(tmp_path)
    ref = tmp_path / "set" / "billing" / "tasks" / REF.name
    text = ref.read_text()
    ref.write_text(text.replace("  forbidden_claims:", "  asks_for: [{id: invoice, forms: [invoice number]}]\n"
                                                         "  forbidden_claims:", 1))
    problems = [str(p) for p in validate_path(tmp_path / "set").problems]
    assert len(problems) == 1 and problems[0].startswith(f"{REF_FILE}: gold.asks_for: ")
    assert "asks_for is only for outcome 'ask'" in problems[0]


def test_blank_forms_are_errors_with_file_and_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(BILLING, tmp_path / "set" / "billing")
    monkeypatch.chdir(tmp_path)
    ref = tmp_path / "set" / "billing" / "tasks" / REF.name
    text = ref.read_text()
    ref.write_text(text.replace('    - "60 days"\n', '    - {kind: money, forms: ["  "]}\n', 1))
    problems = [str(p) for p in validate_path(tmp_path / "set").problems]
    assert len(problems) == 1 and problems[0].startswith(f"{REF_FILE}: gold.forbidden_claims.1")
    assert "non-blank" in problems[0]


# --------------------------------------------------------------------------- assertions


ASSERTION = "tells the customer the refund goes back to the original payment method"


def test_assertions_without_a_judge_are_unjudged_not_passed() -> None:
    task = variant(assertions=[ASSERTION])
    grade = grade_run(task, trace(task, GOOD))
    assert grade.status == "passed" and grade.unjudged == [ASSERTION]
    assert not any(c.name == "assertions" for c in grade.checks)
    assert judge_schema(load_tasks(REF)[0]) == JUDGE_SCHEMA  # no assertions: the schema is unchanged


def _judge(rulings: list[dict[str, Any]] | None) -> ScriptedClient:
    verdict: dict[str, Any] = {"verdict": "pass", "score": 1.0, "reasons": "ok", "missing": []}
    if rulings is not None:
        verdict["assertions"] = rulings
    return ScriptedClient(lambda messages, options: verdict)


async def test_judge_rules_on_each_assertion() -> None:
    task = variant(assertions=[ASSERTION])
    client = _judge([{"index": 1, "met": True, "reason": "says original card"}])
    grade = await grade_run_with_judge(task, trace(task, GOOD), client)
    assert grade.status == "passed" and grade.unjudged == []
    assert any(c.name == "assertions" and c.passed for c in grade.checks)
    prompt = client.calls[0][0][-1]["content"]
    assert f"1. {ASSERTION}" in prompt
    assert "assertions" in client.calls[0][1]["schema"]["required"]


async def test_an_unmet_assertion_fails_the_run() -> None:
    task = variant(assertions=[ASSERTION])
    grade = await grade_run_with_judge(task, trace(task, GOOD), _judge([{"index": 1, "met": False, "reason": "no"}]))
    assert (grade.status, grade.failure_category, grade.first_divergent_hop) == ("failed", "failed_assertion", "generate")
    failing = await grade_run_with_judge(task, trace(task, "I've refunded $49."),
                                         _judge([{"index": 1, "met": False, "reason": "no"}]))
    assert failing.failure_category == "missing_facts"  # what outranks it stays the category


async def test_a_judge_without_rulings_leaves_assertions_unjudged() -> None:
    task = variant(assertions=[ASSERTION, "apologises"])
    grade = await grade_run_with_judge(task, trace(task, GOOD), _judge([{"index": 2, "met": True, "reason": ""}]))
    assert grade.unjudged == [ASSERTION] and grade.status == "passed"
    silent = await grade_run_with_judge(task, trace(task, GOOD), _judge(None))
    assert silent.unjudged == [ASSERTION, "apologises"]


def test_the_evidence_is_scanned_only_for_a_value_the_answer_states(monkeypatch: pytest.MonkeyPatch) -> None:
    # Scanning everything the run saw is most of a grade's time on a task of its own: an answer
    # that states no comparable value needs none of it, and one that does still gets it.
    from baton.graders import contradictions

    scans: list[int] = []
    real = contradictions._seen
    monkeypatch.setattr(contradictions, "_seen", lambda texts: scans.append(len(texts)) or real(texts))
    task = variant(facts=[{"id": "amount", "kind": "money", "forms": ["$49"]}])
    quiet = grade_run(task, trace(task, "I've refunded invoice #4471."))
    assert quiet.failure_category == "missing_facts" and scans == []
    wrong = grade_run(task, trace(task, "I've refunded $59 on invoice #4471."))
    assert wrong.failure_category == "wrong_fact" and len(scans) == 1 and scans[0] > 1
