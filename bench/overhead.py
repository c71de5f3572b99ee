"""Baton's overhead over the bare ``openai`` client: ``python bench/overhead.py``.

Workload: N single-call tasks (distinct variants of a fixture task, so nothing repeats) against
the simulated vendor over loopback HTTP at a fixed latency, with a fixed concurrency.

* **bare**: one ``openai.AsyncOpenAI`` client making the same N calls (the naive system's
  messages) with ``asyncio.gather`` under a semaphore of the same size.
* **baton**: the ``naive`` system through the run engine: each task run, graded, and its result
  with the full trace appended to ``results.jsonl`` (fsync per batch); response cache bypassed.

The simulated vendor runs in its own process, so its CPU does not compete with the measured
process. The two sides alternate for ``--repeat`` rounds; the medians and their ratio are
printed, with the CPU time per call of the measured process and of Baton's grading worker.
Target: baton <= 1.15x bare wall time.

With ``--otel`` a third side runs in every round: the baton side with OpenTelemetry export on,
as ``baton run --otel-file`` does it (an exporter process follows ``results.jsonl`` during the run
and writes every run's spans as OTLP JSON lines; the timing ends when the last span is written).
Its wall time is compared with the baton side's in each round (the verdict is the median of these
paired ratios, target under 5% more, with their quartiles); the exporter's own CPU per run, the
CPU of the measured process and its children with export off and on, and the load average of each
round are printed next to it, since on a busy machine the wall times swing more than the cost. The export of a
whole run directory afterwards (``baton otel export``) is timed too, and with export off the hook
(settings read and checked, nothing imported) is timed as well.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import os
import platform
import pstats
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai

from baton import __version__
from baton.call_context import HEADER, CallContext, calling_as
from baton.client import ClientPool
from baton.engine import Matrix, run_matrix
from baton.fixtures import load_tasks
from baton.runners import prompts, run_task
from baton.runners.context import call_seed
from baton.systems import BUILTIN_SYSTEMS
from baton.task import GoldenTask
from baton.vendors import VendorProfile

REPO = Path(__file__).resolve().parent.parent
BASE_TASK = REPO / "fixtures" / "billing" / "tasks" / "refund-unauthorized-4471.yaml"
VENDOR = "bench-sim"


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
            f"Python {platform.python_version()} ({platform.python_implementation()}); "
            f"baton {__version__}, openai {openai.__version__}, httpx {httpx.__version__}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def sim_server(latency_ms: float, runs: int) -> Iterator[str]:
    """The simulated vendor in a child process, answering for the ``runs`` task variants; yields its base URL."""
    port = _free_port()
    code = ("import sys; sys.path.insert(0, %r); from overhead import variants; "
            "from baton.sim.knobs import SimKnobs; from baton.sim.server import serve_forever; "
            f"serve_forever({{{VENDOR!r}: SimKnobs(latency_ms={latency_ms!r})}}, '127.0.0.1', {port}, "
            f"variants({runs}))") % str(Path(__file__).resolve().parent)
    proc = subprocess.Popen([sys.executable, "-c", code])
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the simulated vendor did not start")
            time.sleep(0.05)
        yield f"{base}/v1"
    finally:
        proc.terminate()
        proc.wait(5)


def variants(n: int, distinct_sources: bool = False) -> list[GoldenTask]:
    """``n`` distinct tasks: the base task with a numbered id and request. They share the base
    task's documents, tools, routes and world, as the tasks of one domain folder do; with
    ``distinct_sources`` every variant has its own (a numbered line in each document, tool and
    route description), the worst case for loading and grading."""
    (base,) = load_tasks(BASE_TASK)
    slug = base.id.split("/", 1)[1]
    out = []
    for i in range(n):
        update: dict[str, object] = {"id": f"{base.domain}/{slug}-{i:05d}", "request": f"{base.request} (ticket {i})"}
        if distinct_sources:
            update["documents"] = [d.model_copy(update={"text": f"{d.text}\n\nRevision {i}."}) for d in base.documents]
            update["tools"] = [t.model_copy(update={"description": f"{t.description} (revision {i})"})
                               for t in base.tools]
            update["routes"] = [r.model_copy(update={"description": f"{r.description} (revision {i})"})
                                for r in base.routes]
        out.append(base.model_copy(update=update))
    return out


async def bare(tasks: list[GoldenTask], base_url: str, concurrency: int) -> None:
    client = openai.AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)
    sem = asyncio.Semaphore(concurrency)

    async def one(task: GoldenTask) -> str:
        async with sem:  # the header the simulated vendor needs, as Baton's client sends it
            completion = await client.chat.completions.create(
                model=VENDOR, messages=prompts.naive(task), temperature=0.0, seed=call_seed(0, 0),
                extra_headers={HEADER: CallContext(task.id, task.version).to_header()})
            return completion.choices[0].message.content or ""

    try:
        answers = await asyncio.gather(*(one(t) for t in tasks))
        assert all(answers)
    finally:
        await client.close()


async def baton(tasks: list[GoldenTask], base_url: str, concurrency: int, run_dir: Path) -> None:
    profile = _profile(base_url, concurrency)
    matrix = Matrix(tasks=tasks, systems=[BUILTIN_SYSTEMS["naive"]], vendors=[VENDOR], trials=1, seed=0)
    summary = await run_matrix(matrix, profiles={VENDOR: profile}, run_dir=run_dir, concurrency=concurrency,
                               use_cache=False)
    assert summary.completed == len(tasks) and summary.errors == 0, summary


def _profile(base_url: str, concurrency: int) -> VendorProfile:
    return VendorProfile(name=VENDOR, kind="sim", base_url=base_url, model=VENDOR, max_concurrency=concurrency,
                         retries=0)


async def client_only(tasks: list[GoldenTask], base_url: str, concurrency: int) -> None:
    """Layer: Baton's VendorClient making the calls, nothing else."""
    async with ClientPool({VENDOR: _profile(base_url, concurrency)}) as pool:
        client = pool.client(VENDOR)

        async def one(task: GoldenTask) -> None:
            with calling_as(CallContext(task.id, task.version)):  # as run_task sets it
                await client.chat(prompts.naive(task), seed=call_seed(0, 0))

        await asyncio.gather(*(one(t) for t in tasks))


