"""The generic registry and the grading registries: names validated with the known ones listed,
entry points loaded lazily, a user's check and component grader graded next to the built-ins,
failure categories ranked by precedence, free task tags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from baton.errors import ConfigError
from baton.fixtures import load_tasks
from baton.graders import grade_run, register_check, register_component_grader, register_failure_category
from baton.graders.registry import CHECKS, COMPONENT_GRADERS, FAILURE_CATEGORIES, category_precedence
from baton.registry import Registry
from baton.result import Check, ComponentScore, RunGrade
from baton.runners.registry import ARCHITECTURES, isolated_hops
from baton.trace import Trace

PROJECT = Path(__file__).parent / "plugins" / "project"


@pytest.fixture(scope="module")
def task():
    return next(t for t in load_tasks(PROJECT / "fixtures") if t.id == "library/loan-period")


def trace_of(task, answer: str) -> Trace:
    return Trace(task_id=task.id, task_version=task.version, system="s", architecture="naive", answer=answer)


def test_unknown_name_lists_the_known_ones():
    things: Registry[int] = Registry("widget", targets=False)
    things.add("one", 1)
    with pytest.raises(ConfigError, match=r"unknown widget 'two'; known: one$"):
        things.get("two")
    with pytest.raises(ValueError, match="already registered"):
        things.add("one", 2)
    assert things.group == "baton.widgets" and "one" in things and things.names() == ["one"]


def test_entry_points_load_only_when_an_unknown_name_is_asked_for(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr("baton.registry.entry_points_of", lambda group: calls.append(group) or [])
    things: Registry[int] = Registry("gadget", targets=False)
    things.add("known", 1)
    assert things.get("known") == 1 and calls == []
    assert "other" not in things
    assert calls == ["baton.plugins", "baton.gadgets"] or calls == ["baton.gadgets"]


def test_installed_entry_points_are_read_once_per_process(monkeypatch):
    import importlib.metadata

    import baton.registry

    scans: list[int] = []
    real = importlib.metadata.entry_points
    monkeypatch.setattr(baton.registry, "_entry_points_cache", None)
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda: scans.append(1) or real())
    assert [ep.name for ep in baton.registry.entry_points_of("console_scripts") if ep.name == "baton"] == ["baton"]
    baton.registry.entry_points_of("baton.plugins")
    assert scans == [1]


def test_task_tags_are_free_strings(task):
    assert task.tags == ["faq", "vip_customer"]


def test_isolated_hops_come_from_the_registered_architectures():
    assert isolated_hops() == ("route", "retrieve", "draft", "act", "verify")
    assert ARCHITECTURES.get("rag").isolated_hops == ("retrieve", "draft")


def test_a_users_check_and_component_grader_are_graded_with_the_builtins(task):
    @register_check("mentions_loan", category="ignored_loan")
    def mentions_loan(task, trace):
        """The reply names the order the customer asked about."""
        return Check(name="anything", passed="77" in trace.answer, detail="loan 77")

    @register_component_grader("brevity")
    def brevity(task, trace):
        words = len(trace.answer.split())
        return ComponentScore(component="brevity", score=min(1.0, 20 / max(words, 1)), passed=words <= 20)

    try:
        good = grade_run(task, trace_of(task, "For loan 77: books are lent for 21 days."))
        assert good.status == "passed", good.checks
        assert [c.name for c in good.checks][-1] == "mentions_loan"
        assert good.components["brevity"].passed is True
        assert {"route", "answer"} <= set(good.components) or "answer" in good.components

        bad = grade_run(task, trace_of(task, "Books are lent for 21 days."))
        assert bad.status == "failed" and bad.failure_category == "ignored_loan"
        failed = [c for c in bad.checks if not c.passed]
        assert [c.name for c in failed] == ["mentions_loan"] and failed[0].detail == "loan 77"

        # a built-in category of higher precedence wins over the user's
        both = grade_run(task, trace_of(task, "Books go back eventually."))
        assert both.failure_category == "missing_facts"
        assert category_precedence("missing_facts") < category_precedence("ignored_loan")

        stored = RunGrade.model_validate_json(bad.model_dump_json())  # loads without the plugin
        assert stored.failure_category == "ignored_loan"
    finally:
        CHECKS.remove("mentions_loan")
        COMPONENT_GRADERS.remove("brevity")


def test_a_registered_category_outranks_by_its_precedence(task):
    register_failure_category("unsafe_reply", precedence=5, description="said something unsafe")

    @register_check("no_shouting", category="unsafe_reply")
    def no_shouting(task, trace) -> bool:
        return not trace.answer.isupper()

    try:
        grade = grade_run(task, trace_of(task, "BOOKS GO BACK EVENTUALLY."))
        assert grade.failure_category == "unsafe_reply"  # outranks missing_facts (80)
        assert any(c.name == "no_shouting" and c.detail == "failed" for c in grade.checks)
    finally:
        CHECKS.remove("no_shouting")
        FAILURE_CATEGORIES.remove("unsafe_reply")


def test_a_check_returning_the_wrong_type_is_a_clear_error(task):
    @register_check("broken")
    def broken(task, trace):
        return "yes"

    try:
        with pytest.raises(Exception, match="check 'broken' returned str; expected a baton.result.Check"):
            grade_run(task, trace_of(task, "x"))
    finally:
        CHECKS.remove("broken")


def test_a_judge_record_stored_as_a_dict_loads_typed():
    stored = {"status": "passed", "judge": {
        "vendor": "judge-vendor", "model": "judge-1", "prompt": [{"role": "user", "content": "x"}],
        "verdict": "fail", "score": 0.25, "reasons": "misses the period", "missing": ["period"], "raw": "{}",
        "error": None, "assertions": [{"index": 1, "met": False, "reason": "no"}]}}
    grade = RunGrade.model_validate_json(json.dumps(stored))
    assert grade.judge is not None and grade.judge.verdict == "fail" and grade.judge.score == 0.25
    assert grade.judge.assertions[0].met is False and grade.judge["vendor"] == "judge-vendor"
    assert json.loads(grade.model_dump_json())["judge"]["missing"] == ["period"]


def test_the_readmes_example_check_fails_a_reply_with_a_placeholder(task):
    import importlib
    import sys

    sys.path.insert(0, str(Path(__file__).parent / "plugins" / "dist"))
    try:
        importlib.import_module("baton_library_plugin.reply_checks")
        grade = grade_run(task, trace_of(task, "Dear [Customer Name], books are lent for 21 days."))
        assert grade.status == "failed" and grade.failure_category == "template_leak"
        failed = [c for c in grade.checks if not c.passed]
        assert [(c.name, c.detail) for c in failed] == [("no_template_placeholders", "unfilled: [Customer Name]")]
    finally:
        sys.path.remove(str(Path(__file__).parent / "plugins" / "dist"))
        sys.modules.pop("baton_library_plugin.reply_checks", None)
        CHECKS.remove("no_template_placeholders")


def test_the_judge_is_a_registered_async_grader_and_a_users_async_check_fails_a_run(task):
    import asyncio

    from baton.graders.async_graders import (ASYNC_GRADERS, _active, apply_async_grades, register_async_grader,
                                             run_async_graders)
    spec = ASYNC_GRADERS.get("judge")
    assert spec.needs_model and spec.apply is not None
    trace = trace_of(task, "Loans run three weeks.")
    assert asyncio.run(run_async_graders(task, trace, None)) is None  # no model: the judge does not run

    async def policy(task, trace, context):
        await asyncio.sleep(0)
        return Check(name="held_out_async_policy", passed="weeks" not in trace.answer, detail="async verdict")

    register_async_grader("held_out_async_policy")(policy)
    try:
        results = asyncio.run(run_async_graders(task, trace, None))
        assert set(results) == {"held_out_async_policy"} and results["held_out_async_policy"].passed is False
        grade = apply_async_grades(task, grade_run(task, trace), results)
        assert grade.status == "failed" and grade.checks[-1].name == "held_out_async_policy"
        assert grade.failure_category is not None
    finally:
        ASYNC_GRADERS.remove("held_out_async_policy")
        _active.clear()
