"""Baton's own checks, component graders and failure categories, registered like a user's.

The checks read the system verdict (:mod:`baton.graders.system`), computed once per grading
(:mod:`baton.graders.inputs`); the failure category of a run that fails a built-in check is the
verdict's (its documented precedence refines it: e.g. ``acted_should_ask`` rather than
``wrong_state``).
"""

from __future__ import annotations

from collections.abc import Callable

from baton.graders.answer import evidence_texts, grade_answer
from baton.graders.inputs import grade_inputs
from baton.graders.registry import (CHECKS, GENERIC_CATEGORY, CheckSpec, register_component_grader,
                                    register_failure_category)
from baton.graders.retrieval import grade_retrieval
from baton.graders.route import grade_route
from baton.graders.tools import grade_tools
from baton.graders.verifier import grade_verifier
from baton.result import Check, ComponentScore
from baton.task import GoldenTask
from baton.trace import Trace

# (name, precedence, description): the documented order of baton.graders.system
_CATEGORIES = (
    ("forbidden_action", 10, "took an action the task forbids"),
    ("claimed_unperformed", 20, "claims an action the world does not show"),
    ("acted_should_ask", 30, "acted although information was missing"),
    ("asked_should_act", 40, "asked for information it had / declined an action it should take"),
    ("wrong_state", 50, "final world state differs from gold"),
    ("forbidden_claim", 60, "said something it must not"),
    ("wrong_fact", 70, "stated a value that contradicts a fact"),
    ("missing_facts", 80, "a required fact is absent"),
    ("missing_ask", 90, "an ask reply did not ask for a field gold.asks_for names"),
    (GENERIC_CATEGORY, 95, "a check that names no category of its own failed (a user's check)"),
    ("failed_assertion", 100, "the LLM judge found a free-text assertion unmet"),
)
for _name, _precedence, _description in _CATEGORIES:
    register_failure_category(_name, precedence=_precedence, description=_description)

# built-in check -> the category its failure usually stands for (the verdict refines it)
_CHECKS = (
    ("final_state", "wrong_state", "the fields gold's final_state lists have the gold values"),
    ("no_unexpected_changes", "wrong_state", "no judged record changed that the gold replay leaves alone"),
    ("facts", "missing_facts", "the answer states every gold fact and contradicts none"),
    ("no_forbidden_action", "forbidden_action", "no successful call matches a gold forbidden action"),
    ("no_forbidden_claim", "forbidden_claim", "the answer makes none of gold's forbidden claims"),
    ("claims_match_actions", "claimed_unperformed", "every claimed action was performed"),
    ("outcome", "wrong_state", "acted when gold acts, did not when gold asks, refuses or answers"),
    ("asks_for", "missing_ask", "an ask reply asks for every field gold.asks_for names"),
)
BUILTIN_CHECKS = frozenset(name for name, _, _ in _CHECKS)


def _verdict_check(name: str) -> Callable[[GoldenTask, Trace], Check | None]:
    def check(task: GoldenTask, trace: Trace) -> Check | None:
        for result in grade_inputs(task, trace).verdict.checks:
            if result.name == name:
                return result
        return None  # not applicable to this task (asks_for on a task that asks for nothing)

    check.__name__ = check.__qualname__ = name
    return check


for _name, _category, _description in _CHECKS:
    CHECKS.add(_name, CheckSpec(_name, _verdict_check(_name), _category, _description))


def _can_act(trace: Trace) -> bool:
    """Whether the system had a tool hop at all: an architecture without one (naive, rag) gets no
    tool-call component score, as it gets no route score; its failure to act still fails the run."""
    return any(hop.kind == "tool" or hop.name == "act" or hop.output.get("tool_calls") for hop in trace.hops)


@register_component_grader("route", description="the router's label against gold's route")
def route(task: GoldenTask, trace: Trace) -> ComponentScore | None:
    return grade_route(task, trace)


@register_component_grader("retrieval", description="gold documents and records retrieved")
def retrieval(task: GoldenTask, trace: Trace) -> ComponentScore | None:
    return grade_retrieval(task, trace, grade_inputs(task, trace).calls)


@register_component_grader("tool", description="tool calls against gold's calls")
def tool(task: GoldenTask, trace: Trace) -> ComponentScore | None:
    return grade_tools(task, grade_inputs(task, trace).calls) if _can_act(trace) else None


@register_component_grader("answer", description="gold facts stated, grounded in evidence")
def answer(task: GoldenTask, trace: Trace) -> ComponentScore | None:
    inputs = grade_inputs(task, trace)
    return grade_answer(inputs.verdict.facts, inputs.found, evidence_texts(task, trace, inputs.calls))


@register_component_grader("verifier", description="the verifier's verdict against the draft's truth")
def verifier(task: GoldenTask, trace: Trace) -> ComponentScore | None:
    return grade_verifier(grade_inputs(task, trace).verifier, bool(trace.hops_of("verify")))
