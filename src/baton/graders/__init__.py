"""Graders: a run's trace against its golden task.

:func:`grade_run` is pure and synchronous: system success as separate checks (every check of
:data:`~baton.graders.registry.CHECKS`: the built-ins of :mod:`~baton.graders.system` and any a
user registers with :func:`register_check`), the failure category, per hop whether it did its job
(:mod:`~baton.graders.reliability`), the choices of model-selection hops, per-hop component
scores as diagnostics (route, retrieval, tool, answer, verifier, and any registered with
:func:`register_component_grader`) and, for failed runs, the first hop that diverged from gold
(:mod:`~baton.graders.attribution`). The optional LLM judge lives in :mod:`~baton.graders.judge`.
"""

from __future__ import annotations

from baton.errors import BatonError
from baton.graders.attribution import first_divergent_hop
from baton.graders.inputs import grading, user_texts
from baton.graders.registry import (CHECKS, COMPONENT_GRADERS, GENERIC_CATEGORY, CheckSpec, category_precedence,
                                    register_check, register_component_grader, register_failure_category)
from baton.graders.reliability import hop_reliability, model_choices
from baton.result import Check, ComponentScore, HopReliability, RunGrade
from baton.task import GoldenTask
from baton.trace import Trace

__all__ = ["grade_run", "register_check", "register_component_grader", "register_failure_category", "user_texts"]


def _run_check(spec: CheckSpec, task: GoldenTask, trace: Trace) -> Check | None:
    result = spec.fn(task, trace)
    if result is None:
        return None
    if isinstance(result, bool):
        return Check(name=spec.name, passed=result, detail="passed" if result else "failed")
    if not isinstance(result, Check):
        raise BatonError(f"check {spec.name!r} returned {type(result).__name__}; expected a baton.result.Check, "
                         f"a bool, or None when it does not apply")
    return result if result.name == spec.name else result.model_copy(update={"name": spec.name})


def _run_grader(name: str, task: GoldenTask, trace: Trace) -> ComponentScore | None:
    score = COMPONENT_GRADERS.get(name).fn(task, trace)
    if score is None or (isinstance(score, ComponentScore) and score.component == name):
        return score
    if isinstance(score, ComponentScore):
        return score.model_copy(update={"component": name})
    raise BatonError(f"component grader {name!r} returned {type(score).__name__}; expected a "
                     f"baton.result.ComponentScore, or None when the system has no such hop")


def _declared_hops(components: dict[str, ComponentScore], known: dict[str, HopReliability]
                   ) -> dict[str, HopReliability]:
    """Reliability of the hops user component graders declare (``hop=``): did the hop do its job,
    as the grader's ``passed`` says (None: not applicable). Built-in hops keep their own verdicts."""
    out = {}
    for name, score in components.items():
        hop = COMPONENT_GRADERS.get(name).hop
        if hop is not None and hop not in known:
            out[hop] = HopReliability(hop=hop, ok=score.passed, detail=f"{name}: {score.detail}")
    return out


def _category(builtin: str | None, failed: list[CheckSpec]) -> str | None:
    """The failure category of highest precedence: the system verdict's, or a failing user check's."""
    candidates = ([builtin] if builtin else []) + [spec.category or GENERIC_CATEGORY for spec in failed]
    return min(candidates, key=category_precedence) if candidates else None


def grade_run(task: GoldenTask, trace: Trace) -> RunGrade:
    """Grade one trace of ``task``: every registered check and component grader.

    Infrastructure errors give status 'error' and nothing else."""
    if trace.task_id != task.id:
        raise BatonError(f"trace of task '{trace.task_id}' cannot be graded against task '{task.id}'")
    if trace.infra_error:
        return RunGrade(status="error")
    from baton.graders.builtin import BUILTIN_CHECKS

    with grading(task, trace) as inputs:
        checks: list[Check] = []
        failed_user_checks: list[CheckSpec] = []
        for name, spec in CHECKS.items():
            result = _run_check(spec, task, trace)
            if result is None:
                continue
            checks.append(result)
            if not result.passed and name not in BUILTIN_CHECKS:
                failed_user_checks.append(spec)
        components = {name: score for name, _ in COMPONENT_GRADERS.items()
                      if (score := _run_grader(name, task, trace)) is not None}
        verdict = inputs.verdict
        hops = hop_reliability(task, trace, inputs.calls, verdict, inputs.verifier, inputs.users)
        hops.update(_declared_hops(components, hops))
        choices = model_choices(trace)
        unjudged = list(task.gold.assertions)  # graded only by an LLM judge (graders.judge)
        if all(c.passed for c in checks):
            return RunGrade(status="passed", checks=checks, components=components, hops=hops,
                            choices=choices, unjudged=unjudged)
        return RunGrade(status="failed", checks=checks, components=components, hops=hops, choices=choices,
                        unjudged=unjudged,
                        failure_category=_category(verdict.category, failed_user_checks),
                        first_divergent_hop=first_divergent_hop(trace, components, verdict, inputs.verifier))
