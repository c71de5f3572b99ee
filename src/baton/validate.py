"""Cross-reference checks of a golden set and the gold replay.

``validate_path(path)`` loads a golden set and checks, beyond the schema:

* every evidence id is a document id of the domain or a ``collection/record_id`` of the
  initial world;
* gold tool calls and forbidden actions name the task's tools (done by the loader too);
* replaying the gold tool calls, in order, on a fresh :class:`~baton.world.World` raises no
  :class:`~baton.world.ToolError` (so every gold call is valid against its tool's JSON schema and
  its checks) and reaches ``gold.final_state``: the listed fields of the listed records, numbers
  within float noise, a record mapped to null must not exist;
* no gold tool call is also a forbidden action; the outcome agrees with the calls (``act`` writes
  to the world; ``answer``, ``ask`` and ``refuse`` do not);
* facts and forbidden claims are non-blank;
* the domain's tool effects refer only to declared parameters (reported once per domain file).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baton.fixtures import Problem, load_golden_set, reference_problems
from baton.task import Effect, ForbiddenAction, GoldenTask, ToolCall, ToolSpec
from baton.world import ToolError, World, values_equal

__all__ = ["ValidationReport", "validate_path", "validate_tasks", "validate_task", "replay_gold",
           "state_mismatches", "forbids", "tool_problems"]

_DOLLAR = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))?$")
_BRACES = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)")
_READ_ONLY_OUTCOMES = ("answer", "ask", "refuse")


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """The outcome of validating a golden set."""

    tasks: list[GoldenTask]
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def domains(self) -> list[str]:
        return sorted({task.domain for task in self.tasks})

    def summary(self) -> str:
        n, m = len(self.tasks), len(self.domains)
        return f"{n} task{'s' * (n != 1)} in {m} domain{'s' * (m != 1)}"


def replay_gold(task: GoldenTask) -> World:
    """A fresh World after the gold tool calls, in order. Raises ToolError on a rejected call."""
    world = World(task)
    for call in task.gold.tool_calls:
        world.call(call.name, call.arguments)
    return world


def state_mismatches(expected: dict[str, dict[str, dict[str, Any] | None]],
                     snapshot: dict[str, dict[str, dict[str, Any]]]) -> list[tuple[str, str]]:
    """Where ``snapshot`` differs from a gold ``final_state``: ``(field path, message)`` pairs.

    Only the listed fields of the listed records matter; a record mapped to None must not exist;
    numbers compare within float noise.
    """
    found = []
    for collection, records in expected.items():
        actual_records = snapshot.get(collection, {})
        for rid, fields in records.items():
            path = f"{collection}.{rid}"
            actual = actual_records.get(rid)
            if fields is None:
                if actual is not None:
                    found.append((path, "expected no such record, but it exists"))
                continue
            if actual is None:
                present = ", ".join(actual_records) or "none"
                found.append((path, f"expected the record to exist; records in '{collection}': {present}"))
                continue
            for name, value in fields.items():
                if name not in actual:
                    found.append((f"{path}.{name}", f"expected {value!r}, but the record has no such field"))
                elif not values_equal(actual[name], value):
                    found.append((f"{path}.{name}", f"expected {value!r}, got {actual[name]!r}"))
    return found


def forbids(action: ForbiddenAction, call: ToolCall) -> bool:
    """Whether ``call`` is the forbidden ``action``: same name, and every argument the action
    gives equals the call's (ids compared the way the World looks records up)."""
    if action.name != call.name:
        return False
    for name, value in action.arguments.items():
        if name not in call.arguments:
            return False
        got = call.arguments[name]
        if isinstance(value, str) and isinstance(got, str):
            if value.strip().lstrip("#").casefold() != got.strip().lstrip("#").casefold():
                return False
        elif not values_equal(got, value):
            return False
    return True


def _close(word: str, options: Iterable[str]) -> str:
    matches = difflib.get_close_matches(word, list(options), n=1)
    return f"; did you mean '{matches[0]}'?" if matches else ""


def _evidence_problems(task: GoldenTask, file: str) -> list[Problem]:
    doc_ids = {doc.id for doc in task.documents}
    refs = {f"{c}/{rid}" for c, records in task.world.collections.items() for rid in records}
    problems = []
    for i, ref in enumerate(task.gold.evidence):
        if ref in doc_ids or ref in refs:
            continue
        hint = _close(ref, refs if "/" in ref else doc_ids)
        problems.append(Problem(file, f"gold.evidence.{i}", f"'{ref}' is neither a document id of domain "
                                f"'{task.domain}' nor a record 'collection/id' of the initial world{hint}"))
    return problems


def _replay_problems(task: GoldenTask, file: str) -> list[Problem]:
    world = World(task)
    for i, call in enumerate(task.gold.tool_calls):
        try:
            world.call(call.name, call.arguments)
        except ToolError as exc:
            return [Problem(file, f"gold.tool_calls.{i}", f"the tool rejects the gold call: {exc}")]
    return [Problem(file, f"gold.final_state.{path}", f"replaying the gold tool calls: {message}")
            for path, message in state_mismatches(task.gold.final_state, world.snapshot())]