async def runner_only(tasks: list[GoldenTask], base_url: str, concurrency: int) -> None:
    """Layer: ``run_task`` (naive) through the VendorClient, no engine, grading or storing."""
    sem = asyncio.Semaphore(concurrency)
    async with ClientPool({VENDOR: _profile(base_url, concurrency)}) as pool:
        async def one(task: GoldenTask) -> None:
            async with sem:
                await run_task(task, BUILTIN_SYSTEMS["naive"], VENDOR, clients=pool)

        await asyncio.gather(*(one(t) for t in tasks))


async def baton_inline(tasks: list[GoldenTask], base_url: str, concurrency: int, run_dir: Path) -> None:
    """Layer: the engine grading in the event loop instead of a worker process."""
    matrix = Matrix(tasks=tasks, systems=[BUILTIN_SYSTEMS["naive"]], vendors=[VENDOR], trials=1, seed=0)
    await run_matrix(matrix, profiles={VENDOR: _profile(base_url, concurrency)}, run_dir=run_dir,
                     concurrency=concurrency, use_cache=False, grade_worker=False)


def layers(tasks: list[GoldenTask], url: str, concurrency: int, tmp: Path, repeat: int) -> None:
    """CPU of each layer between the bare client and the full engine."""
    sides = [("bare AsyncOpenAI", bare, ()), ("VendorClient", client_only, ()),
             ("run_task (naive)", runner_only, ()), ("engine, grading in a worker", baton, ("w",)),
             ("engine, grading inline", baton_inline, ("i",))]
    cpu: dict[str, list[float]] = {name: [] for name, _, _ in sides}
    for round_ in range(repeat):
        for name, fn, extra in sides:
            args = (tasks, url, concurrency) + tuple(tmp / f"layer-{e}{round_}" for e in extra)
            cpu[name].append(timed(fn, *args)[1])
    print("CPU of the measured process per call, by layer (median of rounds):")
    base = statistics.median(cpu["bare AsyncOpenAI"])
    for name, samples in cpu.items():
        value = statistics.median(samples)
        print(f"  {name:<30} {value / len(tasks) * 1000:.2f} ms  ({value / base:.2f}x bare)")


