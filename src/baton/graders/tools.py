"""Tool-call correctness against gold.tool_calls.

A gold call is matched by a successful observed call with the same name whose arguments match
(:func:`baton.graders.calls.arguments_match`). When gold is ``ordered`` only matches in gold order
count (longest common subsequence). Unmatched successful side-effecting calls are *extra*; failed
calls and extra read-only calls are reported but not penalised.

``recall`` = matched / gold calls, ``precision`` = matched / (matched + extra side-effecting
calls), the score is their F1 (1.0 when gold has no calls and nothing was written), and
``passed`` means every gold call matched, in order where required, with no extra side effect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from baton.graders.calls import ObservedCall, arguments_match
from baton.result import ComponentScore
from baton.task import GoldenTask, ToolCall


@dataclass(frozen=True, slots=True)
class ToolMatch:
    matched: int            # gold calls matched (in order when gold is ordered)
    matched_any_order: int
    extra_writes: list[ObservedCall]
    unmatched_gold: list[ToolCall]
    failed: int
    order_ok: bool

    def passed(self, gold_calls: int) -> bool:
        return self.matched == gold_calls and self.order_ok and not self.extra_writes


def _lcs(gold: list[ToolCall], seen: list[ObservedCall], eq: Callable[[ToolCall, ObservedCall], bool]) -> int:
    prev = [0] * (len(seen) + 1)
    for g in gold:
        cur = [0] * (len(seen) + 1)
        for j, o in enumerate(seen, 1):
            cur[j] = prev[j - 1] + 1 if eq(g, o) else max(prev[j], cur[j - 1])
        prev = cur
    return prev[-1]


def match_tool_calls(task: GoldenTask, gold: list[ToolCall], calls: list[ObservedCall],
                     ordered: bool) -> ToolMatch:
    """Match observed calls to ``gold`` (see the module docstring)."""
    specs = {spec.name: spec for spec in task.tools}

    def eq(g: ToolCall, o: ObservedCall) -> bool:
        return g.name == o.name and arguments_match(g.arguments, o.arguments, specs.get(g.name))

    ok = [c for c in calls if c.ok]
    used: set[int] = set()
    unmatched = []
    for g in gold:
        index = next((i for i, o in enumerate(ok) if i not in used and eq(g, o)), None)
        if index is None:
            unmatched.append(g)
        else:
            used.add(index)
    any_order = len(gold) - len(unmatched)
    in_order = _lcs(gold, ok, eq) if ordered else any_order
    extra = [o for i, o in enumerate(ok) if i not in used and o.side_effect]
    return ToolMatch(in_order, any_order, extra, unmatched, sum(1 for c in calls if not c.ok),
                     in_order == any_order)


def expected_calls(task: GoldenTask) -> list[ToolCall]:
    """The gold calls a correct system makes: those not marked ``expect_error`` (a gold call the
    tool rejects documents a benchmark's trajectory; it is not asked of the system)."""
    return [call for call in task.gold.tool_calls if not call.expect_error]


def grade_tools(task: GoldenTask, calls: list[ObservedCall]) -> ComponentScore | None:
    """None when the run made no tool call and gold expects none."""
    gold = expected_calls(task)
    if not calls and not gold:
        return None
    m = match_tool_calls(task, gold, calls, task.gold.ordered)
    recall = m.matched / len(gold) if gold else 1.0
    denominator = m.matched + len(m.extra_writes)
    precision = m.matched / denominator if denominator else (1.0 if not gold else 0.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    problems = [f"missing {g.name}({', '.join(f'{k}={v!r}' for k, v in g.arguments.items())})"
                for g in m.unmatched_gold]
    problems += [f"extra side effect {o.name}({', '.join(f'{k}={v!r}' for k, v in o.arguments.items())})"
                 for o in m.extra_writes]
    if not m.order_ok:
        problems.append("gold calls out of order")
    return ComponentScore(
        component="tool", score=f1, passed=m.passed(len(gold)),
        metrics={"recall": recall, "precision": precision, "f1": f1,
                 "order_ok": float(m.order_ok) if task.gold.ordered else None,
                 "extra_side_effects": float(len(m.extra_writes)), "failed_calls": float(m.failed),
                 "calls": float(len(calls))},
        detail="; ".join(problems) or "all gold calls made")
