"""CPU the simulated vendor adds per call: its behaviour (oracle + mistakes + wire body), in process.

Records every request the three reference systems send while running the golden set on a profile
(default ``sim-frontier``, in process), then replays the recorded requests through
:func:`baton.sim.behaviour.respond` ``--repeat`` times and reports the CPU time per call
(``time.process_time``): mean, median, p95 and by kind of request (structured output, tool step,
reply). The HTTP layer (Starlette + uvicorn) is not included: ``bench/overhead.py`` measures the
transport. The process's CPU time (start-up included) is printed too; run it under
``/usr/bin/time`` for the whole process's wall time.

    python bench/sim_cpu.py [--fixtures fixtures] [--profile sim-frontier] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from baton.call_context import current_call
from baton.fixtures import load_tasks
from baton.runners import run_task
from baton.sim.behaviour import respond
from baton.sim.inprocess import InProcessPool, InProcessSimClient
from baton.sim.knobs import SimKnobs
from baton.systems import BUILTIN_SYSTEMS
from baton.task import GoldenTask
from baton.vendor_config import builtin_profiles

STARTED = time.perf_counter()  # after the imports above
REPO = Path(__file__).resolve().parents[1]
Recorded = tuple[dict[str, Any], GoldenTask]


class RecordingPool(InProcessPool):
    """An in-process pool whose clients keep every request body they send."""

    def __init__(self, *args: Any, log: list[Recorded], tasks_by_id: dict[str, GoldenTask], **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.log, self.tasks_by_id = log, tasks_by_id

    def client(self, vendor: str) -> InProcessSimClient:
        client = super().client(vendor)
        pool = self
        if not getattr(client, "_recording", False):
            post = client._post

            async def recording_post(c: Any, body: dict[str, Any], attempt: int) -> dict[str, Any]:
                context = current_call.get()
                assert context is not None
                pool.log.append((body, pool.tasks_by_id[context.task_id]))
                return await post(c, body, attempt)

            client._post = recording_post  # type: ignore[method-assign]
            client._recording = True  # type: ignore[attr-defined]
        return client


def _kind(body: dict[str, Any]) -> str:
    if "response_format" in body or isinstance(body.get("tool_choice"), dict):
        return "structured (route, verify)"
    if body.get("tools"):
        return "tool step (act)"
    return "reply (draft, answer, naive, rag)"


async def record(tasks: list[GoldenTask], profile: str) -> list[Recorded]:
    log: list[Recorded] = []
    pool = RecordingPool(builtin_profiles(), tasks, log=log, tasks_by_id={t.id: t for t in tasks})
    for system in ("naive", "rag", "multi_agent"):
        for task in tasks:
            await run_task(task, BUILTIN_SYSTEMS[system], profile, clients=pool)
    return log


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixtures", type=Path, default=REPO / "fixtures")
    parser.add_argument("--profile", default="sim-frontier")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    knobs = SimKnobs.model_validate(builtin_profiles()[args.profile].sim)
    knobs = knobs.model_copy(update={"rate_429": 0.0, "rate_500": 0.0, "rate_timeout": 0.0})
    tasks = load_tasks(args.fixtures)
    recorded = asyncio.run(record(tasks, args.profile))
    per_call: list[float] = []
    by_kind: dict[str, list[float]] = {}
    for _ in range(args.repeat):
        for body, task in recorded:
            start = time.process_time()
            respond(body, knobs, task)
            spent = time.process_time() - start
            per_call.append(spent)
            by_kind.setdefault(_kind(body), []).append(spent)
    per_call.sort()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"machine: {platform.platform()}; Python {platform.python_version()}")
    print(f"workload: {len(recorded)} recorded requests ({len(tasks)} tasks x naive, rag, multi_agent on "
          f"{args.profile}), each replayed {args.repeat} times through baton.sim.behaviour.respond")
    print(f"CPU per simulated call: mean {statistics.mean(per_call) * 1e3:.3f} ms, median "
          f"{statistics.median(per_call) * 1e3:.3f} ms, p95 {per_call[int(0.95 * len(per_call))] * 1e3:.3f} ms "
          f"(target < 0.2 ms mean)")
    for kind, values in sorted(by_kind.items()):
        print(f"  {kind:<36} {statistics.mean(values) * 1e3:.3f} ms mean over {len(values)} calls")
    print(f"whole process so far (imports, recording runs, timing): CPU {usage.ru_utime + usage.ru_stime:.2f} s; "
          f"wall {time.perf_counter() - STARTED:.2f} s after imports (run under /usr/bin/time for start-up too)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
