"""Async graders: grading that awaits something (a model, a service), such as the LLM judge.

An async grader is ``async fn(task, trace, context) -> result`` with a typed result, registered
with :func:`register_async_grader` (or the ``baton.async_graders`` entry-point group). The
engine awaits every active grader after a run finishes (infra-error runs are not graded), hands
the results with the trace to grading, and each grader's ``apply(task, grade, result)`` folds its
result into the run's :class:`~baton.result.RunGrade`. The built-in ``judge``
(:mod:`baton.graders.judge`) needs a model (``--judge PROFILE``) and stores its
:class:`~baton.result.JudgeVerdict` in ``RunGrade.judge``. Without an ``apply``, a result that
is a :class:`~baton.result.Check` joins the run's checks (a failing one fails the run, category
``failed_check`` unless another outranks it), a :class:`~baton.result.ComponentScore` joins its
components under the grader's name, and ``None`` means "does not apply"::

    @register_async_grader("policy_service")
    async def policy_service(task, trace, context) -> Check:
        ok = await my_policy_api.allows(trace.answer)
        return Check(name="policy_service", passed=ok, detail="policy service verdict")
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from baton.errors import ConfigError
from baton.registry import Registry, spec_or_function

if TYPE_CHECKING:
    from baton.model import ModelClient
    from baton.result import RunGrade
    from baton.task import GoldenTask
    from baton.trace import Trace

__all__ = ["ASYNC_GRADERS", "AsyncGrader", "AsyncGraderSpec", "GradingContext", "apply_async_grades",
           "register_async_grader", "run_async_graders"]


@dataclass(frozen=True, slots=True)
class GradingContext:
    """What an async grader may use: ``model``, the judge's client (``--judge PROFILE``), or None."""

    model: ModelClient | None = None


class AsyncGrader(Protocol):
    """``await grader(task, trace, context)``: a typed result, or None (does not apply)."""

    def __call__(self, task: GoldenTask, trace: Trace, context: GradingContext, /) -> Awaitable[Any]: ...


Apply = Callable[["GoldenTask", "RunGrade", Any], "RunGrade"]


@dataclass(frozen=True, slots=True)
class AsyncGraderSpec:
    """A registered async grader. ``needs_model``: it runs only when a judge model is configured;
    ``apply``: folds its result into the run's grade (default: :func:`_apply_default`)."""

    name: str
    fn: AsyncGrader
    apply: Apply | None = None
    needs_model: bool = False
    description: str = ""


_as_spec = spec_or_function("async grader", AsyncGraderSpec, lambda name, fn: AsyncGraderSpec(name, fn),  # type: ignore[arg-type]
                            "an async function (task, trace, context)")


ASYNC_GRADERS: Registry[AsyncGraderSpec] = Registry("async grader", "baton.async_graders", convert=_as_spec,
                                                    targets=False)
_active: dict[bool, list[AsyncGraderSpec]] = {}
"""The graders a run awaits, without and with a judge model (listed once, on the first run)."""


def register_async_grader(name: str, *, apply: Apply | None = None, needs_model: bool = False,
                          description: str = "") -> Callable[[AsyncGrader], AsyncGrader]:
    """Decorator: register ``async fn(task, trace, context)`` as async grader ``name``."""

    def decorate(fn: AsyncGrader) -> AsyncGrader:
        doc = (getattr(fn, "__doc__", None) or "").strip().splitlines()
        ASYNC_GRADERS.add(name, AsyncGraderSpec(name, fn, apply, needs_model, description or (doc[0] if doc else "")))
        _active.clear()  # the next run lists the graders again
        return fn

    return decorate


async def _judge(task: GoldenTask, trace: Trace, context: GradingContext) -> Any:
    """The LLM judge (:func:`baton.graders.judge.judge`), imported when it first runs."""
    return await importlib.import_module("baton.graders.judge").judge(task, trace, context)


def _apply_judge(task: GoldenTask, grade: RunGrade, verdict: Any) -> RunGrade:
    return importlib.import_module("baton.graders.judge").apply_judge(task, grade, verdict)  # type: ignore[no-any-return]


register_async_grader("judge", apply=_apply_judge, needs_model=True,
                      description="LLM judge: advice on the answer, rulings on gold.assertions")(_judge)

def _active_graders(with_model: bool) -> list[AsyncGraderSpec]:
    if with_model not in _active:
        _active[with_model] = [s for _, s in ASYNC_GRADERS.items() if with_model or not s.needs_model]
    return _active[with_model]


async def run_async_graders(task: GoldenTask, trace: Trace, model: ModelClient | None) -> dict[str, Any] | None:
    """Every active grader's result on one finished run, by name (None: no grader applies)."""
    graders = _active_graders(model is not None)
    if not graders:
        return None
    context = GradingContext(model)
    results = {spec.name: await spec.fn(task, trace, context) for spec in graders}
    return {name: result for name, result in results.items() if result is not None} or None


def apply_async_grades(task: GoldenTask, grade: RunGrade, results: Mapping[str, Any]) -> RunGrade:
    """``grade`` with every async grader's result folded in (infra-error grades stay as they are)."""
    if grade.status == "error":
        return grade
    for name, result in results.items():
        spec = ASYNC_GRADERS.get(name)
        grade = (spec.apply or _apply_default)(task, grade, result) if result is not None else grade
    return grade


def _apply_default(task: GoldenTask, grade: RunGrade, result: Any) -> RunGrade:
    from baton.graders.registry import GENERIC_CATEGORY, category_precedence
    from baton.result import Check, ComponentScore

    if isinstance(result, Check):
        update: dict[str, Any] = {"checks": [*grade.checks, result]}
        if not result.passed:
            current = grade.failure_category
            keep = current is not None and category_precedence(current) <= category_precedence(GENERIC_CATEGORY)
            update.update(status="failed", failure_category=current if keep else GENERIC_CATEGORY)
        return grade.model_copy(update=update)
    if isinstance(result, ComponentScore):
        return grade.model_copy(update={"components": {**grade.components, result.component: result}})
    raise ConfigError(f"an async grader returned {type(result).__name__}; expected a Check or a ComponentScore, "
                      f"or register it with apply=...")