def _label_problems(task: GoldenTask, file: str) -> list[Problem]:
    gold = task.gold
    problems = []
    for i, call in enumerate(gold.tool_calls):
        for j, action in enumerate(gold.forbidden_actions):
            if forbids(action, call):
                problems.append(Problem(file, f"gold.tool_calls.{i}",
                                        f"the gold call is also forbidden by gold.forbidden_actions.{j}"))
    writes = [c.name for c in gold.tool_calls
              if any(t.name == c.name and t.side_effect for t in task.tools)]
    if gold.outcome == "act" and not writes:
        problems.append(Problem(file, "gold.outcome", "'act' needs a gold tool call that changes the "
                                "world; use 'answer' when the system only informs"))
    if gold.outcome in _READ_ONLY_OUTCOMES and writes:
        problems.append(Problem(file, "gold.outcome", f"'{gold.outcome}' must not change the world, but "
                                f"the gold tool calls include {', '.join(writes)}"))
    for i, fact in enumerate(gold.facts):
        for j, form in enumerate(fact.forms):
            if not form.strip():
                problems.append(Problem(file, f"gold.facts.{i}.forms.{j}", "expected a non-blank form"))
    for i, claim in enumerate(gold.forbidden_claims):
        if not claim.strip():
            problems.append(Problem(file, f"gold.forbidden_claims.{i}", "expected a non-blank claim"))
    for i, action in enumerate(gold.forbidden_actions):
        spec = next((t for t in task.tools if t.name == action.name), None)
        properties = (spec.parameters.get("properties") or {}) if spec else {}
        for name in action.arguments:
            if spec is not None and name not in properties:
                problems.append(Problem(file, f"gold.forbidden_actions.{i}.arguments.{name}",
                                        f"'{action.name}' has no argument '{name}' "
                                        f"(arguments: {', '.join(properties) or 'none'})"))
    return problems


def _effect_references(effect: Effect) -> list[tuple[str, str]]:
    """(field path, referenced name) of every argument an effect refers to."""
    refs: list[tuple[str, str]] = []
    if effect.key:
        refs.append(("effect.key", effect.key))
    refs.extend((f"effect.match.{field}", arg) for field, arg in effect.match.items())
    refs.extend((f"effect.require.{i}.param", c.param) for i, c in enumerate(effect.require) if c.param)

    def walk(path: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{path}.{k}", v)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(f"{path}.{i}", v)
        elif isinstance(value, str):
            match = _DOLLAR.match(value)
            if match and match.group(2) is None and match.group(1) != "today":
                refs.append((path, match.group(1)))
            elif not match:
                refs.extend((path, name) for name in _BRACES.findall(value)
                            if name not in ("record", "today", "seq"))

    walk("effect.set", effect.set)
    walk("effect.returns", effect.returns or {})
    if effect.create is not None:
        walk("effect.create.fields", effect.create.fields)
        walk("effect.create.id", effect.create.id)
    for i, check in enumerate(effect.require):
        walk(f"effect.require.{i}.error", check.error)
    return refs


def tool_problems(spec: ToolSpec, file: str) -> list[Problem]:
    """A tool whose effect refers to arguments its schema does not declare. Fields are named
    ``tools[<tool name>].…``."""
    properties = spec.parameters.get("properties") or {}
    where = f"tools[{spec.name}]"
    problems = []
    if spec.parameters.get("type") != "object":
        problems.append(Problem(file, f"{where}.parameters.type", "expected 'object'"))
    for path, name in _effect_references(spec.effect):
        if name not in properties:
            problems.append(Problem(file, f"{where}.{path}", f"refers to argument '{name}', which "
                                    f"is not in the tool's parameters ({', '.join(properties) or 'none'})"))
    if spec.effect.key and spec.effect.key not in (spec.parameters.get("required") or []):
        problems.append(Problem(file, f"{where}.effect.key", f"argument '{spec.effect.key}' "
                                "holds the record id, so the parameters must list it as required"))
    return problems


def _domain_file(task: GoldenTask) -> str:
    if task.source and Path(task.source).parent.name == "tasks":
        return str(Path(task.source).parent.parent / "domain.yaml")
    return task.source or task.id


def validate_task(task: GoldenTask) -> list[Problem]:
    """Every cross-reference and replay problem of one loaded task (tool effects excluded)."""
    file = task.source or task.id
    problems = reference_problems(task, file)
    problems += _evidence_problems(task, file)
    problems += _label_problems(task, file)
    if not any(p.field.startswith("gold.tool_calls") for p in problems):
        problems += _replay_problems(task, file)
    return problems


def validate_tasks(tasks: Iterable[GoldenTask]) -> list[Problem]:
    """Problems of all tasks, plus each domain tool's effect problems once per domain file."""
    problems: list[Problem] = []
    seen_tools: set[tuple[str, str]] = set()
    for task in tasks:
        domain_file = _domain_file(task)
        for spec in task.tools:
            if (domain_file, spec.name) not in seen_tools:
                seen_tools.add((domain_file, spec.name))
                problems += tool_problems(spec, domain_file)
        problems += validate_task(task)
    return problems


def validate_path(path: Path | str) -> ValidationReport:
    """Load the golden set at ``path`` and check it; never raises for fixture problems."""
    tasks, problems = load_golden_set(path)
    problems = problems + validate_tasks(tasks)
    bad_files = {p.file for p in problems}
    return ValidationReport([t for t in tasks if (t.source or t.id) not in bad_files], problems)
