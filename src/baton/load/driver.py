"""Open-loop load: Poisson arrivals at each offered rate, one step per rate.

Arrivals are scheduled up front from exponential inter-arrival times and fire on the event
loop's clock whether or not earlier runs have finished (an open loop: a closed loop of N workers
would wait for a slot and hide the queueing). Each run's latency is measured from its
*scheduled* arrival, so a loop too busy to start runs on time shows as latency, not as a lower
offered rate. After a step's arrival window the step waits (up to ``drain_s``) for its runs to
finish; runs still going are cancelled and counted as timed out, and arrivals beyond
``max_in_flight`` are shed (counted as errors) so an overloaded step cannot exhaust memory.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from baton.load.cpu import LoopCpuMeter, RunCpu, track_run
from baton.load.stats import HopStats, Percentiles, StepStats, percentiles, saturation
from baton.systems import SystemConfig
from baton.task import GoldenTask
from baton.trace import Trace

__all__ = ["LoadPlan", "RunSample", "attribute_cpu", "poisson_offsets", "run_load"]

Runner = Callable[..., Awaitable[Trace]]


@dataclass(frozen=True)
class LoadPlan:
    """What to drive and how hard: offered rates (runs per second), seconds of arrivals per rate."""

    rates: Sequence[float]
    step_s: float = 10.0
    drain_s: float = 60.0
    max_in_flight: int = 2000
    seed: int = 0
    stop_at_saturation: bool = True
    warmup_s: float = 2.0
    """Seconds of arrivals at the first rate before the first step, not reported (connections,
    imports and caches warm up)."""


@dataclass(frozen=True)
class RunSample:
    """One run under load: latency from its scheduled arrival, its hops, its error if any."""

    latency_s: float
    hops: list[tuple[str, float, float, bool]]  # (hop name, latency s, CPU s, hop error)
    cpu_s: float
    cpu_between_s: float
    error: str | None


def poisson_offsets(rate: float, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """Arrival times in ``[0, duration_s)`` of a Poisson process of ``rate`` per second."""
    expected = rate * duration_s
    gaps = rng.exponential(1.0 / rate, size=int(expected + 6 * np.sqrt(expected) + 16))
    times = np.cumsum(gaps)
    while times[-1] < duration_s:  # astronomically rare: draw more
        times = np.concatenate([times, times[-1] + np.cumsum(rng.exponential(1.0 / rate, size=len(gaps)))])
    return times[times < duration_s]


def attribute_cpu(trace: Trace, run: RunCpu, started: float) -> tuple[list[float], float]:
    """CPU seconds per hop of ``trace``, and CPU outside any hop. A loop step that declared its hop
    (``current_call``) goes to the first hop of that name; any other step goes to the hop whose
    time window (the hops laid end to end from the run's start, by ``latency_s``) holds its end."""
    hops = trace.hops
    per_hop = [0.0] * len(hops)
    between = 0.0
    ends: list[float] = []
    t = started
    for hop in hops:
        t += hop.latency_s
        ends.append(t)
    first_of = {}
    for index, hop in enumerate(hops):
        first_of.setdefault(hop.name, index)
    for end, cpu, name in run.steps:
        index = first_of.get(name) if name is not None else None
        if index is None:
            index = bisect.bisect_left(ends, end)
        if index < len(hops):
            per_hop[index] += cpu
        else:
            between += cpu
    return per_hop, between


class _Step:
    def __init__(self, runner: Runner, tasks: Sequence[GoldenTask], system: SystemConfig, vendor: str,
                 clients: Any, plan: LoadPlan, rate: float, rng: np.random.Generator, first_trial: int) -> None:
        self.runner, self.tasks, self.system, self.vendor, self.clients = runner, tasks, system, vendor, clients
        self.plan, self.rate, self.rng, self.first_trial = plan, rate, rng, first_trial
        self.samples: list[RunSample] = []
        self.in_flight: set[asyncio.Task[None]] = set()
        self.shed = 0

    async def run(self) -> tuple[int, float, float, int]:
        loop = asyncio.get_running_loop()
        offsets = poisson_offsets(self.rate, self.plan.step_s, self.rng)
        picks = self.rng.integers(0, len(self.tasks), size=len(offsets))
        cpu_start = time.thread_time()
        t0 = loop.time() + 0.01
        for i, (offset, pick) in enumerate(zip(offsets, picks, strict=True)):
            loop.call_at(t0 + float(offset), self._arrive, i, int(pick), t0 + float(offset))
        await asyncio.sleep(max(t0 + self.plan.step_s - loop.time(), 0.0))
        timed_out = 0
        if self.in_flight:
            _, pending = await asyncio.wait(set(self.in_flight), timeout=self.plan.drain_s)
            for task in pending:
                task.cancel()
            timed_out = len(pending)
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        elapsed = loop.time() - t0
        return len(offsets), elapsed, time.thread_time() - cpu_start, timed_out

    def _arrive(self, index: int, pick: int, scheduled: float) -> None:
        if len(self.in_flight) >= self.plan.max_in_flight:
            self.shed += 1
            return
        task = asyncio.get_running_loop().create_task(self._one(index, self.tasks[pick], scheduled))
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)

    async def _one(self, index: int, task: GoldenTask, scheduled: float) -> None:
        run = track_run()
        started = time.perf_counter()
        trial = self.first_trial + index
        try:
            trace = await self.runner(task, self.system, self.vendor, clients=self.clients, trial=trial,
                                      seed=self.plan.seed * 1_000_003 + trial, mode="system")
            error = f"infra: {trace.infra_error.split(':')[0][:60]}" if trace.infra_error else None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - an adapter's crash is a load-test error, not the end of the test
            trace, error = None, f"runner raised {type(exc).__name__}"
        latency = asyncio.get_running_loop().time() - scheduled
        if trace is None:
            self.samples.append(RunSample(latency, [], run.total_s, run.total_s, error))
            return
        per_hop, between = attribute_cpu(trace, run, started)
        hops = [(hop.name, hop.latency_s, cpu, hop.error is not None) for hop, cpu in zip(trace.hops, per_hop, strict=True)]
        self.samples.append(RunSample(latency, hops, run.total_s, between, error))


