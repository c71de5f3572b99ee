"""Peak memory of the run engine at 1,000 versus 10,000 task runs: ``python bench/memory.py``.

Each size runs in a fresh child process: the ``naive`` system over 100 distinct task variants
(trials make up the count), an in-process stub model client (so no server shares the process),
the real runner and grader (inline, in the measured process), and the results store writing
every result with its full trace to ``results.jsonl``. The child reports its peak RSS
(``ru_maxrss``) and, with ``--tracemalloc``, the peak of traced Python allocations.
Target: growth from 1,000 to 10,000 runs under 50 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BASE_TASK = REPO / "fixtures" / "billing" / "tasks" / "refund-unauthorized-4471.yaml"
VENDOR = "stub"
DISTINCT_TASKS = 100


def machine_info() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"machine: {platform.platform()}; {os.cpu_count()} CPUs ({cpu}); "
            f"Python {platform.python_version()} ({platform.python_implementation()})")


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)


def child(runs: int, trace_allocations: bool) -> dict[str, float]:
    from baton.engine import Matrix, run_matrix
    from baton.fixtures import load_tasks
    from baton.model import ScriptedClient
    from baton.systems import BUILTIN_SYSTEMS
    from baton.vendors import VendorProfile

    (base,) = load_tasks(BASE_TASK)
    slug = base.id.split("/", 1)[1]
    tasks = [base.model_copy(update={"id": f"{base.domain}/{slug}-{i:03d}", "request": f"{base.request} ({i})"})
             for i in range(DISTINCT_TASKS)]
    answer = ("I'm sorry, I can't see your account, but a refund for an unauthorized charge is issued "
              "to the original payment method within 5-7 business days.")

    class StubPool:
        def __init__(self) -> None:
            self._client = ScriptedClient(lambda messages, options: answer, vendor=VENDOR)

        def client(self, name: str) -> ScriptedClient:
            self._client.calls.clear()  # the stub keeps a call log; the engine must not need it
            return self._client

    profile = VendorProfile(name=VENDOR, kind="sim", model=VENDOR, max_concurrency=50)
    matrix = Matrix(tasks=tasks, systems=[BUILTIN_SYSTEMS["naive"]], vendors=[VENDOR],
                    trials=runs // DISTINCT_TASKS, seed=0)
    if trace_allocations:
        tracemalloc.start()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        summary = asyncio.run(run_matrix(matrix, profiles={VENDOR: profile}, run_dir=Path(tmp) / "run",
                                         concurrency=50, clients=StubPool(), grade_worker=False))
        from baton.store import results_path

        size = results_path(Path(tmp) / "run").stat().st_size
    wall = time.perf_counter() - started
    assert summary.completed == runs, summary
    out = {"runs": runs, "wall_s": wall, "peak_rss_mb": _peak_rss_mb(), "results_mb": size / 2**20}
    if trace_allocations:
        out["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated run counts (multiples of 100)")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations (slower)")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child, args.tracemalloc)))
        return 0

    print(machine_info())
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        cmd = [sys.executable, __file__, "--child", str(size)] + (["--tracemalloc"] if args.tracemalloc else [])
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(row)
        traced = f", traced peak {row['traced_peak_mb']:.1f} MB" if "traced_peak_mb" in row else ""
        print(f"{row['runs']:>6} runs: peak RSS {row['peak_rss_mb']:.1f} MB{traced}, "
              f"results file {row['results_mb']:.1f} MB, {row['wall_s']:.1f} s")
    if len(rows) >= 2:
        growth = rows[-1]["peak_rss_mb"] - rows[0]["peak_rss_mb"]
        verdict = "meets" if growth < 50 else "misses"
        print(f"peak RSS growth {rows[0]['runs']} -> {rows[-1]['runs']} runs: {growth:+.1f} MB "
              f"({verdict} the < 50 MB target)")
        if "traced_peak_mb" in rows[0]:
            print(f"traced peak growth: {rows[-1]['traced_peak_mb'] - rows[0]['traced_peak_mb']:+.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
