"""A check (entry point to a bare function: its failure counts as 'failed_check') and a component
grader for the two_step architecture's own hop."""

from __future__ import annotations

from baton.graders.registry import ComponentGraderSpec
from baton.result import Check, ComponentScore
from baton.task import GoldenTask
from baton.trace import Trace

MAX_WORDS = 60


def short_reply(task: GoldenTask, trace: Trace) -> Check:
    """The reply is at most 60 words."""
    words = len(trace.answer.split())
    return Check(name="short_reply", passed=words <= MAX_WORDS, detail=f"{words} words (max {MAX_WORDS})")


def lookup_recall(task: GoldenTask, trace: Trace) -> ComponentScore | None:
    """Share of gold evidence documents the lookup hop found (None without a lookup hop)."""
    hops = [h for h in trace.hops if h.name == "lookup"]
    if not hops:
        return None
    found = {d for h in hops for d in h.output.get("doc_ids", [])}
    gold = [d for d in task.gold.evidence if any(doc.id == d for doc in task.documents)]
    if not gold:
        return ComponentScore(component="lookup_recall", detail="no gold documents")
    recall = sum(1 for d in gold if d in found) / len(gold)
    return ComponentScore(component="lookup_recall", score=recall, passed=recall == 1.0,
                          detail=f"found {sorted(found)} of gold {gold}")


LOOKUP_RECALL = ComponentGraderSpec("lookup_recall", lookup_recall, hop="lookup")
"""Registered as a spec: it scores the ``lookup`` hop, so ``isolated:lookup`` runs are its isolated score."""
