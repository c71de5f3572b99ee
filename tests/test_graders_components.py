"""Component metrics, attribution, grade_run's contract and the optional LLM judge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from baton.errors import BatonError
from baton.fixtures import load_tasks
from baton.graders import grade_run
from baton.graders.calls import arguments_match, observed_calls, values_match
from baton.graders.judge import JUDGE_SCHEMA, grade_run_with_judge, judge_answer
from baton.model import ChatResponse, InfraError, ScriptedClient
from baton.task import GoldenTask
from baton.trace import Hop, Trace
from baton.world import ToolError, World

TASK_FILE = Path(__file__).parent.parent / "fixtures/billing/tasks/refund-unauthorized-4471.yaml"
GOOD = "I've refunded $49 (RF-4471-2). It will be back in 3-5 business days."
GOLD_CALLS = [("get_invoice", {"invoice_id": "4471"}),
              ("refund_invoice", {"invoice_id": "4471", "amount": 49, "reason": "unauthorized"})]


@pytest.fixture(scope="module")
def task() -> GoldenTask:
    return load_tasks(TASK_FILE)[0]


def make_trace(task: GoldenTask, *, calls: list[tuple[str, dict[str, Any]]] = GOLD_CALLS,
               before: list[Hop] = (), after: list[Hop] = (), answer: str = GOOD,
               infra_error: str | None = None) -> Trace:
    world = World(task)
    hops = list(before)
    for name, args in calls:
        try:
            world.call(name, args)
        except ToolError:
            pass
        hops.append(Hop(kind="tool", name="act", output=world.calls[-1].as_output(), error=world.calls[-1].error))
    hops.extend(after)
    return Trace(task_id=task.id, task_version=task.version, system="s", architecture="rag", hops=hops,
                 answer=answer, final_state=world.snapshot(), infra_error=infra_error)


def route(label: str) -> Hop:
    return Hop(kind="route", name="route", output={"route": label})


def retrieve(*doc_ids: str, **extra: Any) -> Hop:
    return Hop(kind="retrieve", name="retrieve", output={"doc_ids": list(doc_ids), **extra})


# --------------------------------------------------------------------------- route


def test_route_component(task: GoldenTask) -> None:
    assert "route" not in grade_run(task, make_trace(task)).components
    right = grade_run(task, make_trace(task, before=[route("billing_refund")])).components["route"]
    wrong = grade_run(task, make_trace(task, before=[route("billing_question"), route("billing_refund")]))
    assert (right.score, right.passed) == (1.0, True)
    assert wrong.components["route"].score == 0.0   # the first route hop decides
    assert wrong.status == "passed"                  # components never feed system success


# --------------------------------------------------------------------------- retrieval


def test_retrieval_recall_precision_mrr(task: GoldenTask) -> None:
    hops = [retrieve("invoices-faq", "unauthorized-charges", "refund-policy-2024", "refund-policy-2026")]
    score = grade_run(task, make_trace(task, before=hops)).components["retrieval"]
    # ranked: invoices-faq, unauthorized-charges, refund-policy-2024, refund-policy-2026, invoices/4471
    assert score.metrics["recall"] == 1.0
    assert score.metrics["precision"] == pytest.approx(3 / 5)
    assert score.metrics["mrr"] == pytest.approx(1 / 2)
    assert score.metrics["k"] == 5.0


def test_retrieval_records_from_reads_and_chunks(task: GoldenTask) -> None:
    chunks = [{"doc_id": "refund-policy-2026", "text": "...", "score": 1.0}]
    hops = [Hop(kind="retrieve", name="retrieve", output={"chunks": chunks})]
    score = grade_run(task, make_trace(task, before=hops, calls=[("get_invoice", {"invoice_id": "#4471"})],
                                       answer="")).components["retrieval"]
    assert score.metrics["doc_recall"] == 0.5          # unauthorized-charges missing
    assert score.metrics["record_recall"] == 1.0       # '#4471' resolved to invoices/4471
    assert score.metrics["recall"] == pytest.approx(2 / 3) and score.passed is False
    listed = grade_run(task, make_trace(task, before=[retrieve("refund-policy-2026")],
                                        calls=[("list_invoices", {"customer_id": "C-1001"})], answer=""))
    assert listed.components["retrieval"].metrics["record_recall"] == 1.0   # find results name 4471


# --------------------------------------------------------------------------- tools


def test_argument_matching() -> None:
    assert values_match(49, 49.0000000001) and values_match(49.0, "49.00") and values_match("4471", "#4471")
    assert values_match("Unauthorized", " unauthorized ") and not values_match(49, 94)
    assert not values_match("4471", "4417") and not values_match(49, "forty-nine")
    assert arguments_match({"id": "1"}, {"id": "1", "note": "extra arguments are ignored"})
    assert not arguments_match({"id": "1"}, {})


def test_tool_component_scores(task: GoldenTask) -> None:
    perfect = grade_run(task, make_trace(task)).components["tool"]
    assert (perfect.score, perfect.passed, perfect.metrics["order_ok"]) == (1.0, True, 1.0)

    reversed_ = grade_run(task, make_trace(task, calls=GOLD_CALLS[::-1])).components["tool"]
    assert reversed_.metrics["recall"] == 0.5 and reversed_.metrics["order_ok"] == 0.0
    assert reversed_.passed is False

    extra = GOLD_CALLS + [("escalate_to_human", {"summary": "done"})]
    with_extra = grade_run(task, make_trace(task, calls=extra)).components["tool"]
    assert with_extra.metrics["extra_side_effects"] == 1.0
    assert with_extra.metrics["precision"] == pytest.approx(2 / 3)
    assert with_extra.score == pytest.approx(0.8)   # F1 of recall 1 and precision 2/3

    partial = grade_run(task, make_trace(task, calls=[GOLD_CALLS[0], ("refund_invoice", {
        "invoice_id": "4471", "amount": 40, "reason": "unauthorized"})])).components["tool"]
    assert partial.metrics["recall"] == 0.5 and partial.metrics["extra_side_effects"] == 1.0

    nothing = make_trace(task, calls=[], answer="")
    assert "tool" not in grade_run(task, nothing).components  # no tool hop: like naive and rag
    nothing.hops.append(Hop(kind="generate", name="act", output={"text": ""}))
    assert grade_run(task, nothing).components["tool"].score == 0.0  # could act, did not


def test_free_text_arguments_need_only_be_present(task: GoldenTask) -> None:
    spec = task.tool("escalate_to_human")
    gold = {"summary": "Customer reports an unauthorized seat add-on charge"}
    assert arguments_match(gold, {"summary": "Unrecognised $49 charge on invoice 4471"}, spec)
    assert not arguments_match(gold, {"summary": ""}, spec)


def test_side_effect_falls_back_to_the_task_tool(task: GoldenTask) -> None:
    hop = Hop(kind="tool", name="refund_invoice",
              output={"name": "refund_invoice", "arguments": {"invoice_id": "4471"}, "result": {}})
    trace = Trace(task_id=task.id, task_version=1, system="s", architecture="adapter", hops=[hop])
    (call,) = observed_calls(task, trace)
    assert call.side_effect and call.write


# --------------------------------------------------------------------------- answer


def test_answer_coverage_and_groundedness(task: GoldenTask) -> None:
    good = grade_run(task, make_trace(task)).components["answer"]
    assert good.metrics["fact_coverage"] == 1.0 and good.metrics["groundedness"] == 1.0
    invented = "I've refunded $49 (RF-4471-2) within 3-5 business days; your credit of $15 is applied."
    bad = grade_run(task, make_trace(task, answer=invented)).components["answer"]
    assert bad.passed is True                                # facts all there ...
    assert bad.metrics["ungrounded_values"] == 1.0           # ... but $15 came from nowhere
    assert bad.metrics["groundedness"] == pytest.approx(4 / 5)
    claim = grade_run(task, make_trace(task, answer=GOOD + " Refunds are allowed within 60 days."))
    assert claim.components["answer"].score == 0.0 and claim.components["answer"].metrics["forbidden_claims"] == 1.0


def test_sentences_copied_from_documents_are_not_action_claims(task: GoldenTask) -> None:
    lookup_only = [GOLD_CALLS[0]]
    copied = make_trace(task, calls=lookup_only, answer="The post above is not true and has been reported.")
    assert grade_run(task, copied).failure_category == "wrong_state"
    own = make_trace(task, calls=lookup_only, answer="Your charge has been reported to our fraud team.")
    assert grade_run(task, own).failure_category == "claimed_unperformed"


def test_groundedness_uses_only_retrieved_documents(task: GoldenTask) -> None:
    answer = GOOD + " Refunds are possible within 30 days."
    retrieved = grade_run(task, make_trace(task, before=[retrieve("api-rate-limits")], answer=answer))
    everything = grade_run(task, make_trace(task, answer=answer))     # no retrieve hop: every document
    assert retrieved.components["answer"].metrics["groundedness"] < 1.0
    assert everything.components["answer"].metrics["groundedness"] == 1.0


# --------------------------------------------------------------------------- verifier and attribution


def verify(verdict: str) -> Hop:
    return Hop(kind="verify", name="verify", output={"verdict": verdict, "issues": []})


def draft(text: str) -> Hop:
    return Hop(kind="generate", name="draft", output={"text": text})


@pytest.mark.parametrize(("draft_text", "verdict", "metrics"), [
    (GOOD, "pass", {"score": 1.0, "catch": None, "false_alarm": 0.0}),
    (GOOD, "fail", {"score": 0.0, "catch": None, "false_alarm": 1.0}),
    ("Refunded.", "fail", {"score": 1.0, "catch": 1.0, "false_alarm": None}),
    ("Refunded.", "pass", {"score": 0.0, "catch": 0.0, "false_alarm": None}),
])
def test_verifier_catch_and_false_alarm(task: GoldenTask, draft_text: str, verdict: str,
                                        metrics: dict[str, float | None]) -> None:
    trace = make_trace(task, after=[draft(draft_text), verify(verdict)])
    score = grade_run(task, trace).components["verifier"]
    assert score.score == metrics["score"]
    assert score.metrics["catch"] == metrics["catch"]
    assert score.metrics["false_alarm"] == metrics["false_alarm"]


def test_verifier_absent_or_unreadable(task: GoldenTask) -> None:
    assert "verifier" not in grade_run(task, make_trace(task)).components
    odd = grade_run(task, make_trace(task, after=[verify("maybe")])).components["verifier"]
    assert odd.score is None


def test_attribution_follows_the_pipeline_and_skips_absent_hops(task: GoldenTask) -> None:
    bad_answer = "Refunded."
    docs = retrieve("refund-policy-2026", "unauthorized-charges")
    assert grade_run(task, make_trace(task, before=[route("other"), docs], answer=bad_answer)).first_divergent_hop == "route"
    assert grade_run(task, make_trace(task, before=[route("billing_refund"), retrieve("invoices-faq")],
                                      answer=bad_answer)).first_divergent_hop == "retrieve"
    assert grade_run(task, make_trace(task, answer=bad_answer)).first_divergent_hop == "generate"
    wrong_call = [("refund_invoice", {"invoice_id": "4470", "amount": 120, "reason": "other"})]
    assert grade_run(task, make_trace(task, calls=wrong_call)).first_divergent_hop == "tool"
    # No tool hop at all: the missing action shows in generate (naive architecture).
    assert grade_run(task, make_trace(task, calls=[])).first_divergent_hop == "generate"
    passed = grade_run(task, make_trace(task))
    assert passed.status == "passed" and passed.first_divergent_hop is None and passed.failure_category is None


# --------------------------------------------------------------------------- grade_run contract


def test_infrastructure_errors_are_not_graded(task: GoldenTask) -> None:
    grade = grade_run(task, make_trace(task, infra_error="HTTP 503 after retries"))
    assert grade.status == "error" and grade.checks == [] and grade.failure_category is None


def test_each_check_is_reported(task: GoldenTask) -> None:
    grade = grade_run(task, make_trace(task))
    assert [c.name for c in grade.checks] == ["final_state", "no_unexpected_changes", "facts",
                                              "no_forbidden_action", "no_forbidden_claim",
                                              "claims_match_actions", "outcome"]
    assert all(c.passed for c in grade.checks)


def test_trace_of_another_task_is_refused(task: GoldenTask) -> None:
    trace = make_trace(task).model_copy(update={"task_id": "billing/other"})
    with pytest.raises(BatonError, match="billing/other"):
        grade_run(task, trace)


def test_grading_is_pure_over_many_runs(task: GoldenTask) -> None:
    # Speed is measured in bench/ (a timed assertion here would fail on a loaded machine).
    traces = [make_trace(task), make_trace(task, calls=[], answer="Which invoice?"),
              make_trace(task, before=[route("billing_refund"), retrieve("refund-policy-2026")],
                         after=[draft(GOOD), verify("pass")])]
    first = [grade_run(task, trace) for trace in traces]
    for _ in range(100):
        assert [grade_run(task, trace) for trace in traces] == first


# --------------------------------------------------------------------------- LLM judge


async def test_judge_records_model_prompt_and_verdict(task: GoldenTask) -> None:
    client = ScriptedClient(lambda messages, options: {"verdict": "pass", "score": 0.9, "reasons": "ok",
                                                       "missing": []}, vendor="judge-vendor", model="judge-1")
    record = await judge_answer(task, make_trace(task), client)
    assert record["verdict"] == "pass" and record["score"] == 0.9 and record["error"] is None
    assert (record["vendor"], record["model"]) == ("judge-vendor", "judge-1")
    prompt = record["prompt"][-1]["content"]
    assert task.request in prompt and GOOD in prompt and "refund_invoice" in prompt
    assert client.calls[0][1]["schema"] == JUDGE_SCHEMA


async def test_judge_failures_are_recorded_not_raised(task: GoldenTask) -> None:
    def down(messages: Any, options: Any) -> ChatResponse:
        raise InfraError("HTTP 503")

    record = await judge_answer(task, make_trace(task), ScriptedClient(down))
    assert record["verdict"] is None and "503" in record["error"]
    garbled = await judge_answer(task, make_trace(task), ScriptedClient(lambda m, o: "not json"))
    assert garbled["verdict"] is None and garbled["raw"] == "not json"
    bad = await judge_answer(task, make_trace(task), ScriptedClient(
        lambda m, o: {"verdict": "maybe", "score": 2, "reasons": "", "missing": []}))
    assert bad["verdict"] is None and "verdict" in bad["error"]


async def test_grade_run_with_judge(task: GoldenTask) -> None:
    client = ScriptedClient(lambda m, o: {"verdict": "fail", "score": 0.2, "reasons": "x", "missing": ["timing"]})
    grade = await grade_run_with_judge(task, make_trace(task), client)
    assert grade.status == "passed" and grade.judge is not None and grade.judge["verdict"] == "fail"
    error = await grade_run_with_judge(task, make_trace(task, infra_error="down"), client)
    assert error.judge is None and not client.calls[1:]
