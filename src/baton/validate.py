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
from baton.expr import ExprError, names_used
from baton.task import Effect, ForbiddenAction, GoldenTask, ToolCall, ToolSpec
from baton.replay import UNORDERED_KEY, expected_equal, replay_gold, state_mismatches
from baton.world import CALC_KEY, ToolError, World, values_equal

__all__ = ["ValidationReport", "validate_path", "validate_tasks", "validate_task", "replay_gold",
           "state_mismatches", "expected_equal", "forbids", "tool_problems", "UNORDERED_KEY"]

_DOLLAR = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z0-9_]+)*)$")
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


_WATCHED_CALLS = 3  # calls of each read-only Python tool checked for writes, per domain


def _replay_problems(task: GoldenTask, file: str, watch: dict[tuple[str, str], int] | None = None) -> list[Problem]:
    world = World(task)
    specs = {spec.name: spec for spec in task.tools}
    watch = {} if watch is None else watch
    for i, call in enumerate(task.gold.tool_calls):
        spec = specs.get(call.name)
        # a Python tool declared read-only must leave the world as it was (DSL tools and writing
        # Python tools are undone by the World when they fail); checking it means copying the
        # world, so only its first few calls in a domain are checked
        before = None
        if spec is not None and spec.python is not None and not spec.side_effect:
            key = (spec.python.file, spec.name)
            if watch.setdefault(key, _WATCHED_CALLS) > 0:
                watch[key] -= 1
                before = world.snapshot()
        try:
            world.call(call.name, call.arguments)
        except ToolError as exc:
            if not call.expect_error:
                return [Problem(file, f"gold.tool_calls.{i}", f"the tool rejects the gold call: {exc}")]
        else:
            if call.expect_error:
                return [Problem(file, f"gold.tool_calls.{i}", "the gold call is marked expect_error, "
                                "but the tool accepted it")]
        if before is not None and before != world.snapshot():
            if call.expect_error:
                return [Problem(file, f"gold.tool_calls.{i}", "the call failed as expected, but it "
                                "changed the world (a failed call must change nothing)")]
            where = spec.python.file if spec is not None and spec.python is not None else file
            return [Problem(file, f"gold.tool_calls.{i}", f"'{call.name}' is declared "
                            f"@tool(writes=False) in {where}, but the call changed the world")]
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
              if not c.expect_error and any(t.name == c.name and t.side_effect for t in task.tools)]
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


_SPECIALS = {"today", "record", "created", "args", "true", "false", "null"}


