"""Grade runs from their OpenTelemetry spans into an ordinary run directory (reports, gates, diff).

The run engine does the work with a runner that, instead of running a task, hands back the trace
read from the task's spans (:mod:`baton.otel.ingest`); grading, storage and reports are the
native ones, so a system graded from its spans gets exactly the grades its traces earn.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from baton.otel.ingest import IngestedRun, IngestSettings, OtelSpan, ingest
from baton.systems import SystemConfig
from baton.task import GoldenTask
from baton.trace import Trace
from baton.vendors import VendorProfile

ARCHITECTURE = "otel"


def _runner(runs: Mapping[tuple[str, int], IngestedRun]) -> Any:
    async def from_spans(task: GoldenTask, system: SystemConfig, vendor: str, *, clients: Any = None,
                         trial: int = 0, seed: int = 0, mode: str = "system") -> Trace:
        run = runs.get((task.id, trial))
        if run is None:
            return Trace(task_id=task.id, task_version=task.version, system=system.name, architecture=ARCHITECTURE,
                         trial=trial, seed=seed, mode=mode,
                         infra_error=f"no spans for task {task.id} trial {trial}")
        trace = run.trace.model_copy()
        trace.system = system.name
        return trace

    return from_spans


def grade_spans(spans: Iterable[OtelSpan], tasks: Sequence[GoldenTask], *, run_dir: Path, system: str,
                vendor: str = "otel", settings: IngestSettings | None = None, progress: Any = None,
                source_system: str | None = None) -> Any:
    """Grade every run found in ``spans`` into ``run_dir``; returns the engine's RunSummary.

    Spans exported by Baton name their system (``baton.system``); when they hold several,
    ``source_system`` picks one (a BatonError lists them otherwise)."""
    import asyncio

    from baton.engine import Matrix, run_matrix
    from baton.errors import BatonError

    by_id = {t.id: t for t in tasks}
    runs = [r for r in ingest(spans, by_id, system=system, settings=settings) if r.trace.mode == "system"]
    sources = sorted({r.source_system for r in runs if r.source_system})
    if source_system is not None:
        runs = [r for r in runs if r.source_system == source_system]
        if not runs:
            raise BatonError(f"no trace of system {source_system!r} among the spans (systems: {', '.join(sources)})")
    elif len(sources) > 1:
        raise BatonError(f"the spans hold runs of several systems ({', '.join(sources)}); pick one "
                         f"(--source-system NAME)")
    chosen = sorted({r.task_id for r in runs})
    trials = max(r.trial for r in runs) + 1
    simulated = any(r.trace.simulated for r in runs)
    profile = VendorProfile(name=vendor, kind="sim" if simulated else "openai", model=vendor,
                            base_url="http://127.0.0.1:9/unused")
    config = SystemConfig(name=system, architecture=ARCHITECTURE,
                          description="graded from its OpenTelemetry spans")
    matrix = Matrix(tasks=[by_id[t] for t in chosen], systems=[config], vendors=[vendor], trials=trials)
    lookup = {(r.task_id, r.trial): r for r in runs}
    return asyncio.run(run_matrix(matrix, profiles={vendor: profile}, run_dir=run_dir, concurrency=8,
                                  use_cache=False, runner=_runner(lookup), clients=object(), grade_worker=False,
                                  progress=progress))
