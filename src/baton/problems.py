"""Problems found in a golden set, and the one way pydantic's validation errors are shown.

A :class:`Problem` names the file, the field path in it (dotted, list items by index) and what
was expected. :func:`pydantic_problems` turns any pydantic ``ValidationError`` into problems;
every place Baton shows a validation error (golden tasks, exported task files, vendor profiles,
systems, ``[tool.baton]`` settings) formats it through it (``baton.settings_model`` for the
configuration). :func:`reference_problems` checks a resolved task's gold labels against its own
routes and tools; the loaders of task files (:mod:`baton.fixtures`) and of exported datasets
(:mod:`baton.dataset`) both call it.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from baton.errors import BatonError
from baton.task import GoldenTask

__all__ = ["FieldError", "FixtureError", "Problem", "describe_validation", "display_path", "field_errors",
           "pydantic_problems", "reference_problems"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a fixture: the file, the field path in it, what was expected."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}" if self.field else f"{self.file}: {self.message}"


class FixtureError(BatonError):
    """The golden set has problems. ``str()`` is one line per problem."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def display_path(path: Path | str) -> str:
    """``path`` relative to the working directory when it is below it, else as given."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True, slots=True)
class FieldError:
    """One error of a pydantic ``ValidationError``: the dotted field path, pydantic's message
    (without its ``Value error,`` prefix), the error type and the value found."""

    path: str
    message: str
    kind: str
    value: Any


def field_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    """Every error of ``exc`` with a dotted path (``prefix`` + the location; list items by index)."""
    out = []
    for err in exc.errors(include_url=False):
        path = (prefix + ".".join(str(part) for part in err["loc"])).rstrip(".")
        out.append(FieldError(path, err["msg"].removeprefix("Value error, "), err["type"], err.get("input")))
    return out


def describe_validation(exc: ValidationError, *, prefix: str = "", hidden: AbstractSet[str] = frozenset(),
                        what: str = "") -> str:
    """A configuration's validation errors on one line: ``path: message (got value); ...``.

    The value found is shown unless the field is missing, the value is a table, the message is
    Baton's own (a validator's ``ValueError``, which says what it got), or the path
    names a field in ``hidden`` (fields that may hold a secret: their values are never echoed)."""
    parts = []
    for error in field_errors(exc, prefix):
        secret = error.kind == "extra_forbidden" or bool(hidden & set(error.path.split(".")))
        plain = error.kind in ("missing", "value_error") or isinstance(error.value, dict)  # a value error says it
        shown = "" if plain or secret else f" (got {error.value!r})"
        parts.append(f"{error.path or what}: {error.message}{shown}" if error.path or what else error.message + shown)
    return "; ".join(parts)


def pydantic_problems(file: str, exc: ValidationError, prefix: str = "") -> list[Problem]:
    """Turn a pydantic ValidationError into problems of a golden-set file, with dotted field paths."""
    problems = []
    for error in field_errors(exc, prefix):
        if error.kind == "missing":
            message = "required field is missing"
        elif error.kind == "extra_forbidden":
            message = "unknown field (not part of the format; check the spelling)"
        elif error.kind == "value_error":
            message = error.message
        else:
            message = f"{error.message[0].lower()}{error.message[1:]}, got {_short(error.value)}"
        problems.append(Problem(file, error.path, message))
    return problems


def _duplicates(names: list[str]) -> list[tuple[int, str]]:
    seen: set[str] = set()
    dupes = []
    for i, name in enumerate(names):
        if name in seen:
            dupes.append((i, name))
        seen.add(name)
    return dupes


def _one_of(values: Iterable[str]) -> str:
    listed = list(values)
    return ", ".join(listed) if listed else "none"


def reference_problems(task: GoldenTask, file: str, prefix: str = "") -> list[Problem]:
    """Consistency of a resolved task's gold labels with its own routes and tools."""
    problems = []
    if task.gold.route not in task.route_labels:
        problems.append(Problem(file, f"{prefix}gold.route", f"'{task.gold.route}' is not one of the "
                                f"domain's routes ({_one_of(task.route_labels)})"))
    tool_names = [t.name for t in task.tools]
    for group, calls in (("tool_calls", task.gold.tool_calls),
                         ("forbidden_actions", task.gold.forbidden_actions)):
        for i, call in enumerate(calls):
            if call.name not in tool_names:
                problems.append(Problem(file, f"{prefix}gold.{group}.{i}.name", f"'{call.name}' is not "
                                        f"one of the task's tools ({_one_of(tool_names)})"))
    for i, name in _duplicates([fact.id for fact in task.gold.facts]):
        problems.append(Problem(file, f"{prefix}gold.facts.{i}.id", f"duplicate fact id '{name}'"))
    return problems