def _effect_references(effect: Effect, prefix: str = "effect",
                       bound: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    """(field path, referenced name) of every argument an effect refers to. Names of loaded
    records, of earlier effects' ``as`` and the specials are not arguments."""
    refs: list[tuple[str, str]] = []
    known = set(bound) | set(effect.load)
    if effect.key:
        refs.append((f"{prefix}.key", effect.key))
    refs.extend((f"{prefix}.load.{name}.key", load.key) for name, load in effect.load.items() if load.key)
    refs.extend((f"{prefix}.match.{field}", arg) for field, arg in effect.match.items())
    refs.extend((f"{prefix}.require.{i}.param", c.param) for i, c in enumerate(effect.require) if c.param)

    def walk(path: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if k != CALC_KEY:
                    walk(f"{path}.{k}", v)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(f"{path}.{i}", v)
        elif isinstance(value, str):
            match = _DOLLAR.match(value)
            if match:
                head, rest = match.group(1), match.group(2)
                if not rest and head not in _SPECIALS and head not in known:
                    refs.append((path, head))
            else:
                refs.extend((path, name) for name in _BRACES.findall(value)
                            if name not in ("record", "today", "seq") and name not in known)

    walk(f"{prefix}.set", effect.set)
    walk(f"{prefix}.append", effect.append)
    walk(f"{prefix}.extend", effect.extend)
    walk(f"{prefix}.returns", effect.returns or {})
    for i, update in enumerate(effect.update_where):
        walk(f"{prefix}.update_where.{i}.set", update.set)
    if effect.create is not None:
        walk(f"{prefix}.create.fields", effect.create.fields)
        walk(f"{prefix}.create.id", effect.create.id)
    for i, check in enumerate(effect.require):
        walk(f"{prefix}.require.{i}.error", check.error)
    return refs


def _expressions(effect: Effect, prefix: str) -> list[tuple[str, str, bool]]:
    """(field path, expression, whether 'item' is bound) of every expression of an effect."""
    found: list[tuple[str, str, bool]] = []
    if effect.id is not None:
        found.append((f"{prefix}.id", effect.id, False))
    found.extend((f"{prefix}.load.{name}.id", load.id, False) for name, load in effect.load.items() if load.id)
    found.extend((f"{prefix}.require.{i}.expr", c.expr, False) for i, c in enumerate(effect.require) if c.expr)

    def walk(path: str, value: Any, item: bool) -> None:
        if isinstance(value, dict):
            if len(value) == 1 and CALC_KEY in value:
                found.append((f"{path}.{CALC_KEY}", str(value[CALC_KEY]), item))
                return
            for k, v in value.items():
                walk(f"{path}.{k}", v, item)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(f"{path}.{i}", v, item)

    for part in ("set", "append", "extend", "returns"):
        walk(f"{prefix}.{part}", getattr(effect, part) or {}, False)
    if effect.create is not None:
        walk(f"{prefix}.create.fields", effect.create.fields, False)
    for i, update in enumerate(effect.update_where):
        found.append((f"{prefix}.update_where.{i}.where", update.where, True))
        walk(f"{prefix}.update_where.{i}.set", update.set, True)
    return found


def _effect_problems(effect: Effect, prefix: str, where: str, file: str, properties: dict[str, Any],
                     bound: frozenset[str]) -> list[Problem]:
    problems = []
    listed = ", ".join(properties) or "none"
    for path, name in _effect_references(effect, prefix, bound):
        if name not in properties:
            problems.append(Problem(file, f"{where}.{path}", f"refers to argument '{name}', which "
                                    f"is not in the tool's parameters ({listed})"))
    names = set(properties) | _SPECIALS | set(bound) | set(effect.load)
    for path, text, item in _expressions(effect, prefix):
        try:
            unknown = sorted(names_used(text) - names - ({"item"} if item else set()))
        except ExprError as exc:
            problems.append(Problem(file, f"{where}.{path}", str(exc)))
            continue
        if unknown:
            problems.append(Problem(file, f"{where}.{path}", f"unknown name '{unknown[0]}' in {text!r}: "
                                    f"expected an argument ({listed}), 'record', 'today', 'args', a "
                                    "loaded record or an earlier effect's 'as' name"))
    return problems


def tool_problems(spec: ToolSpec, file: str) -> list[Problem]:
    """A tool whose effects refer to arguments its schema does not declare, or hold an invalid
    expression. Fields are named ``tools[<tool name>].…``."""
    properties = spec.parameters.get("properties") or {}
    where = f"tools[{spec.name}]"
    problems = []
    if spec.parameters.get("type") != "object":
        problems.append(Problem(file, f"{where}.parameters.type", "expected 'object'"))
    bound: frozenset[str] = frozenset()
    single = spec.effect is not None
    for j, effect in enumerate(spec.effect_list):
        prefix = "effect" if single else f"effects.{j}"
        problems += _effect_problems(effect, prefix, where, file, properties, bound)
        if effect.key and effect.key not in (spec.parameters.get("required") or []):
            problems.append(Problem(file, f"{where}.{prefix}.key", f"argument '{effect.key}' "
                                    "holds the record id, so the parameters must list it as required"))
        if effect.as_:
            bound = bound | {effect.as_}
    return problems


def _domain_file(task: GoldenTask) -> str:
    if task.source and Path(task.source).parent.name == "tasks":
        return str(Path(task.source).parent.parent / "domain.yaml")
    return task.source or task.id


def validate_task(task: GoldenTask, *, watch: dict[tuple[str, str], int] | None = None) -> list[Problem]:
    """Every cross-reference and replay problem of one loaded task (tool effects excluded).
    ``watch`` carries, across tasks, how many more calls of each read-only Python tool to check."""
    file = task.source or task.id
    problems = reference_problems(task, file)
    problems += _evidence_problems(task, file)
    problems += _label_problems(task, file)
    if not any(p.field.startswith("gold.tool_calls") for p in problems):
        problems += _replay_problems(task, file, watch)
    return problems


def validate_tasks(tasks: Iterable[GoldenTask]) -> list[Problem]:
    """Problems of all tasks, plus each domain tool's effect problems once per domain file."""
    problems: list[Problem] = []
    seen_tools: set[tuple[str, str]] = set()
    watch: dict[tuple[str, str], int] = {}
    for task in tasks:
        domain_file = _domain_file(task)
        for spec in task.tools:
            if (domain_file, spec.name) not in seen_tools:
                seen_tools.add((domain_file, spec.name))
                problems += tool_problems(spec, domain_file)
        problems += validate_task(task, watch=watch)
    return problems


def validate_path(path: Path | str) -> ValidationReport:
    """Load the golden set at ``path`` and check it; never raises for fixture problems."""
    tasks, problems = load_golden_set(path)
    problems = problems + validate_tasks(tasks)
    bad_files = {p.file for p in problems}
    return ValidationReport([t for t in tasks if (t.source or t.id) not in bad_files], problems)
