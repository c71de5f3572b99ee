"""A 100,000-run directory: its size on disk, and ``baton report`` on it (wall time, peak memory).

``python bench/scale_store.py [--runs 100000] [--base-trials 1] [--batch 8] [--plain]``

How the runs are made (a real 100,000-run matrix takes hours on a 2-core machine):

1. A real run: every task of ``fixtures/`` on ``naive``, ``rag`` and ``multi_agent`` in system
   mode and every isolated-hop mode the systems support, against the simulated vendor
   ``sim-frontier`` over loopback HTTP, ``--base-trials`` trials, through ``baton.engine.run_matrix``
   (real runners, real graders).
2. Replication: each of those results is written again under a distinct trial index (key and
   trace), until ``--runs`` results are stored, through ``ResultStore.append`` in batches of
   ``--batch`` results (a compressed store makes one zstd frame per batch, as the engine does
   per write). The manifest is the one of the same matrix with that many trials, so the report
   sees a consistent run.
3. Measurement: the directory's size, then ``baton report DIR`` in a fresh process (start-up
   included), its wall time and peak RSS (``getrusage(RUSAGE_CHILDREN)``).

``--plain`` stores uncompressed ``results.jsonl`` instead, for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from memory import machine_info  # noqa: E402


def base_run(run_dir: Path, trials: int) -> tuple[object, object]:
    from baton.engine import run_matrix
    from baton.matrix import ISOLATED_HOPS, plan_run

    plan = plan_run(REPO, systems="naive,rag,multi_agent", vendors="sim-frontier", trials=trials, seed=0,
                    modes=["system", *(f"isolated:{h}" for h in ISOLATED_HOPS)])
    summary = asyncio.run(run_matrix(plan.matrix, profiles=plan.profiles, run_dir=run_dir, concurrency=32,
                                     use_cache=False))
    return plan, summary


def replicate(base_dir: Path, plan: object, out: Path, runs: int, base_trials: int, batch: int,
              compress: bool) -> None:
    from dataclasses import replace

    from baton.engine import prepare_manifest
    from baton.store import ResultStore, iter_records

    records = [json.loads(line) for _, line in iter_records(base_dir)]
    copies = -(-runs // len(records))
    matrix = replace(plan.matrix, trials=base_trials * copies)  # type: ignore[attr-defined]
    manifest = prepare_manifest(matrix, plan.profiles, project_dir=REPO)  # type: ignore[attr-defined]
    manifest = manifest.model_copy(update={"total_runs": runs})
    written = 0
    pending: list[bytes] = []
    with ResultStore.open(out, manifest, compress=compress) as store:
        for copy in range(copies):
            for record in records:
                if written == runs:
                    break
                trial = record["key"]["trial"] + copy * base_trials
                record["key"]["trial"] = trial
                record["trace"]["trial"] = trial
                pending.append(json.dumps(record, separators=(",", ":")).encode() + b"\n")
                written += 1
                if len(pending) == batch:
                    store.append(b"".join(pending))
                    pending = []
        if pending:
            store.append(b"".join(pending))


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def measure_report(run_dir: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MB) of ``baton report`` in a fresh process."""
    baton = Path(sys.executable).with_name("baton")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        subprocess.run([str(baton), "report", str(run_dir), "--out", out], check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--base-trials", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8, help="results per append (per zstd frame)")
    parser.add_argument("--plain", action="store_true", help="store uncompressed results.jsonl")
    parser.add_argument("--keep", type=Path, default=None, help="write the run directory here and keep it")
    parser.add_argument("--report-only", type=Path, default=None, metavar="RUN_DIR",
                        help="only measure baton report on an existing run directory")
    args = parser.parse_args(argv)
    print(machine_info())
    if args.report_only is not None:
        wall, cpu, peak = measure_report(args.report_only)
        print(f"baton report: {wall:.1f} s wall (whole process, start-up included), {cpu:.1f} s CPU, "
              f"peak RSS {peak:.0f} MB; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        plan, summary = base_run(Path(tmp) / "base", args.base_trials)
        print(f"base run: {summary.line()}")  # type: ignore[attr-defined]
        out = args.keep or Path(tmp) / "scaled"
        started = time.perf_counter()
        replicate(Path(tmp) / "base", plan, out, args.runs, args.base_trials, args.batch, not args.plain)
        print(f"replicated to {args.runs} runs in {time.perf_counter() - started:.1f} s "
              f"({'plain results.jsonl' if args.plain else f'zstd, {args.batch} results per frame'})")
        size = dir_size(out)
        print(f"run directory: {size / 1e6:.1f} MB ({size / args.runs:.0f} bytes per run)")
        wall, cpu, peak = measure_report(out)
        load = os.getloadavg()[0]
        print(f"baton report: {wall:.1f} s wall (whole process, start-up included), {cpu:.1f} s CPU, "
              f"peak RSS {peak:.0f} MB; load average {load:.2f} on {os.cpu_count()} CPUs")
        print(f"targets: < 1000 MB {'met' if size < 1e9 else 'MISSED'}; < 60 s {'met' if wall < 60 else 'MISSED'}; "
              f"< 2048 MB {'met' if peak < 2048 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