def timed(fn, *args) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    """Wall time, CPU of this process, and CPU of the child processes that ended meanwhile (the
    grading worker; the simulated vendor runs until the end and is not counted)."""
    wall, cpu, children = time.perf_counter(), time.process_time(), _children_cpu()
    asyncio.run(fn(*args))
    return time.perf_counter() - wall, time.process_time() - cpu, _children_cpu() - children


async def baton_otel(tasks: list[GoldenTask], base_url: str, concurrency: int, run_dir: Path) -> None:
    """The baton side with OpenTelemetry export on, streamed while the run goes on (``--otel-file``)."""
    from baton.otel.settings import OtelSettings
    from baton.otel.stream import StreamingExport

    with StreamingExport(OtelSettings(file=run_dir.parent / f"{run_dir.name}-spans.jsonl"), run_dir) as stream:
        await baton(tasks, base_url, concurrency, run_dir)
    assert stream.sent == 2 * len(tasks), stream.sent
    DRAINS.append(stream.drain_s)
    EXPORTER_CPU.append(stream.cpu_s)


DRAINS: list[float] = []
"""Per streamed round: seconds the run waited, after its last result was stored, for the exporter."""
EXPORTER_CPU: list[float] = []
"""Per streamed round: CPU seconds of the exporter process (it reports its own ``process_time``)."""


def otel_export(run_dir: Path, out: Path) -> tuple[float, float, int]:
    """Wall and CPU time of exporting a whole stored ``run_dir`` afterwards (``baton otel export``)."""
    from baton.otel.export import export_run_dir
    from baton.otel.settings import OtelSettings

    wall, cpu = time.perf_counter(), time.process_time()
    spans = export_run_dir(run_dir, OtelSettings(file=out))
    return time.perf_counter() - wall, time.process_time() - cpu, spans


def otel_off_cost(run_dir: Path) -> float:
    """Seconds the run command's export hook takes when export is off (settings read and checked)."""
    import baton.matrix  # noqa: F401 - what baton run has imported by then: not part of the cost
    from baton.commands.otel import exporting
    from baton.otel.settings import load_otel_settings

    start = time.perf_counter()
    with exporting(load_otel_settings(REPO), run_dir):
        pass
    return time.perf_counter() - start


