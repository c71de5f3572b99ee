"""Tool calls as graders see them, and how call arguments are compared with gold.

Arguments compare as the sandbox looks records up: numbers within 1e-6 (a numeric string equals
its number), strings ignoring surrounding whitespace, case and a leading ``#`` ("#5120" =
"5120"). A gold string argument of four or more words for a parameter without an ``enum`` is free
text (a summary, a note): any non-empty string matches it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from baton.task import ForbiddenAction, GoldenTask, ToolSpec
from baton.trace import Trace

_ABS_TOL = 1e-6


@dataclass(frozen=True, slots=True)
class ObservedCall:
    """A tool hop of a trace."""

    hop: int  # index in trace.hops
    name: str
    arguments: dict[str, Any]
    result: Any
    error: str | None
    side_effect: bool

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def write(self) -> bool:
        """A successful side-effecting call: it changed the world."""
        return self.ok and self.side_effect


def observed_calls(task: GoldenTask, trace: Trace) -> list[ObservedCall]:
    """The trace's tool hops in order; ``side_effect`` from the hop, else from the task's tool."""
    specs = {spec.name: spec for spec in task.tools}
    calls = []
    for i, hop in enumerate(trace.hops):
        if hop.kind != "tool":
            continue
        out = hop.output
        name = str(out.get("name") or hop.name)
        args = out.get("arguments")
        side_effect = out.get("side_effect")
        if not isinstance(side_effect, bool):
            side_effect = bool(specs[name].side_effect) if name in specs else False
        error = hop.error or out.get("error")
        calls.append(ObservedCall(i, name, args if isinstance(args, dict) else {}, out.get("result"),
                                  str(error) if error else None, side_effect))
    return calls


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().replace(",", ""))
        except ValueError:
            return None
    return None


def _text(value: str) -> str:
    return value.strip().lstrip("#").strip().casefold()


def values_match(expected: Any, actual: Any) -> bool:
    """Gold argument value vs observed one (see the module docstring)."""
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        got = _number(actual)
        return got is not None and math.isclose(got, float(expected), rel_tol=1e-9, abs_tol=_ABS_TOL)
    if isinstance(expected, str):
        if isinstance(actual, str):
            return _text(expected) == _text(actual)
        number = _number(actual)
        return number is not None and _number(expected) is not None and values_match(number, expected)
    if isinstance(expected, dict):
        return isinstance(actual, dict) and expected.keys() == actual.keys() and all(
            values_match(expected[k], actual[k]) for k in expected)
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(
            values_match(e, a) for e, a in zip(expected, actual))
    return bool(expected == actual)


def _free_text(spec: ToolSpec | None, name: str, value: Any) -> bool:
    if not isinstance(value, str) or len(value.split()) < 4:
        return False
    prop = ((spec.parameters.get("properties") or {}).get(name) or {}) if spec else {}
    return "enum" not in prop


def arguments_match(expected: Mapping[str, Any], actual: Mapping[str, Any],
                    spec: ToolSpec | None = None) -> bool:
    """Every expected argument is present and matches (extra observed arguments are ignored)."""
    for name, value in expected.items():
        if name not in actual:
            return False
        if _free_text(spec, name, value):
            if not (isinstance(actual[name], str) and actual[name].strip()):
                return False
        elif not values_match(value, actual[name]):
            return False
    return True


def forbidden_hits(task: GoldenTask, calls: list[ObservedCall]) -> list[tuple[ObservedCall, ForbiddenAction]]:
    """Successful calls that a gold forbidden action matches (name and the listed arguments)."""
    hits = []
    for call in calls:
        if not call.ok:
            continue
        for action in task.gold.forbidden_actions:
            if action.name == call.name and arguments_match(action.arguments, call.arguments):
                hits.append((call, action))
                break
    return hits
