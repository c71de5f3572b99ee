"""Hop reliability per run: one yes/no per hop, not applicable apart, purposes respected, the draft
judged by the system's own fact checks on the reply the verifier saw."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from baton.graders import grade_run
from baton.graders.purposes import hop_purpose
from baton.runners.purposes import apply_hop_purposes, check_hop_purposes
from baton.errors import ConfigError
from baton.systems import SystemConfig
from baton.task import GoldenTask
from baton.trace import Hop


@pytest.fixture(scope="module")
def c() -> ModuleType:
    """The component tests' trace builders (tests are not a package, so loaded by path)."""
    spec = importlib.util.spec_from_file_location("_baton_components", Path(__file__).with_name(
        "test_graders_components.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def task(c) -> GoldenTask:
    return c.load_tasks(c.TASK_FILE)[0]


def oks(grade) -> dict[str, bool | None]:
    return {name: verdict.ok for name, verdict in grade.hops.items()}


def test_every_hop_judged_on_a_correct_full_run(c, task) -> None:
    docs = c.retrieve("refund-policy-2026", "unauthorized-charges")
    trace = c.make_trace(task, before=[c.route("billing_refund"), docs],
                         after=[c.draft(c.GOOD), c.verify("pass")])
    grade = grade_run(task, trace)
    assert grade.status == "passed"
    assert oks(grade) == {"route": True, "retrieve": True, "act": True, "draft": True, "verify": True}


def test_hops_a_system_lacks_are_not_applicable_never_a_free_success(c, task) -> None:
    trace = c.make_trace(task, calls=[], answer="Refunds take 3-5 business days.")
    grade = grade_run(task, trace)
    assert oks(grade) == {"route": None, "retrieve": None, "act": None, "draft": False, "verify": None}
    assert grade.hops["route"].detail.startswith("not applicable")


def test_a_reply_with_nothing_to_judge_is_not_applicable(c, task) -> None:
    bare = task.model_copy(update={"gold": task.gold.model_copy(update={"facts": [], "forbidden_claims": []})})
    grade = grade_run(bare, c.make_trace(bare))
    assert grade.hops["draft"].ok is None and "no fact" in grade.hops["draft"].detail


def test_retrieve_judges_documents_and_leaves_record_lookups_to_acting(c, task) -> None:
    missing = grade_run(task, c.make_trace(task, before=[c.retrieve("refund-policy-2026")]))
    assert missing.hops["retrieve"].ok is False and "unauthorized-charges" in missing.hops["retrieve"].detail
    # invoices/4471 is gold evidence too, but on a task with tools a record is looked up by acting
    both = grade_run(task, c.make_trace(task, calls=[], before=[c.retrieve("refund-policy-2026",
                                                                             "unauthorized-charges")]))
    assert both.hops["retrieve"].ok is True


def test_act_fails_on_a_missing_call_an_extra_write_or_a_forbidden_action(c, task) -> None:
    assert grade_run(task, c.make_trace(task, calls=c.GOLD_CALLS[:1])).hops["act"].ok is False
    forbidden = [*c.GOLD_CALLS, ("refund_invoice", {"invoice_id": "4417", "amount": 10, "reason": "unauthorized"})]
    verdict = grade_run(task, c.make_trace(task, calls=forbidden)).hops["act"]
    assert verdict.ok is False and "forbidden refund_invoice" in verdict.detail


def test_draft_is_judged_on_the_reply_the_verifier_saw(c, task) -> None:
    # the draft missed facts, the verifier caught it, the revision fixed it: the run passes, the
    # draft hop did not do its job, the verify hop did
    trace = c.make_trace(task, after=[c.draft("Refunded."), c.verify("fail"),
                                      Hop(kind="generate", name="revise", output={"text": c.GOOD}),
                                      c.verify("pass")])
    grade = grade_run(task, trace)
    assert grade.status == "passed"
    assert grade.hops["draft"].ok is False and grade.hops["verify"].ok is True
    assert "facts" in grade.hops["draft"].detail
    # and the verifier's view of a failing draft comes from the same system checks
    assert grade.components["verifier"].metrics["pre_failing"] == 1.0


def test_a_model_selection_hop_is_recorded_by_choice_not_graded(c, task) -> None:
    select = Hop(kind="route", name="pick_model", output={"route": "frontier"}, purpose="model_select")
    grade = grade_run(task, c.make_trace(task, before=[select]))
    assert grade.hops["route"].ok is None and "route" not in grade.components
    assert grade.choices == {"pick_model": "frontier"}
    wrong_intent = grade_run(task, c.make_trace(task, before=[c.route("frontier")]))
    assert wrong_intent.hops["route"].ok is False


def test_purposes_from_the_system_and_for_built_in_architectures(c, task) -> None:
    trace = c.make_trace(task, before=[Hop(kind="route", name="router", output={"route": "small"}),
                                       Hop(kind="generate", name="writer", output={"text": "x"})])
    apply_hop_purposes(trace, SystemConfig(name="s", architecture="callable",
                                           hop_purposes={"router": "model_select", "writer": "draft"}))
    assert [h.purpose for h in trace.hops[:2]] == ["model_select", "draft"]
    assert trace.hops[2].purpose is None and hop_purpose(trace.hops[2]) == "act"  # undeclared: inferred
    builtin = c.make_trace(task, before=[c.route("billing_refund")], after=[c.draft("x"), c.verify("pass")])
    apply_hop_purposes(builtin, SystemConfig(name="m", architecture="multi_agent"))
    assert [h.purpose for h in builtin.hops] == ["intent_route", "act", "act", "draft", "verify"]
    # a declared purpose Baton does not know is refused where the system is read, and again at run time
    with pytest.raises(ValueError, match=r"hop 'router': unknown purpose 'classify'; expected one of intent_route"):
        SystemConfig(name="s", architecture="callable", hop_purposes={"router": "classify"})
    unchecked = SystemConfig.model_construct(name="s", architecture="callable", roles={}, params={},
                                             description=None, hop_purposes={"router": "classify"})
    with pytest.raises(ConfigError, match=r"hop_purposes\.router: unknown purpose 'classify'"):
        check_hop_purposes(unchecked)


def test_old_grades_without_hop_reliability_still_load(c, task) -> None:
    from baton.result import RunGrade

    data = grade_run(task, c.make_trace(task)).model_dump(mode="json")
    del data["hops"], data["choices"]
    assert RunGrade.model_validate(data).hops == {}
