"""Retrieval against gold evidence: recall@k, precision@k and MRR over evidence ids.

Evidence ids are document ids and record refs ('collection/id'). The ranked list a run retrieved
is the retrieve hops' ``doc_ids`` (or their chunks' doc ids) in rank order, then record refs in
the order they were looked up: retrieve hops' ``record_ids`` and successful read-only tool calls
(a ``get`` names its record by the key argument, resolved the way the sandbox resolves it; a
``find`` names the records it returned). k is the length of that list.
"""

from __future__ import annotations

from typing import Any

from baton.graders.calls import ObservedCall
from baton.result import ComponentScore
from baton.task import GoldenTask
from baton.trace import Trace
from baton.world import lookup_record_id


def _record_refs(task: GoldenTask, call: ObservedCall) -> list[str]:
    try:
        spec = task.tool(call.name)
    except KeyError:
        return []
    effect = spec.primary_effect
    if effect is None or spec.side_effect or not call.ok:
        return []
    if effect.op == "get" and effect.key:
        raw = call.arguments.get(effect.key)
        if raw is None:
            return []
        rid = lookup_record_id(task.world.collections.get(effect.collection, {}), raw)
        return [f"{effect.collection}/{rid if rid is not None else raw}"]
    results: Any = call.result if isinstance(call.result, list) else []
    return [f"{effect.collection}/{item['id']}" for item in results
            if isinstance(item, dict) and item.get("id") is not None]


def retrieved_evidence(task: GoldenTask, trace: Trace, calls: list[ObservedCall]) -> list[str]:
    """Evidence ids the run retrieved, ranked, without duplicates (see the module docstring)."""
    docs: list[str] = []
    records: list[str] = []
    for hop in trace.hops_of("retrieve"):
        ids = hop.output.get("doc_ids")
        if not ids:
            ids = [c.get("doc_id") for c in hop.output.get("chunks") or [] if isinstance(c, dict)]
        docs.extend(str(i) for i in ids or [] if i)
        records.extend(str(r) for r in hop.output.get("record_ids") or [] if r)
    for call in calls:
        records.extend(_record_refs(task, call))
    return list(dict.fromkeys(docs + records))


def _share(found: set[str], of: set[str]) -> float | None:
    return len(found & of) / len(of) if of else None


def grade_retrieval(task: GoldenTask, trace: Trace, calls: list[ObservedCall]) -> ComponentScore | None:
    """Recall is the score; passed means every gold evidence id was retrieved. None without a
    retrieve hop (the architecture does not retrieve)."""
    if not trace.hops_of("retrieve"):
        return None
    ranked = retrieved_evidence(task, trace, calls)
    gold = set(task.gold.evidence)
    relevant = [i for i, ref in enumerate(ranked) if ref in gold]
    recall = len(relevant) / len(gold) if gold else 1.0
    precision = len(relevant) / len(ranked) if ranked and gold else None
    mrr = (1.0 / (relevant[0] + 1) if relevant else 0.0) if gold else None
    doc_ids = {d.id for d in task.documents}
    gold_docs = {g for g in gold if g in doc_ids}
    got = set(ranked)
    missing = sorted(gold - got)
    return ComponentScore(
        component="retrieval", score=recall, passed=recall == 1.0,
        metrics={"recall": recall, "precision": precision, "mrr": mrr, "k": float(len(ranked)),
                 "doc_recall": _share(got, gold_docs), "record_recall": _share(got, gold - gold_docs)},
        detail=f"missing {', '.join(missing)}" if missing else "all gold evidence retrieved")
