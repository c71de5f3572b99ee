"""What several graders derive from one (task, trace): computed once per grading.

Checks and component graders are functions of ``(task, trace)``. The built-in ones share work
(the observed calls, the facts found in the answer, the system verdict); :func:`grade_inputs`
returns that shared work, computed lazily and kept for the duration of one :func:`grading` block
(outside one, a fresh computation).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cached_property

from baton.graders.calls import ObservedCall, observed_calls
from baton.graders.facts import Extracted
from baton.graders.spans import AnswerText
from baton.graders.system import SystemVerdict, evaluate_system
from baton.graders.verifier import VerifierOutcome, verifier_outcome
from baton.task import GoldenTask
from baton.trace import Trace


def user_texts(task: GoldenTask) -> list[str]:
    """The user's own words: the request and earlier user turns."""
    return [task.request, *(turn.content for turn in task.conversation if turn.role == "user")]


class GradeInputs:
    """Lazily computed, shared intermediate results of grading one trace against its task."""

    def __init__(self, task: GoldenTask, trace: Trace) -> None:
        self.task = task
        self.trace = trace

    @cached_property
    def users(self) -> list[str]:
        return user_texts(self.task)

    @cached_property
    def calls(self) -> list[ObservedCall]:
        return observed_calls(self.task, self.trace)

    @cached_property
    def found(self) -> Extracted:
        return Extracted(AnswerText(self.trace.answer, self.users))

    @cached_property
    def verdict(self) -> SystemVerdict:
        return evaluate_system(self.task, self.trace, self.calls, self.found)

    @cached_property
    def verifier(self) -> VerifierOutcome | None:
        return verifier_outcome(self.task, self.trace, self.calls, self.users)


_CURRENT: ContextVar[GradeInputs | None] = ContextVar("baton_grade_inputs", default=None)


def grade_inputs(task: GoldenTask, trace: Trace) -> GradeInputs:
    """The shared inputs of the current grading of ``(task, trace)``, or fresh ones."""
    current = _CURRENT.get()
    if current is not None and current.task is task and current.trace is trace:
        return current
    return GradeInputs(task, trace)


@contextmanager
def grading(task: GoldenTask, trace: Trace) -> Iterator[GradeInputs]:
    """Share one :class:`GradeInputs` among every grader called inside the block."""
    inputs = GradeInputs(task, trace)
    token = _CURRENT.set(inputs)
    try:
        yield inputs
    finally:
        _CURRENT.reset(token)