def _print_otel(results: dict[str, list[tuple[float, float, float]]], runs: int, loads: list[float]) -> None:
    """The cost of streamed export: paired wall-time ratios, the exporter's CPU, the CPU totals."""
    paired = sorted(o[0] / b[0] - 1 for o, b in zip(results["otel"], results["baton"], strict=True))
    median = statistics.median(paired)
    quartiles = statistics.quantiles(paired, n=4) if len(paired) > 1 else [median, median, median]
    share = statistics.median(s[0] for s in results["otel"]) / statistics.median(s[0] for s in results["baton"]) - 1
    print(f"otel export on, streamed during the run ({2 * runs} spans, OTLP JSON lines), {len(paired)} rounds: "
          f"wall time {median:+.1%} median of paired rounds (quartiles {quartiles[0]:+.1%} .. {quartiles[2]:+.1%}; "
          f"{sum(p < 0.05 for p in paired)} of {len(paired)} rounds under +5%), {share:+.1%} median vs median: "
          f"{'meets' if median < 0.05 else 'misses'} the < 5% target; load average (1 min) at the rounds' "
          f"start {min(loads):.1f}-{max(loads):.1f}")
    exporter = EXPORTER_CPU[1:]  # the first is the warm-up's
    per_run = statistics.median(exporter) / runs * 1000
    bound = statistics.median(c / b[0] for c, b in zip(exporter, results["baton"], strict=True))
    print(f"exporter process CPU: {per_run:.3f} ms per run (median of rounds; rounds: "
          f"{', '.join(f'{c / runs * 1000:.3f}' for c in exporter)}); as a share of baton's wall time "
          f"{bound:.1%} (what export could add if each of its CPU-seconds displaced the run's)")
    total = {name: statistics.median(s[1] + s[2] for s in results[name]) / runs * 1000 for name in ("baton", "otel")}
    print(f"CPU per run, measured process + children (grading worker, exporter): off {total['baton']:.2f} ms, "
          f"on {total['otel']:.2f} ms ({total['otel'] / total['baton'] - 1:+.1%}); the exporter's share of the "
          f"total with export on {per_run / total['otel']:.1%}")
    drain = statistics.median(DRAINS[1:])
    print(f"waiting for the exporter after the run's last result: median {drain * 1000:.0f} ms "
          f"({drain / statistics.median(s[0] for s in results['baton']):.1%} of baton's median wall time)")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--repeat", type=int, default=3, help="alternating rounds (medians reported)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one baton round")
    parser.add_argument("--otel", action="store_true",
                        help="also time the OpenTelemetry export of each baton round (needs baton-evals[otel])")
    parser.add_argument("--layers", action="store_true",
                        help="also measure the CPU of each layer (client, runner, engine inline/worker)")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()[0]
    print(machine_info())
    print(f"workload: {args.runs} single-call tasks, simulated vendor in a separate process over loopback "
          f"HTTP at {args.latency_ms:g} ms, concurrency {args.concurrency}; latency bound "
          f"{args.runs / args.concurrency * args.latency_ms / 1000:.2f} s")
    tasks = variants(args.runs)
    with sim_server(args.latency_ms, args.runs) as url, tempfile.TemporaryDirectory() as tmp:
        # warm up both paths (imports, connection set-up, pydantic schema builds)
        timed(bare, tasks[:100], url, args.concurrency)
        timed(baton, tasks[:100], url, args.concurrency, Path(tmp) / "warmup")
        results: dict[str, list[tuple[float, float, float]]] = {"bare": [], "baton": []}
        exports: list[tuple[float, float, int]] = []
        if args.otel:
            timed(baton_otel, tasks[:100], url, args.concurrency, Path(tmp) / "warmup-otel")
            results["otel"] = []
        loads: list[float] = []
        for round_ in range(args.repeat):
            loads.append(os.getloadavg()[0])
            results["bare"].append(timed(bare, tasks, url, args.concurrency))
            sides = [("baton", baton, f"run{round_}")]
            if args.otel:  # which of the two baton sides goes first alternates between rounds
                sides.insert(round_ % 2, ("otel", baton_otel, f"otel{round_}"))
            for name, fn, out in sides:
                results[name].append(timed(fn, tasks, url, args.concurrency, Path(tmp) / out))
            if args.otel:
                exports.append(otel_export(Path(tmp) / f"run{round_}", Path(tmp) / f"spans{round_}.jsonl"))
        if args.layers:
            layers(tasks, url, args.concurrency, Path(tmp), args.repeat)
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            timed(baton, tasks, url, args.concurrency, Path(tmp) / "profiled")
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
            print(out.getvalue())
    medians, best, cpu_per_call = {}, {}, {}
    for name, samples in results.items():
        medians[name] = statistics.median(s[0] for s in samples)
        best[name] = min(s[0] for s in samples)
        cpu_per_call[name] = statistics.median(s[1] for s in samples) / args.runs * 1000
        worker = statistics.median(s[2] for s in samples) / args.runs * 1000
        rounds = ", ".join(f"{s[0]:.3f}" for s in samples)
        label = {"otel": "baton + otel export"}.get(name, name)
        print(f"{label:>5}: wall median {medians[name]:.3f} s, best {best[name]:.3f} s (rounds: {rounds}); "
              f"CPU of the measured process {cpu_per_call[name]:.2f} ms per call"
              + (f", of its child processes (grading worker{', exporter' if name == 'otel' else ''}) "
                 f"{worker:.2f} ms per run" if worker else ""))
    ratio = medians["baton"] / medians["bare"]
    verdict = "meets" if ratio <= 1.15 else "misses"
    print(f"ratio baton/bare: median {ratio:.3f}x ({verdict} the <= 1.15x target), "
          f"best {best['baton'] / best['bare']:.3f}x, CPU {cpu_per_call['baton'] / cpu_per_call['bare']:.3f}x")
    if exports:
        _print_otel(results, args.runs, loads)
        print(f"whole run directory exported afterwards (baton otel export): median "
              f"{statistics.median(e[0] for e in exports):.3f} s wall, {statistics.median(e[1] for e in exports):.3f} s "
              f"CPU ({statistics.median(e[0] for e in exports) / medians['baton']:.1%} of baton's median wall time)")
        with tempfile.TemporaryDirectory() as tmp:
            off = statistics.median(otel_off_cost(Path(tmp)) for _ in range(5))
            print(f"export off: {off * 1e6:.0f} us per baton run command, median of 5 (the settings read; "
                  f"nothing of the export is imported)")
    print(f"load average (1 min) before {load_before:.2f}, after {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
