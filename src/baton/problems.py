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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from baton.errors import BatonError
from baton.task import GoldenTask

__all__ = ["FixtureError", "Problem", "display_path", "pydantic_problems", "reference_problems"]


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


def pydantic_problems(file: str, exc: ValidationError, prefix: str = "") -> list[Problem]:
    """Turn a pydantic ValidationError into problems with dotted field paths."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = prefix + ".".join(str(part) for part in err["loc"])
        kind, msg = err["type"], err["msg"]
        if kind == "missing":
            message = "required field is missing"
        elif kind == "extra_forbidden":
            message = "unknown field (not part of the format; check the spelling)"
        elif msg.startswith("Value error, "):
            message = msg[len("Value error, "):]
        else:
            message = f"{msg[0].lower()}{msg[1:]}, got {_short(err.get('input'))}"
        problems.append(Problem(file, loc.rstrip("."), message))
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
