"""The final world state against gold.

Two questions: do the fields gold lists have the gold values (:func:`state_mismatches` of
:mod:`baton.replay`, the same comparison the gold replay is validated with), and did the run
change records that the gold replay leaves alone? The second is asked only in the *judged*
collections: those gold's ``final_state`` names and those the gold calls write (all collections
when there are none). The author lists what matters, so an escalation ticket beside a correct
refund is not judged unless escalations are listed.

A trace that recorded no final state (an adapter without access to the sandbox) is judged on the
state its successful tool calls produce when replayed in a fresh sandbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from baton.graders.calls import ObservedCall
from baton.graders.memo import per_object
from baton.task import GoldenTask
from baton.trace import Trace
from baton.replay import replay_gold, state_mismatches
from baton.world import ToolError, World, values_equal

State = Mapping[str, Mapping[str, Mapping[str, Any]]]


def _same(a: Any, b: Any) -> bool:
    """Exactly ``values_equal(a, b)``, faster on the common case of equal values of equal types."""
    t = type(a)
    if t is not type(b):
        return values_equal(a, b)
    if t is dict:
        if a.keys() != b.keys():
            return False
        for key, x in a.items():
            y = b[key]
            tx = type(x)
            if tx is str or tx is bool or x is None:
                if tx is not type(y) or x != y:
                    return False
            elif not _same(x, y):
                return False
        return True
    if t is list:
        return len(a) == len(b) and all(map(_same, a, b))
    if t is int or t is float:
        return a == b or values_equal(a, b)
    return bool(a == b)


def changed_records(before: State, after: State, collections: AbstractSet[str] | None = None) -> set[tuple[str, str]]:
    """(collection, record id) of records added, removed or modified between two states."""
    changed = set()
    for name in set(before) | set(after):
        if collections is not None and name not in collections:
            continue
        old, new = before.get(name, {}), after.get(name, {})
        for rid in set(old) | set(new):
            if rid not in old or rid not in new or not _same(old[rid], new[rid]):
                changed.add((name, rid))
    return changed


@per_object
def gold_changes(task: GoldenTask) -> frozenset[tuple[str, str]] | None:
    """Records the gold replay changes; None when the gold calls do not replay."""
    try:
        world = replay_gold(task)
    except ToolError:
        return None
    return frozenset(changed_records(task.world.collections, world.snapshot()))


def written_collections(task: GoldenTask, name: str) -> set[str] | None:
    """Collections a tool of the task writes; None when the task has no such tool."""
    try:
        written = task.tool(name).written_collections
    except KeyError:
        return None
    if written is None:  # a writing Python tool: the collections its gold replay changes
        return {collection for collection, _ in gold_changes(task) or ()}
    return set(written)


@per_object
def judged_collections(task: GoldenTask) -> frozenset[str] | None:
    """Collections whose changes are judged: those gold's final_state names and those the gold
    calls write; None (all collections) when there are none."""
    judged = set(task.gold.final_state)
    for call in task.gold.tool_calls:
        judged |= written_collections(task, call.name) or set()
    return frozenset(judged) or None


def final_state(task: GoldenTask, trace: Trace, calls: list[ObservedCall]) -> dict[str, Any]:
    """The trace's final state; when it recorded none, the state its successful tool calls
    produce when replayed, in order, in a fresh sandbox."""
    if trace.final_state:
        return trace.final_state
    world = World(task)
    for call in calls:
        if call.ok:
            try:
                world.call(call.name, call.arguments)
            except ToolError:
                continue
    return world.snapshot()


def check_state(task: GoldenTask, trace: Trace, calls: list[ObservedCall]) -> tuple[list[str], list[str]]:
    """(mismatches with gold's listed fields, unexpected changes), each as readable strings."""
    state = final_state(task, trace, calls)
    mismatches = [f"{path}: {message}" for path, message in state_mismatches(task.gold.final_state, state)]
    unexpected: list[str] = []
    expected = gold_changes(task)
    if expected is not None:
        scope = judged_collections(task)
        observed_scope = set(state) if scope is None else scope & set(state)
        initial = {name: task.world.collections.get(name, {}) for name in observed_scope}
        for collection, rid in sorted(changed_records(initial, state, observed_scope) - expected):
            unexpected.append(f"{collection}.{rid}: changed, but gold leaves it as it was")
    return mismatches, unexpected
