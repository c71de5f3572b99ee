"""Route accuracy: the first route hop's label against gold.route."""

from __future__ import annotations

from baton.result import ComponentScore
from baton.task import GoldenTask
from baton.trace import Trace


def grade_route(task: GoldenTask, trace: Trace) -> ComponentScore | None:
    """1.0 when the first route hop chose gold's label; None when the trace has no route hop."""
    hops = trace.hops_of("route")
    if not hops:
        return None
    chosen = hops[0].output.get("route", hops[0].output.get("label"))
    correct = isinstance(chosen, str) and chosen.strip().casefold() == task.gold.route.casefold()
    return ComponentScore(component="route", score=float(correct), passed=correct,
                          metrics={"correct": float(correct)},
                          detail=f"chose {chosen!r}, gold {task.gold.route!r}")
