"""Registries of grading parts: system-success checks, component graders, failure categories.

A **check** is a function of the task and the run's trace returning a :class:`~baton.result.Check`
(or a bare ``bool``, or ``None`` when it does not apply to the task). A run passes when every
registered check that applies passes; a failing check names a failure category (its own, or
``failed_check``), and a failed run gets the category of highest precedence among those that apply::

    from baton.graders.registry import register_check
    from baton.result import Check

    @register_check("reply_is_short", category="verbose_reply")
    def reply_is_short(task, trace) -> Check:
        words = len(trace.answer.split())
        return Check(name="reply_is_short", passed=words <= 120, detail=f"{words} words")

A **component grader** scores one hop against gold, as a diagnostic next to system success: a
function of task and trace returning a :class:`~baton.result.ComponentScore` (or ``None`` when the
system has no such hop). A **failure category** is a name with a precedence (lower wins) and a
one-line description.

Built-ins register here too (:mod:`baton.graders.builtin`), so a user's part is one more entry of
the same kind. Third-party packages join through the ``baton.checks``, ``baton.component_graders``
and ``baton.failure_categories`` entry-point groups, or a ``baton.plugins`` module. This module is
light on purpose: a plugin imports it without loading the graders.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from baton.errors import ConfigError
from baton.registry import Registry, spec_or_function

if TYPE_CHECKING:
    from baton.result import Check, ComponentScore
    from baton.task import GoldenTask
    from baton.trace import Trace

__all__ = ["CHECKS", "COMPONENT_GRADERS", "FAILURE_CATEGORIES", "CheckFn", "CheckSpec", "ComponentGrader",
           "ComponentGraderSpec", "FailureCategory", "GENERIC_CATEGORY", "category_precedence",
           "component_of_hop", "register_check", "register_component_grader", "register_failure_category"]

GENERIC_CATEGORY = "failed_check"
"""The category of a failing check that names none."""


class CheckFn(Protocol):
    """``check(task, trace)``: the check's result, a bare pass/fail, or None (does not apply)."""

    def __call__(self, task: GoldenTask, trace: Trace, /) -> Check | bool | None: ...


class ComponentGrader(Protocol):
    """``grade(task, trace)``: the hop's score against gold, or None (the system has no such hop)."""

    def __call__(self, task: GoldenTask, trace: Trace, /) -> ComponentScore | None: ...


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """A registered check: its function and the failure category its failure stands for."""

    name: str
    fn: CheckFn
    category: str = GENERIC_CATEGORY
    description: str = ""


@dataclass(frozen=True, slots=True)
class ComponentGraderSpec:
    """A registered component grader (``name`` is the component its scores are stored under).

    ``hop``: the hop it scores, when an architecture can run that hop isolated under a name of
    its own (``isolated:<hop>`` runs then count as this component's isolated score)."""

    name: str
    fn: ComponentGrader
    description: str = ""
    hop: str | None = None


@dataclass(frozen=True, slots=True)
class FailureCategory:
    """A failure category: lower ``precedence`` wins when several apply to one failed run."""

    name: str
    precedence: int
    description: str = ""


def _first_line(obj: object) -> str:
    doc = (getattr(obj, "__doc__", None) or "").strip().splitlines()
    return doc[0] if doc else ""


_as_check = spec_or_function("check", CheckSpec,
                             lambda name, fn: CheckSpec(name, fn, GENERIC_CATEGORY, _first_line(fn)),  # type: ignore[arg-type]
                             "a function (task, trace) -> Check")
_as_grader = spec_or_function("component grader", ComponentGraderSpec,
                              lambda name, fn: ComponentGraderSpec(name, fn, _first_line(fn)),  # type: ignore[arg-type]
                              "a function (task, trace) -> ComponentScore")


def _as_category(name: str, found: object) -> FailureCategory:
    if isinstance(found, FailureCategory):
        return found
    raise ConfigError(f"failure category {name!r}: expected a FailureCategory, got {type(found).__name__}")


def _builtins() -> None:
    importlib.import_module("baton.graders.builtin")


CHECKS: Registry[CheckSpec] = Registry("check", "baton.checks", convert=_as_check, builtins=_builtins,
                                       targets=False)
COMPONENT_GRADERS: Registry[ComponentGraderSpec] = Registry(
    "component grader", "baton.component_graders", convert=_as_grader, builtins=_builtins, targets=False)
FAILURE_CATEGORIES: Registry[FailureCategory] = Registry(
    "failure category", "baton.failure_categories", convert=_as_category, builtins=_builtins, targets=False)


def register_failure_category(name: str, *, precedence: int, description: str = "") -> FailureCategory:
    """Register a failure category (lower ``precedence`` outranks higher; built-ins use 10..100)."""
    category = FailureCategory(name, precedence, description)
    FAILURE_CATEGORIES.add(name, category)
    return category


def register_check(name: str, *, category: str = GENERIC_CATEGORY, description: str = ""
                   ) -> Callable[[CheckFn], CheckFn]:
    """Decorator: register ``check(task, trace)`` as system-success check ``name``.

    ``category`` is the failure category its failure stands for: a registered one, or a new name
    (registered with the precedence of ``failed_check``, after the built-in categories)."""

    def decorate(fn: CheckFn) -> CheckFn:
        CHECKS.add(name, CheckSpec(name, fn, category, description or _first_line(fn)))
        return fn

    return decorate


def register_component_grader(name: str, *, description: str = "", hop: str | None = None
                              ) -> Callable[[ComponentGrader], ComponentGrader]:
    """Decorator: register ``grade(task, trace)`` as the grader of component ``name`` (``hop``: the
    isolatable hop it scores, see :class:`ComponentGraderSpec`)."""

    def decorate(fn: ComponentGrader) -> ComponentGrader:
        COMPONENT_GRADERS.add(name, ComponentGraderSpec(name, fn, description or _first_line(fn), hop))
        return fn

    return decorate


def category_precedence(name: str) -> int:
    """The precedence of category ``name``; an unregistered name ranks with ``failed_check``."""
    if name in FAILURE_CATEGORIES:
        return FAILURE_CATEGORIES.get(name).precedence
    return FAILURE_CATEGORIES.get(GENERIC_CATEGORY).precedence


def component_of_hop(hop: str) -> str | None:
    """The registered component grader that declares it scores ``hop``, if any."""
    return next((name for name, spec in COMPONENT_GRADERS.items() if spec.hop == hop), None)
