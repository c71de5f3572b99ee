"""The run engine: runs a :class:`~baton.matrix.Matrix` concurrently into a run directory.

Scheduling. A bounded pool of at most ``concurrency`` runs is fed from one lazy work stream per
vendor (:meth:`Matrix.items_for`), taken round-robin, and a vendor's stream is only drawn from
while that vendor has fewer than ``VendorProfile.max_concurrency`` runs in flight. So a slow or
rate-limited vendor occupies at most its own share of the pool and never stalls the others, and
no more than ``concurrency`` coroutines exist at any time, however large the matrix. Model
calls are limited per vendor a second time by the client (a system whose roles use several
vendors holds a vendor's client slot only while calling it); neither limit is held while
waiting for the other's, so they cannot deadlock.

Results. Each finished run is graded, serialized to one JSON line and handed to a writer that
appends batches to ``results.jsonl`` with ``fsync`` (see :mod:`baton.store`); a run counts as
done only once its batch is durable. The engine keeps running totals (:class:`Tally`), never
the results, so memory does not grow with the matrix. On large matrices grading and
serialization run in a worker process (``grade_worker``), so the event loop's CPU goes to the
model calls: on a CPU-bound workload (many fast calls) grading inline would cost as much CPU
per run as a third of an ``openai`` call.

Resume and cancellation. Keys already in the run directory are skipped, so calling
:func:`run_matrix` again on the same directory completes only what is missing. Cancelling the
task (Ctrl-C under :func:`run_matrix_sync`) cancels the runs in flight, stores every run that had
finished, and closes the clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
import types
from collections import deque
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterator,
    Mapping,
    Sequence,
)
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baton.errors import BatonError
from baton.manifest import Manifest, build_config, build_manifest, with_measurement
from baton.matrix import Matrix, WorkItem, derive_seed, vendors_used
from baton.progress import NullProgress, ProgressReporter, Tally
from baton.result import RESULT_VERSION, RunGrade, RunKey, RunResult
from baton.store import ResultStore
from baton.task import GoldenTask
from baton.trace import Trace
from baton.vendors import VendorProfile

__all__ = [
    "Grader",
    "Matrix",
    "RunSummary",
    "Runner",
    "derive_seed",
    "prepare_manifest",
    "run_matrix",
    "run_matrix_sync",
]

log = logging.getLogger("baton.engine")

Runner = Callable[..., Awaitable[Trace]]
"""``runner(task, system, vendor, *, clients, trial, seed, mode) -> Trace`` (``baton.runners.run_task``)."""
Grader = Callable[[GoldenTask, Trace], RunGrade]
"""``grader(task, trace) -> RunGrade`` (``baton.graders.grade_run``)."""


@dataclass(frozen=True)
class RunSummary:
    """The outcome of :func:`run_matrix`: totals over the whole run directory."""

    run_dir: Path
    run_key: str
    total: int
    resumed: int
    completed: int
    passed: int
    failed: int
    errors: int
    cost_usd: float
    calls: int
    cached_calls: int
    wall_s: float
    cancelled: bool = False
    cells: int = 1  # (system, mode, vendor) combinations: a pass rate only for one (see Tally)

    @property
    def finished(self) -> int:
        return self.resumed + self.completed

    @property
    def missing(self) -> int:
        return max(self.total - self.finished, 0)

    def line(self) -> str:
        """One-line summary for a terminal."""
        graded = self.passed + self.failed
        rate = f" ({self.passed / graded:.1%})" if graded and self.cells == 1 else ""
        parts = [f"{self.finished}/{self.total} runs",
                 f"{self.passed} passed{rate}", f"{self.failed} failed", f"{self.errors} infra errors",
                 f"${self.cost_usd:.4f}", f"{self.cached_calls}/{self.calls} calls cached",
                 f"{self.wall_s:.1f}s"]
        if self.resumed:
            parts.append(f"{self.resumed} from earlier sessions")
        if self.cancelled:
            parts.append(f"interrupted, {self.missing} missing")
        return ", ".join(parts)

    @classmethod
    def from_tally(cls, run_dir: Path, run_key: str, tally: Tally, *, cancelled: bool) -> RunSummary:
        return cls(run_dir=run_dir, run_key=run_key, total=tally.total, resumed=tally.resumed,
                   completed=tally.done, passed=tally.passed, failed=tally.failed, errors=tally.errors,
                   cost_usd=tally.cost_usd, calls=tally.calls, cached_calls=tally.cached_calls,
                   wall_s=time.monotonic() - tally.started, cancelled=cancelled, cells=tally.cells)


def prepare_manifest(matrix: Matrix, profiles: Mapping[str, VendorProfile], *,
                     project_dir: Path | None = None,
                     invocation: Mapping[str, Any] | None = None, use_cache: bool = True,
                     judge: str | None = None) -> Manifest:
    """The manifest of a matrix: configuration (hashed into the run key, measurement options
    included) and environment."""
    config = build_config(matrix.tasks, matrix.systems, vendors_used(matrix, profiles),
                          trials=matrix.trials, seed=matrix.seed, modes=matrix.modes,
                          vendor_limits=matrix.limits_json(), cache=use_cache, judge=judge)
    return build_manifest(config, total_runs=len(matrix), project_dir=project_dir, invocation=invocation)


GRADE_IN_PROCESS_FROM = 500
"""Runs to grade from which :func:`run_matrix` grades in a worker process by default."""


def _default_runner() -> Runner:
    from baton.runners import run_task

    return run_task


def _default_grader() -> Grader:
    from baton.graders import grade_run

    return grade_run


@contextlib.asynccontextmanager
async def _client_pool(profiles: Mapping[str, VendorProfile], use_cache: bool,
                       cache_dir: Path | None, tasks: Sequence[GoldenTask] = ()) -> AsyncIterator[Any]:
    from baton.cache import DEFAULT_CACHE_DIR, ResponseCache
    from baton.client import ClientPool

    cache = ResponseCache(cache_dir or Path(DEFAULT_CACHE_DIR)) if use_cache else None
    try:
        async with ClientPool(profiles, cache=cache, tasks=tasks) as pool:
            yield pool
    finally:
        if cache is not None:
            cache.close()


def _crash_trace(item: WorkItem, exc: BaseException) -> Trace:
    """The trace of a run whose runner raised instead of recording its failure."""
    return Trace(task_id=item.task.id, task_version=item.task.version, system=item.system.name,
                 architecture=item.system.architecture, trial=item.trial, seed=item.seed, mode=item.mode,
                 infra_error=f"runner raised {type(exc).__name__}: {exc}")


Finished = tuple[bytes, str, float, int, int]
"""A stored-to-be result: (JSON line, status, cost in USD, calls, cached calls)."""


def result_line(task: GoldenTask, trace: Trace, grader: Grader, key: RunKey, seed: int,
                trace_json: bytes | None = None, judge: dict[str, Any] | None = None) -> Finished:
    """Grade ``trace`` and serialize its :class:`RunResult` as one JSON line.

    ``trace_json``: the trace already serialized (as it crossed to a grading worker); it is
    spliced into the line instead of serializing the trace a second time."""
    grade = grader(task, trace)
    if judge is not None and grade.status != "error":  # the async graders' results, by name
        from baton.graders.async_graders import apply_async_grades

        grade = apply_async_grades(task, grade, judge)
    usage = trace.usage
    result = RunResult.model_construct(
        version=RESULT_VERSION, key=key, seed=seed, status=grade.status, simulated=trace.simulated,
        grade=grade, trace=trace, usage=usage, latency_s=trace.latency_s,
        finished_at=dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"))
    if trace_json is None:
        line = result.model_dump_json().encode("utf-8") + b"\n"
    else:  # every field but the trace, then the trace: key order is irrelevant to readers
        head = result.model_dump_json(exclude=_TRACE).encode("utf-8")
        line = b"".join((head[:-1], b',"trace":', trace_json, b"}\n"))
    return line, grade.status, usage.cost_usd, usage.calls, usage.cached_calls


_TRACE = {"trace"}
_TRACE_JSON = Trace.__pydantic_serializer__.to_json  # Trace -> compact JSON bytes, as model_dump_json


# --------------------------------------------------------------------------- grading in a worker process

_worker_state: tuple[dict[tuple[str, str], GoldenTask], Grader] | None = None
"""In a grading worker: its tasks by (id, version), and the grader (set by :func:`_init_grading_worker`)."""


def _init_grading_worker(tasks: Sequence[GoldenTask], grader: Grader) -> None:
    """The initializer of a grading worker process (``ProcessPoolExecutor(initializer=...)``).

    Ctrl-C is the parent's to handle (it drains what it sent), so the worker ignores SIGINT; the
    parent blocks SIGINT while it starts the worker, so none arrives before this line. A daemon
    thread waits on the parent's sentinel (a pipe that reaches end-of-file when the parent dies,
    even by SIGKILL) and ends the worker at once: the standard pool's worker would otherwise wait
    forever on its call queue, whose both ends it holds itself."""
    global _worker_state
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _worker_state = ({(t.id, t.version): t for t in tasks}, grader)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with_parent, args=(parent.sentinel,), name="baton-grading-lifeline",
                         daemon=True).start()


def _exit_with_parent(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(0)  # nobody is left to read a result: leave without cleanup or traceback


def _grade_batch(batch: list[tuple[RunKey, int, bytes, dict[str, Any] | None]]) -> list[Finished]:
    """Grade and serialize a batch of runs in a grading worker (the trace crosses as JSON)."""
    assert _worker_state is not None, "the grading worker was not initialized"
    by_key, grader = _worker_state
    return [result_line(by_key[(key.task_id, key.task_version)], Trace.model_validate_json(trace_json), grader,
                        key, seed, trace_json, judge)
            for key, seed, trace_json, judge in batch]


def _ready() -> int:
    return os.getpid()


@contextlib.contextmanager
def _plain_main_module() -> Iterator[None]:
    """While a worker is spawned: a blank ``__main__``. ``spawn`` otherwise re-imports the
    parent's main script in the worker (multiprocessing's "safe importing of the main module"),
    which the worker does not need and which runs a user's script without a main guard a second
    time; the worker starts as a plain interpreter, as ``python -c`` would."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


