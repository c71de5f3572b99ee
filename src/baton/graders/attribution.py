"""Failure attribution: the first hop of a failed run that departed from gold.

Hops are examined in pipeline order, skipping kinds the trace does not have:

1. ``route``: the route component failed (wrong label);
2. ``retrieve``: a gold document was not retrieved, or (when the retrieve hops look up records
   themselves) a gold record was not;
3. ``tool``: the tool calls diverge from gold (a gold call missing or out of order, an extra side
   effect), a forbidden action was taken, or the world state is wrong. With no tool hop in the
   trace, this divergence shows in ``generate`` (no call was requested);
4. ``generate``: the answer misses a fact, makes a forbidden claim or claims an unperformed
   action. If a verifier flagged a draft that was fine (a false alarm) before this answer, the
   divergence started at ``verify`` instead;
5. ``verify``: the verifier's verdict was wrong and nothing earlier diverged.

A failed run with none of these (rare: e.g. a failure a component cannot see) is attributed by
its failure category: state and action categories to ``tool`` (``generate`` without tool hops),
the rest to ``generate``.
"""

from __future__ import annotations

from baton.graders.system import SystemVerdict
from baton.graders.verifier import VerifierOutcome
from baton.result import ComponentScore
from baton.trace import Trace

_STATE_CATEGORIES = frozenset({"forbidden_action", "acted_should_ask", "asked_should_act", "wrong_state"})


def _retrieval_diverged(trace: Trace, retrieval: ComponentScore | None) -> bool:
    if retrieval is None:
        return False
    doc_recall = retrieval.metrics.get("doc_recall")
    if doc_recall is not None and doc_recall < 1.0:
        return True
    record_recall = retrieval.metrics.get("record_recall")
    looks_up_records = any(h.output.get("record_ids") for h in trace.hops_of("retrieve"))
    return looks_up_records and record_recall is not None and record_recall < 1.0


def first_divergent_hop(trace: Trace, components: dict[str, ComponentScore], verdict: SystemVerdict,
                        verifier: VerifierOutcome | None) -> str:
    """The hop kind where a failed run first diverged (see the module docstring)."""
    has_tool_hops = bool(trace.hops_of("tool"))
    route = components.get("route")
    if route is not None and route.passed is False:
        return "route"
    if _retrieval_diverged(trace, components.get("retrieval")):
        return "retrieve"
    tool = components.get("tool")
    state_wrong = any(verdict.failed(name) for name in
                      ("final_state", "no_unexpected_changes", "no_forbidden_action", "outcome"))
    if (tool is not None and tool.passed is False) or state_wrong:
        return "tool" if has_tool_hops else "generate"
    answer = components.get("answer")
    if (answer is not None and answer.passed is False) or verdict.unsupported_claims:
        if verifier is not None and verifier.flagged and not verifier.pre_failing:
            return "verify"
        return "generate"
    if verifier is not None and not verifier.correct:
        return "verify"
    if verdict.category in _STATE_CATEGORIES:
        return "tool" if has_tool_hops else "generate"
    return "generate"
