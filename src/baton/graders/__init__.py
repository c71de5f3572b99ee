"""Graders: a run's trace against its golden task.

:func:`grade_run` is pure and synchronous: system success as separate checks
(:mod:`~baton.graders.system`), the failure category, per hop whether it did its job
(:mod:`~baton.graders.reliability`), the choices of model-selection hops, per-hop component
scores as diagnostics (route, retrieval, tool, answer, verifier) and, for failed runs, the first hop that diverged from gold
(:mod:`~baton.graders.attribution`). The optional LLM judge lives in :mod:`~baton.graders.judge`.
"""

from __future__ import annotations

from baton.errors import BatonError
from baton.graders.answer import evidence_texts, grade_answer
from baton.graders.attribution import first_divergent_hop
from baton.graders.calls import observed_calls
from baton.graders.facts import Extracted
from baton.graders.reliability import hop_reliability, model_choices
from baton.graders.retrieval import grade_retrieval
from baton.graders.route import grade_route
from baton.graders.spans import AnswerText
from baton.graders.system import evaluate_system
from baton.graders.tools import grade_tools
from baton.graders.verifier import grade_verifier, verifier_outcome
from baton.result import ComponentScore, RunGrade
from baton.task import GoldenTask
from baton.trace import Trace

__all__ = ["grade_run", "user_texts"]


def user_texts(task: GoldenTask) -> list[str]:
    """The user's own words: the request and earlier user turns."""
    return [task.request, *(turn.content for turn in task.conversation if turn.role == "user")]


def _can_act(trace: Trace) -> bool:
    """Whether the system had a tool hop at all: an architecture without one (naive, rag) gets no
    tool-call component score, as it gets no route score; its failure to act still fails the run."""
    return any(hop.kind == "tool" or hop.name == "act" or hop.output.get("tool_calls") for hop in trace.hops)


def grade_run(task: GoldenTask, trace: Trace) -> RunGrade:
    """Grade one trace of ``task``. Infrastructure errors give status 'error' and nothing else."""
    if trace.task_id != task.id:
        raise BatonError(f"trace of task '{trace.task_id}' cannot be graded against task '{task.id}'")
    if trace.infra_error:
        return RunGrade(status="error")
    users = user_texts(task)
    calls = observed_calls(task, trace)
    found = Extracted(AnswerText(trace.answer, users))
    verdict = evaluate_system(task, trace, calls, found)

    verifier = verifier_outcome(task, trace, calls, users)
    scored: list[ComponentScore | None] = [
        grade_route(task, trace),
        grade_retrieval(task, trace, calls),
        grade_tools(task, calls) if _can_act(trace) else None,
        grade_answer(verdict.facts, found, evidence_texts(task, trace, calls)),
        grade_verifier(verifier, bool(trace.hops_of("verify"))),
    ]
    components = {c.component: c for c in scored if c is not None}
    hops = hop_reliability(task, trace, calls, verdict, verifier, users)
    choices = model_choices(trace)
    unjudged = list(task.gold.assertions)  # graded only by an LLM judge (graders.judge)
    if verdict.passed:
        return RunGrade(status="passed", checks=verdict.checks, components=components, hops=hops,
                        choices=choices, unjudged=unjudged)
    return RunGrade(status="failed", checks=verdict.checks, components=components, hops=hops, choices=choices,
                    unjudged=unjudged,
                    failure_category=verdict.category,
                    first_divergent_hop=first_divergent_hop(trace, components, verdict, verifier))
