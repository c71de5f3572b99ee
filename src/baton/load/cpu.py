"""CPU time of the event loop, attributed to the run (and hop) each loop step worked for.

While a :class:`LoopCpuMeter` is installed, every callback the asyncio loop runs (a task step,
an I/O callback) is timed with the thread's CPU clock; if the callback's context belongs to a
run (:func:`track_run`), its CPU time is recorded on that run with the step's end time and, when
the runner declares one (``baton.call_context.current_call``), the hop. Runs started inside a
run's task inherit its context, so sub-tasks of a run are counted for it.

This measures the CPU of the process driving the system (Baton's runner, the client, JSON and
HTTP work), which is the CPU serving layer the load test is about; the vendor's CPU is not in it.
"""

from __future__ import annotations

import asyncio.events
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from baton.call_context import current_call

__all__ = ["LoopCpuMeter", "RunCpu", "track_run"]


@dataclass(slots=True)
class RunCpu:
    """CPU steps of one run: (monotonic end time, CPU seconds, hop name or None)."""

    steps: list[tuple[float, float, str | None]] = field(default_factory=list)

    @property
    def total_s(self) -> float:
        return sum(cpu for _, cpu, _ in self.steps)


_RUN: ContextVar[RunCpu | None] = ContextVar("baton_load_run", default=None)


def track_run() -> RunCpu:
    """Start recording the CPU of the current task (call at the top of the run's coroutine)."""
    run = RunCpu()
    _RUN.set(run)
    return run


class LoopCpuMeter:
    """Installs the per-callback CPU clock on asyncio's ``Handle`` for the duration of a ``with``.

    Process-wide while installed: use it only in a process dedicated to the measurement."""

    def __init__(self) -> None:
        self._original: Any = None
        self.unattributed_s = 0.0

    def __enter__(self) -> LoopCpuMeter:
        handle = asyncio.events.Handle
        original = handle._run
        meter = self
        thread_time, perf_counter = time.thread_time, time.perf_counter

        def _run(self: asyncio.events.Handle) -> None:
            start = thread_time()
            try:
                original(self)
            finally:
                cpu = thread_time() - start
                ctx = self._context
                run = ctx.get(_RUN) if ctx is not None else None
                if run is None:
                    meter.unattributed_s += cpu
                else:
                    call = ctx.get(current_call)
                    run.steps.append((perf_counter(), cpu, call.hop if call is not None else None))

        self._original = original
        handle._run = _run  # type: ignore[method-assign]
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._original is not None:
            asyncio.events.Handle._run = self._original  # type: ignore[method-assign]
            self._original = None