def _summarise(step: _Step, arrivals: int, elapsed: float, loop_cpu: float, timed_out: int) -> StepStats:
    samples = step.samples
    ok = [s for s in samples if s.error is None]
    kinds = Counter(s.error for s in samples if s.error is not None)
    if step.shed:
        kinds["shed (too many in flight)"] += step.shed
    if timed_out:
        kinds["timed out after the drain window"] += timed_out
    by_hop: dict[str, list[tuple[float, float, bool]]] = defaultdict(list)
    order: list[str] = []
    for sample in ok:
        for name, latency, cpu, error in sample.hops:
            if name not in by_hop:
                order.append(name)
            by_hop[name].append((latency, cpu, error))
    hops = [HopStats(name, percentiles([v[0] for v in by_hop[name]]),
                     1000 * float(np.mean([v[1] for v in by_hop[name]])), sum(v[2] for v in by_hop[name]))
            for name in order]
    window = elapsed
    return StepStats(
        offered_rate=step.rate, duration_s=step.plan.step_s, arrivals=arrivals, completed=len(ok),
        errors=sum(kinds.values()), shed=step.shed, timed_out=timed_out, elapsed_s=elapsed,
        throughput=len(ok) / window if window else 0.0, end_to_end=percentiles([s.latency_s for s in ok]),
        hops=hops, cpu_ms_per_run=1000 * float(np.mean([s.cpu_s for s in ok])) if ok else None,
        cpu_ms_between_hops=1000 * float(np.mean([s.cpu_between_s for s in ok])) if ok else None,
        loop_cpu_utilisation=loop_cpu / elapsed if elapsed else 0.0, error_kinds=dict(kinds))


async def run_load(tasks: Sequence[GoldenTask], system: SystemConfig, vendor: str, *, clients: Any,
                   plan: LoadPlan, runner: Runner | None = None,
                   on_step: Callable[[StepStats], None] | None = None,
                   vendor_cpu: Callable[[], float | None] | None = None) -> list[StepStats]:
    """Drive ``system`` at each rate of ``plan`` in turn; stop after the first saturated step
    (unless ``plan.stop_at_saturation`` is false). Returns one :class:`StepStats` per step.

    ``vendor_cpu``: the vendor process's CPU seconds so far (a local simulated vendor), to report
    its CPU use per step: when it nears one core, the vendor rather than the system saturated."""
    if runner is None:
        from baton.runners import run_task as runner
    if not tasks:
        raise ValueError("run_load: no tasks")
    rng = np.random.default_rng(plan.seed)
    steps: list[StepStats] = []
    baseline: Percentiles | None = None
    trials = 0
    with LoopCpuMeter():
        if plan.warmup_s > 0:
            warm = replace(plan, step_s=plan.warmup_s)
            trials += (await _Step(runner, tasks, system, vendor, clients, warm, plan.rates[0], rng, 0).run())[0]
        for rate in plan.rates:
            step = _Step(runner, tasks, system, vendor, clients, plan, rate, rng, trials)
            vendor_before = vendor_cpu() if vendor_cpu is not None else None
            arrivals, elapsed, loop_cpu, timed_out = await step.run()
            vendor_after = vendor_cpu() if vendor_cpu is not None else None
            trials += arrivals
            stats = _summarise(step, arrivals, elapsed, loop_cpu, timed_out)
            if vendor_before is not None and vendor_after is not None and elapsed > 0:
                stats = replace(stats, vendor_cpu_utilisation=(vendor_after - vendor_before) / elapsed)
            if baseline is None:
                baseline = stats.end_to_end
            saturated, reason = saturation(stats, baseline)
            stats = replace(stats, saturated=saturated, reason=reason)
            steps.append(stats)
            if on_step is not None:
                on_step(stats)
            if saturated and plan.stop_at_saturation:
                break
    return steps
