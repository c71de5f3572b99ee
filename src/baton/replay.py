"""Gold replay and the state diff, next to :class:`~baton.world.World`: the one place a task's
gold tool calls are run on a world and a world's state is compared with gold's ``final_state``.

Used by validation (``baton validate``: the gold must replay cleanly and reach its final state),
by grading (the final-state check, and the state a trace's calls produce when it recorded none),
by isolated-component runs (the gold calls replayed on the run's world) and by importers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from baton.task import GoldenTask, ToolCall
from baton.world import ToolError, World, get_path, values_equal

__all__ = ["UNORDERED_KEY", "CallOutcome", "expected_equal", "replay_calls", "replay_gold", "state_mismatches"]

UNORDERED_KEY = "$unordered"
_ABSENT = object()


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """One replayed call: its result, or the :class:`ToolError` message the world raised."""

    call: ToolCall
    result: Any = None
    error: str | None = None


def replay_calls(world: World, calls: Iterable[ToolCall]) -> Iterator[CallOutcome]:
    """Run ``calls`` on ``world`` in order (directly, not through a model), one outcome each;
    a rejected call is an outcome with ``error`` and the replay goes on."""
    for call in calls:
        try:
            yield CallOutcome(call, result=world.call(call.name, dict(call.arguments)))
        except ToolError as exc:
            yield CallOutcome(call, error=str(exc))


def replay_gold(task: GoldenTask) -> World:
    """A fresh World after the gold tool calls, in order. Raises ToolError on a rejected call
    (a call marked ``expect_error`` must be rejected: accepting it is the error)."""
    world = World(task)
    for outcome in replay_calls(world, task.gold.tool_calls):
        if outcome.error is not None and not outcome.call.expect_error:
            raise ToolError(outcome.error)
        if outcome.error is None and outcome.call.expect_error:
            raise ToolError(f"{outcome.call.name} accepted a gold call marked expect_error")
    return world


def expected_equal(actual: Any, expected: Any) -> bool:
    """Whether ``actual`` is what a final-state value ``expected`` asks for: JSON equality
    (numbers within float noise), where ``{"$unordered": [...]}`` is a list in any order."""
    if isinstance(expected, dict):
        if len(expected) == 1 and UNORDERED_KEY in expected and isinstance(expected[UNORDERED_KEY], list):
            if not isinstance(actual, list) or len(actual) != len(expected[UNORDERED_KEY]):
                return False
            left = list(actual)
            for want in expected[UNORDERED_KEY]:
                index = next((i for i, got in enumerate(left) if expected_equal(got, want)), None)
                if index is None:
                    return False
                left.pop(index)
            return True
        return (isinstance(actual, dict) and actual.keys() == expected.keys()
                and all(expected_equal(actual[k], v) for k, v in expected.items()))
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(actual) == len(expected)
                and all(expected_equal(a, e) for a, e in zip(actual, expected)))
    return values_equal(actual, expected)


def state_mismatches(expected: dict[str, dict[str, dict[str, Any] | None]],
                     snapshot: dict[str, dict[str, dict[str, Any]]]) -> list[tuple[str, str]]:
    """Where ``snapshot`` differs from a gold ``final_state``: ``(field path, message)`` pairs.

    Only the listed fields of the listed records matter (a dotted name reaches a nested field);
    a record mapped to None must not exist; numbers compare within float noise; a value
    ``{"$unordered": [...]}`` matches a list in any order.
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
                got = get_path(actual, name, _ABSENT)
                if got is _ABSENT:
                    found.append((f"{path}.{name}", f"expected {value!r}, but the record has no such field"))
                elif not expected_equal(got, value):
                    found.append((f"{path}.{name}", f"expected {value!r}, got {got!r}"))
    return found
