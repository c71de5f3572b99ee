"""Route accuracy: the first intent-routing hop's label against gold.route.

Only hops whose purpose is ``intent_route`` (:mod:`baton.graders.purposes`) are graded: a hop
that selects a model or branch (``model_select``) is reported by choice, never against gold."""

from __future__ import annotations

from baton.graders.purposes import chosen_label, hop_purpose
from baton.result import ComponentScore
from baton.task import GoldenTask
from baton.trace import Trace


def grade_route(task: GoldenTask, trace: Trace) -> ComponentScore | None:
    """1.0 when the first intent-routing hop chose gold's label; None when the trace has none."""
    hops = [h for h in trace.hops if hop_purpose(h) == "intent_route"]
    if not hops:
        return None
    chosen = chosen_label(hops[0])
    correct = isinstance(chosen, str) and chosen.strip().casefold() == task.gold.route.casefold()
    return ComponentScore(component="route", score=float(correct), passed=correct,
                          metrics={"correct": float(correct)},
                          detail=f"chose {chosen!r}, gold {task.gold.route!r}")