class GradingWorkerError(RuntimeError):
    """The grading worker process failed (a grader bug, or the process died)."""


class _ProcessGrading:
    """Grades and serializes finished runs in one worker process of a standard
    :class:`~concurrent.futures.ProcessPoolExecutor`, so the event loop that drives the model
    calls spends its CPU on them only. One batch (one future) is graded at a time; the runs that
    finish meanwhile go as the next, so the pool's threads hand over few, larger batches when the
    worker is busy. Traces cross the process boundary as JSON (validated again on the other side).

    The worker is forked while this process has a single thread (it inherits the imported
    graders: no interpreter start-up and imports, about 0.35 s of CPU competing with the model
    calls; with one thread no lock can be inherited held), and spawned otherwise."""

    def __init__(self, on_done: Callable[[Finished], None], on_error: Callable[[BaseException], None]) -> None:
        self._on_done = on_done
        self._on_error = on_error
        self._batch: list[tuple[RunKey, int, bytes, dict[str, Any] | None]] = []
        self._pool: ProcessPoolExecutor | None = None
        self._failed = False
        self._in_flight = False  # one batch at a time: runs finishing meanwhile gather into the next
        self._idle = asyncio.Event()
        self._idle.set()
        self.backlog = 0
        self.worker_pid: int | None = None
        self.start_method: str | None = None

    async def start(self, tasks: Sequence[GoldenTask], grader: Grader) -> None:
        fork = _can_fork()
        if fork:
            import baton.graders  # noqa: F401 - imported once here, inherited by the worker
        context = multiprocessing.get_context("fork" if fork else "spawn")
        self.start_method = context.get_start_method()
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=_init_grading_worker,
                                         initargs=(list(tasks), grader))
        blocked = threading.current_thread() is threading.main_thread()
        if blocked:  # the worker starts with SIGINT blocked; its initializer ignores, then unblocks it
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            with contextlib.nullcontext() if fork else _plain_main_module():
                ready = self._pool.submit(_ready)  # starts the worker, in this thread (before any pool thread)
        finally:
            if blocked:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        try:
            self.worker_pid = await asyncio.wrap_future(ready)
        except BrokenProcessPool as exc:
            raise GradingWorkerError(f"the grading worker did not start: {exc.__cause__ or exc}") from None

    def submit(self, item: WorkItem, trace: Trace, judge: dict[str, Any] | None = None) -> None:
        if self._failed:
            return  # the run fails with the worker's error; this run stays unstored, to run on resume
        self._batch.append((item.key(), item.seed, _TRACE_JSON(trace), judge))
        self.backlog += 1
        self._idle.clear()
        if len(self._batch) == 1 and not self._in_flight:
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        if self._in_flight:
            return  # sent when the batch being graded comes back
        batch, self._batch = self._batch, []
        if not batch or self._pool is None or self._failed:
            return
        self._in_flight = True
        try:
            future = asyncio.wrap_future(self._pool.submit(_grade_batch, batch))
        except (BrokenProcessPool, RuntimeError) as exc:  # the worker died, or the pool is shut down
            self._in_flight = False
            self._broken(len(batch), exc)
            return
        future.add_done_callback(functools.partial(self._graded, size=len(batch)))

    def _graded(self, future: asyncio.Future[list[Finished]], *, size: int) -> None:
        self._in_flight = False
        if future.cancelled():
            self._broken(size, None)
            return
        exc = future.exception()
        if exc is not None:
            self._broken(size, exc)
            return
        self.backlog -= size
        for done in future.result():
            self._on_done(done)
        if self.backlog == 0 or self._failed:
            self._idle.set()
        self._flush()  # what finished meanwhile goes as the next batch

    def _broken(self, size: int, exc: BaseException | None) -> None:
        ungraded = self.backlog
        self.backlog -= size
        self._idle.set()  # drain() does not wait for a worker that has failed
        if self._failed:
            return
        self._failed = True
        if isinstance(exc, BrokenProcessPool):
            error = GradingWorkerError(f"the grading worker exited unexpectedly with {ungraded} runs ungraded")
        elif exc is None or isinstance(exc, RuntimeError) and "shutdown" in str(exc):
            error = GradingWorkerError(f"grading stopped with {ungraded} runs ungraded")
        else:
            remote = exc.__cause__  # the worker's traceback, as text (concurrent.futures' _RemoteTraceback)
            error = GradingWorkerError(f"grading failed in the worker process: {type(exc).__name__}: {exc}"
                                       + (f"\n{remote}" if remote is not None else ""))
        self._on_error(error)

    async def drain(self) -> None:
        """Wait until every submitted run is graded and handed to ``on_done`` (or the worker failed)."""
        self._flush()
        await self._idle.wait()

    async def close(self) -> None:
        """Shut the pool down: the worker ends once its current batch is graded (batches not yet
        started are cancelled); one that is still busy after 10 s is killed."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        shutdown = asyncio.get_running_loop().run_in_executor(
            None, functools.partial(pool.shutdown, wait=True, cancel_futures=True))
        try:
            await asyncio.wait_for(asyncio.shield(shutdown), timeout=10)
        except TimeoutError:
            if self.worker_pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.worker_pid, signal.SIGKILL)
            await shutdown


class _Engine:
    def __init__(self, matrix: Matrix, *, profiles: Mapping[str, VendorProfile], store: ResultStore,
                 concurrency: int, runner: Runner, grader: Grader, progress: ProgressReporter,
                 grade_worker: bool = False, judge: str | None = None) -> None:
        self.matrix = matrix
        self.judge = judge
        self.store = store
        self.concurrency = concurrency
        self.runner = runner
        self.grader = grader
        self.progress = progress
        self.limits = {v: profiles[v].max_concurrency for v in matrix.vendors}
        scan = store.scan
        self.tally = Tally(total=len(matrix), resumed=scan.count, passed=scan.statuses["passed"],
                           failed=scan.statuses["failed"],
                           errors=sum(n for s, n in scan.statuses.items() if s not in ("passed", "failed")),
                           cost_usd=scan.cost_usd, calls=scan.calls, cached_calls=scan.cached_calls,
                           cells=len(matrix.cells) * len(matrix.vendors))
        self._done_keys = store.finished_keys()
        self._active = dict.fromkeys(matrix.vendors, 0)
        self._running: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._outbox: asyncio.Queue[tuple[bytes, str, float, int, int] | None] = asyncio.Queue()
        self._crash_logged = False
        self._failure: BaseException | None = None
        self._grade_worker = grade_worker
        self._grading: _ProcessGrading | None = None
        self._backlog_limit = max(1024, 8 * concurrency)

    def _pending(self, vendor: str) -> Iterator[WorkItem]:
        done = self._done_keys
        for item in self.matrix.items_for(vendor):
            if not done or item.key().as_str() not in done:
                yield item

    async def run(self, clients: Any) -> None:
        self.progress.start(self.tally)
        writer = asyncio.create_task(self._write_loop())
        try:
            if self._grade_worker:  # a worker that fails to start still ends the writer and the display
                self._grading = _ProcessGrading(on_done=self._graded, on_error=self._fail)
                await self._grading.start(self.matrix.tasks, self.grader)
            await self._dispatch(clients, writer)
        finally:
            try:
                for task in self._running:
                    task.cancel()
                if self._running:
                    await asyncio.gather(*self._running, return_exceptions=True)
                if self._grading is not None:
                    await self._grading.drain()
            finally:
                if self._grading is not None:
                    await self._grading.close()
                self._outbox.put_nowait(None)
                try:
                    await writer
                finally:
                    self.progress.stop(self.tally)

    def _graded(self, done: Finished) -> None:
        self._outbox.put_nowait(done)
        self._wake.set()

    def _fail(self, exc: BaseException) -> None:
        if self._failure is None:
            self._failure = exc
        self._wake.set()

    async def _dispatch(self, clients: Any, writer: asyncio.Task[None]) -> None:
        streams = {v: self._pending(v) for v in self.matrix.vendors}
        order = deque(self.matrix.vendors)
        writer.add_done_callback(lambda _: self._wake.set())
        while True:
            self._fill(streams, order, clients)
            if not self._running and not (self._grading and self._grading.backlog):
                return
            self._wake.clear()
            await self._wake.wait()
            if self._failure is not None:
                raise self._failure
            if writer.done():
                writer.result()  # re-raises the writer's failure (disk full, ...)
                raise BatonError("the results writer stopped unexpectedly")

    def _fill(self, streams: dict[str, Iterator[WorkItem]], order: deque[str], clients: Any) -> None:
        """Start runs, round-robin over vendors below their limit, until the pool is full."""
        while len(self._running) < self.concurrency and order:
            if self._grading is not None and self._grading.backlog >= self._backlog_limit:
                return  # the graders are behind: let them catch up before starting more runs
            for _ in range(len(order)):
                vendor = order[0]
                order.rotate(-1)
                if self._active[vendor] < self.limits[vendor]:
                    break
            else:
                return  # every vendor with work left is at its limit
            item = next(streams[vendor], None)
            if item is None:
                order.remove(vendor)
                continue
            self._start(item, clients)

    def _start(self, item: WorkItem, clients: Any) -> None:
        self._active[item.vendor] += 1
        task = asyncio.create_task(self._execute(item, clients))
        self._running.add(task)
        task.add_done_callback(functools.partial(self._finished, vendor=item.vendor))

    def _finished(self, task: asyncio.Task[None], *, vendor: str) -> None:
        self._running.discard(task)
        self._active[vendor] -= 1
        if not task.cancelled() and task.exception() is not None:
            self._fail(task.exception())  # type: ignore[arg-type]
        self._wake.set()

    async def _execute(self, item: WorkItem, clients: Any) -> None:
        try:
            trace = await self.runner(item.task, item.system, item.vendor, clients=clients,
                                      trial=item.trial, seed=item.seed, mode=item.mode)
        except (asyncio.CancelledError, BatonError):
            raise  # a configuration mistake (an adapter target that does not load) stops the run
        except Exception as exc:  # a runner bug or a user adapter's crash: record it, keep going
            if not self._crash_logged:
                self._crash_logged = True
                log.warning("runner crashed on %s (recorded as an infra error; later crashes are "
                            "recorded silently)", item.key().as_str(), exc_info=True)
            trace = _crash_trace(item, exc)
        verdict = None
        if not trace.infra_error:  # the async graders (the LLM judge with --judge), through their registry
            from baton.graders.async_graders import run_async_graders

            verdict = await run_async_graders(item.task, trace,
                                              clients.client(self.judge) if self.judge is not None else None)
        if self._grading is not None:
            self._grading.submit(item, trace, verdict)
        else:
            self._outbox.put_nowait(result_line(item.task, trace, self.grader, item.key(), item.seed,
                                                judge=verdict))

    async def _write_loop(self) -> None:
        outbox = self._outbox
        closing = False
        while not closing:
            batch = [await outbox.get()]
            while not outbox.empty():
                batch.append(outbox.get_nowait())
            if batch[-1] is None:
                closing = True
            entries = [entry for entry in batch if entry is not None]
            if not entries:
                continue
            data = b"".join(entry[0] for entry in entries)
            try:
                await asyncio.to_thread(self.store.append, data)
            except OSError as exc:
                raise BatonError(f"{self.store.path}: cannot write results: {exc.strerror or exc}") from None
            for _, status, cost, calls, cached in entries:
                self.tally.done += 1
                self.tally.add(status, cost, calls, cached)
            self.progress.update(self.tally)


async def run_matrix(matrix: Matrix, *, profiles: Mapping[str, VendorProfile], run_dir: Path | str,
                     concurrency: int = 32, use_cache: bool = True, cache_dir: Path | None = None,
                     progress: ProgressReporter | None = None, runner: Runner | None = None,
                     grader: Grader | None = None, clients: Any = None,
                     project_dir: Path | None = None, invocation: Mapping[str, Any] | None = None,
                     manifest: Manifest | None = None, grade_worker: bool | None = None,
                     on_summary: Callable[[RunSummary], None] | None = None,
                     judge: str | None = None, retry_errors: bool = True,
                     preflight: bool | None = None) -> RunSummary:
    """Run every missing cell of ``matrix`` into ``run_dir`` and return the totals.

    ``run_dir`` is created with a manifest, or resumed if it holds a run of the same
    configuration (a :class:`BatonError` lists the differences otherwise). ``runner`` and
    ``grader`` default to ``baton.runners.run_task`` and ``baton.graders.grade_run``;
    ``clients`` defaults to a ``baton.client.ClientPool`` over ``profiles`` with the response
    cache in ``cache_dir`` (unless ``use_cache`` is false). ``on_summary`` is called with the
    totals before returning, and also when the run is cancelled (the cancellation then propagates).

    ``grade_worker``: grade and serialize finished runs in a worker process, off the event loop
    (the grader must then be importable by name). By default it does for the default grader
    when at least :data:`GRADE_IN_PROCESS_FROM` runs are to be graded on a machine with more
    than one CPU, and grades inline otherwise.

    ``judge``: a vendor profile name; when given, an LLM judge (``baton.graders.judge``) also
    rates every non-error run's answer, and its verdict, model and prompt are stored in
    ``RunGrade.judge``. It never changes the run's status. Off by default.

    ``retry_errors``: runs stored as infrastructure errors are run again (their new record is
    appended; the latest record of a key wins). ``preflight`` (default: when Baton makes the
    clients itself) checks every vendor's key and endpoint and every adapter target before
    anything starts (``baton.preflight``).
    """
    if concurrency < 1:
        raise BatonError(f"concurrency: expected an integer >= 1, got {concurrency}")
    vendors_used(matrix, profiles)
    if judge is not None and judge not in profiles:
        raise BatonError(f"--judge: unknown vendor profile '{judge}'; known: {', '.join(sorted(profiles))}")
    manifest = with_measurement(manifest or prepare_manifest(matrix, profiles, project_dir=project_dir,
                                                             invocation=invocation),
                                cache=use_cache, judge=judge)
    if preflight if preflight is not None else clients is None:
        from baton.preflight import check_matrix

        await check_matrix(matrix, profiles, judge=judge)
    run_dir = Path(run_dir)
    store = ResultStore.open(run_dir, manifest, retry_errors=retry_errors)
    cancelled = False
    engine: _Engine | None = None
    try:
        remaining = len(matrix) - store.scan.count
        if grade_worker is None:
            grade_worker = grader is None and remaining >= GRADE_IN_PROCESS_FROM and (os.cpu_count() or 1) > 1
        engine = _Engine(matrix, profiles=profiles, store=store, concurrency=concurrency,
                         runner=runner or _default_runner(), grader=grader or _default_grader(),
                         progress=progress or NullProgress(), grade_worker=grade_worker, judge=judge)
        if engine.tally.remaining == 0:
            log.info("%s: every run is already stored", run_dir)
        elif clients is not None:
            await engine.run(clients)
        else:
            async with _client_pool(profiles, use_cache, cache_dir, matrix.tasks) as pool:
                await engine.run(pool)
    except asyncio.CancelledError:
        cancelled = True
        raise
    finally:
        store.close()
        if engine is not None and on_summary is not None:
            on_summary(RunSummary.from_tally(run_dir, store.manifest.run_key, engine.tally, cancelled=cancelled))
    return RunSummary.from_tally(run_dir, store.manifest.run_key, engine.tally, cancelled=False)


def run_matrix_sync(matrix: Matrix, **kwargs: Any) -> RunSummary:
    """:func:`run_matrix` in a fresh event loop. Ctrl-C stops the run cooperatively: finished
    results are kept and the returned summary has ``cancelled=True``."""
    summaries: list[RunSummary] = []
    try:
        return asyncio.run(run_matrix(matrix, on_summary=summaries.append, **kwargs))
    except KeyboardInterrupt:
        if summaries:
            return summaries[-1]
        raise
