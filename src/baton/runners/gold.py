"""Gold inputs for isolated-component mode, injected by the harness (never read by hop logic).

* route: the gold route label;
* evidence: the gold documents (whole) and the gold records, read from a fresh copy of the
  task's initial world;
* tool results: the gold tool calls replayed on the run's world, so the world ends in the gold
  state and the verifier sees what a correct actor would have produced.
"""

from __future__ import annotations

from baton.runners.evidence import Evidence
from baton.runners.mcp_world import ToolOutcome
from baton.runners.retrieval import Chunk
from baton.task import GoldenTask
from baton.replay import replay_calls
from baton.world import World


def gold_route(task: GoldenTask) -> str:
    return task.gold.route


def gold_evidence(task: GoldenTask) -> Evidence:
    """The gold evidence: documents in the order the task lists them, then records."""
    initial = World(task).snapshot()
    evidence = Evidence()
    for ref in task.gold.evidence:
        collection, sep, record_id = ref.partition("/")
        if sep:
            record = initial.get(collection, {}).get(record_id)
            if record is not None:
                evidence.records.append({"ref": ref, "data": {"id": record_id, **record}})
        else:
            doc = task.document(ref)
            evidence.chunks.append(Chunk(doc.id, f"{doc.title}: {doc.text}", 1.0))
    return evidence


def replay_gold_calls(task: GoldenTask, world: World) -> list[ToolOutcome]:
    """Run the gold tool calls on ``world`` (directly, not through a model); their outcomes."""
    writes = {spec.name: spec.side_effect for spec in task.tools}
    return [ToolOutcome(o.call.name, dict(o.call.arguments), result=o.result, error=o.error,
                        side_effect=writes.get(o.call.name, False))
            for o in replay_calls(world, task.gold.tool_calls)]
