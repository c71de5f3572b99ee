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
import os
import pickle
import signal
import struct
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

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

    @property
    def finished(self) -> int:
        return self.resumed + self.completed

    @property
    def missing(self) -> int:
        return max(self.total - self.finished, 0)

    def line(self) -> str:
        """One-line summary for a terminal."""
        graded = self.passed + self.failed
        rate = f" ({self.passed / graded:.1%})" if graded else ""
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
                   wall_s=time.monotonic() - tally.started, cancelled=cancelled)


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

_FRAME = struct.Struct("!I")
_WORKER_CODE = "from baton.engine import grade_worker_main; grade_worker_main()"


def _frame(payload: bytes) -> bytes:
    return _FRAME.pack(len(payload)) + payload


def _read_frame(stream: BinaryIO) -> bytes | None:
    head = stream.read(_FRAME.size)
    if len(head) < _FRAME.size:
        return None
    (size,) = _FRAME.unpack(head)
    data = stream.read(size)
    return data if len(data) == size else None


def grade_worker_main() -> None:
    """A grading worker process: reads (tasks, grader), then batches of (key, seed, trace JSON)
    on stdin, and writes batches of :data:`Finished` on stdout (length-prefixed pickles). It ends
    when stdin closes, which is also what happens when its parent dies, even by SIGKILL (then a
    reply it was writing has no reader: it leaves quietly, without a BrokenPipeError traceback)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    inp = sys.stdin.buffer
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a grader prints goes to stderr, not into the result stream
    try:
        _grade_worker_loop(inp, out)
    except BrokenPipeError:  # the parent is gone: nobody is left to read the results
        with contextlib.suppress(OSError):  # later flushes (at exit) must not fail again
            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())


def _grade_worker_loop(inp: BinaryIO, out: BinaryIO) -> None:
    header = _read_frame(inp)
    if header is None:
        return
    tasks, grader = pickle.loads(header)
    by_key = {(t.id, t.version): t for t in tasks}
    while (frame := _read_frame(inp)) is not None:
        try:
            reply: tuple[str, Any] = ("ok", [result_line(by_key[(key.task_id, key.task_version)],
                                                         Trace.model_validate_json(trace_json), grader, key, seed,
                                                         trace_json, judge)
                                             for key, seed, trace_json, judge in pickle.loads(frame)])
        except Exception:  # noqa: BLE001 - any grader failure goes back to the parent, with its traceback
            reply = ("error", traceback.format_exc())
        out.write(_frame(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)))
        out.flush()


def _can_fork() -> bool:
    return hasattr(os, "fork") and threading.active_count() == 1


class _ForkedWorker:
    """The parts of :class:`asyncio.subprocess.Process` that :class:`_ProcessGrading` uses, for a
    worker made with ``os.fork``."""

    def __init__(self, pid: int, stdin: asyncio.StreamWriter, stdout: asyncio.StreamReader) -> None:
        self.pid, self.stdin, self.stdout = pid, stdin, stdout
        self._code: int | None = None

    async def wait(self) -> int:
        if self._code is None:
            _, status = await asyncio.get_running_loop().run_in_executor(None, os.waitpid, self.pid, 0)
            self._code = os.waitstatus_to_exitcode(status)
        return self._code

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)


async def _fork_worker() -> _ForkedWorker:
    """Fork a grading worker wired to two pipes (its stdin and stdout)."""
    import baton.graders  # noqa: F401 - imported once here, inherited by the child

    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the parent's event loop
        code = 0
        try:
            os.setsid()
            os.close(to_child_w)
            os.close(from_child_r)
            os.dup2(to_child_r, 0)
            os.dup2(from_child_w, 1)
            sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 - fresh buffer on the pipe
            grade_worker_main()
        except BaseException:  # noqa: BLE001 - report and leave without running the parent's cleanup
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    os.close(to_child_r)
    os.close(from_child_w)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**30)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(from_child_r, "rb", 0))
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin,
                                                        os.fdopen(to_child_w, "wb", 0))
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    return _ForkedWorker(pid, writer, reader)


class GradingWorkerError(RuntimeError):
    """The grading worker process failed (a grader bug, or the process died)."""


class _ProcessGrading:
    """Grades and serializes finished runs in a worker process, so the event loop that drives
    the model calls spends its CPU on them only. Runs finishing in the same loop iteration go as
    one batch; traces cross the process boundary as JSON (validated again on the other side)."""

    def __init__(self, on_done: Callable[[Finished], None], on_error: Callable[[BaseException], None]) -> None:
        self._on_done = on_done
        self._on_error = on_error
        self._batch: list[tuple[RunKey, int, bytes, dict[str, Any] | None]] = []
        self._proc: asyncio.subprocess.Process | _ForkedWorker | None = None
        self._reader: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self.backlog = 0

    async def start(self, tasks: Sequence[GoldenTask], grader: Grader) -> None:
        if _can_fork():
            # A forked worker inherits the already-imported graders: no interpreter start-up and
            # imports (about 0.35 s of CPU competing with the model calls). Only while this process
            # has a single thread, so no lock can be inherited held.
            self._proc = await _fork_worker()
        else:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", _WORKER_CODE, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                start_new_session=True)  # Ctrl-C is the parent's to handle: it drains what it sent
        assert self._proc.stdin is not None
        self._proc.stdin.write(_frame(pickle.dumps((list(tasks), grader), protocol=pickle.HIGHEST_PROTOCOL)))
        self._reader = asyncio.create_task(self._read_loop())

    def submit(self, item: WorkItem, trace: Trace, judge: dict[str, Any] | None = None) -> None:
        self._batch.append((item.key(), item.seed, _TRACE_JSON(trace), judge))
        self.backlog += 1
        self._idle.clear()
        if len(self._batch) == 1:
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        batch, self._batch = self._batch, []
        if batch and self._proc is not None and self._proc.stdin is not None:
            self._proc.stdin.write(_frame(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)))

    async def _read_loop(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        stdout = self._proc.stdout
        try:
            while True:
                (size,) = _FRAME.unpack(await stdout.readexactly(_FRAME.size))
                status, data = pickle.loads(await stdout.readexactly(size))
                if status != "ok":
                    self._on_error(GradingWorkerError(f"grading failed in the worker process:\n{data}"))
                    return
                for done in data:
                    self.backlog -= 1
                    self._on_done(done)
                if self.backlog == 0:
                    self._idle.set()
        except asyncio.IncompleteReadError:
            if self.backlog:
                code = await self._proc.wait()
                self._on_error(GradingWorkerError(f"the grading worker exited (code {code}) with "
                                                  f"{self.backlog} runs ungraded"))
        finally:
            self._idle.set()

    async def drain(self) -> None:
        """Wait until every submitted run is graded and handed to ``on_done`` (or the worker failed)."""
        self._flush()
        if self._proc is not None and self._proc.stdin is not None:
            with contextlib.suppress(ConnectionError):
                await self._proc.stdin.drain()
        await self._idle.wait()

    async def close(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), timeout=10)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


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
                           cost_usd=scan.cost_usd, calls=scan.calls, cached_calls=scan.cached_calls)
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
        if self._grade_worker:
            self._grading = _ProcessGrading(on_done=self._graded, on_error=self._fail)
            await self._grading.start(self.matrix.tasks, self.grader)
        try:
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
