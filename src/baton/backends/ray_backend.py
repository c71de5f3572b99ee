"""The Ray backend: a matrix's units run as Ray tasks across a cluster; results stream back to
the driver's one results store.

* **Units.** Pending units (those not already in the run directory) go out in small batches,
  one Ray task per batch (``num_cpus=1``); a task runs its units concurrently with the real
  runner and grader and returns their result lines. At most ``concurrency`` units are in flight.
* **One limiter.** Every model call on every worker first takes a permit of its vendor from one
  async Ray actor (:class:`VendorLimiter`) holding a semaphore of ``max_concurrency`` per
  vendor, so a vendor's concurrency limit holds cluster-wide, not per worker.
* **One store.** The driver appends each finished batch to the run directory with the store's
  ``fsync`` before counting it, exactly as the local engine: ``kill -9`` of the driver loses only
  units in flight (Ray ends a dead driver's tasks), and ``baton run --resume`` redoes just those.
* **Budget.** With ``budget_usd``, no unit is submitted once the run's cost (earlier sessions
  included) reaches it; units in flight finish and are stored, and the run stops cleanly.
* **Simulated vendors** (``kind = "sim"`` without a ``base_url``) are served by the driver on
  its node's address, so workers on other machines reach them; workers run without the
  response cache.

Workers need Baton importable (the same virtual environment on this machine; on a remote
cluster, install ``baton-evals[ray]`` on its nodes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from baton.engine import RunSummary, result_line
from baton.errors import BatonError, ConfigError
from baton.manifest import Manifest
from baton.matrix import Matrix, WorkItem
from baton.progress import NullProgress, ProgressReporter, Tally
from baton.store import ResultStore
from baton.vendors import VendorProfile

__all__ = ["run_matrix_ray"]

log = logging.getLogger("baton.backends.ray")

RAY_MAJOR = 2
"""The Ray major version this backend is tested with (``baton-evals[ray]`` pins it)."""


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("--backend ray: Ray is not installed; install it with: pip install 'baton-evals[ray]'") from None
    major = int(ray.__version__.split(".")[0])
    if major != RAY_MAJOR:
        log.warning("Ray %s is installed; this backend is tested with Ray %d.x", ray.__version__, RAY_MAJOR)
    return ray


class VendorLimiter:
    """One semaphore per vendor, shared by every worker of the cluster (an async Ray actor).

    Permits are held per owner (one Ray task), so the driver can return the permits of a task
    that died mid-call (:meth:`release_owner`) instead of losing them for the rest of the run."""

    def __init__(self, limits: Mapping[str, int]) -> None:
        self._limits = dict(limits)
        self._sems: dict[str, asyncio.Semaphore] = {}
        self._held: dict[tuple[str, str], int] = {}

    def _sem(self, vendor: str) -> asyncio.Semaphore:
        if vendor not in self._sems:  # created in the actor's event loop
            self._sems[vendor] = asyncio.Semaphore(self._limits.get(vendor, 8))
        return self._sems[vendor]

    async def acquire(self, vendor: str, owner: str) -> None:
        await self._sem(vendor).acquire()
        self._held[(owner, vendor)] = self._held.get((owner, vendor), 0) + 1

    async def release(self, vendor: str, owner: str) -> None:
        if self._held.get((owner, vendor), 0) > 0:
            self._held[(owner, vendor)] -= 1
            self._sem(vendor).release()

    async def release_owner(self, owner: str) -> int:
        """Return every permit ``owner`` still holds; how many there were."""
        returned = 0
        for (held_by, vendor), count in list(self._held.items()):
            if held_by == owner:
                for _ in range(count):
                    self._sem(vendor).release()
                returned += count
                del self._held[(held_by, vendor)]
        return returned


Unit = tuple[Any, Any, str, int, str, int]  # (task, system, vendor, trial, mode, seed)


def run_units(units: Sequence[Unit], profiles: Mapping[str, VendorProfile], limiter: Any, owner: str) -> list[tuple]:
    """Body of one Ray task: run ``units`` concurrently, grade them, return their result lines."""
    from baton.client import ClientPool
    from baton.graders import grade_run
    from baton.runners import run_task

    from baton.backends.limits import LimitedPool

    async def acquire(vendor: str) -> None:
        await limiter.acquire.remote(vendor, owner)

    async def release(vendor: str) -> None:
        await limiter.release.remote(vendor, owner)

    async def one(pool: Any, unit: Unit) -> tuple:
        task, system, vendor, trial, mode, seed = unit
        item = WorkItem(task, system, vendor, trial, mode, seed)
        try:
            trace = await run_task(task, system, vendor, clients=pool, trial=trial, seed=seed, mode=mode)
        except Exception as exc:  # noqa: BLE001 - recorded like the local engine records a runner crash
            from baton.engine import _crash_trace

            trace = _crash_trace(item, exc)
        return result_line(task, trace, grade_run, item.key(), seed)

    async def main() -> list[tuple]:
        async with ClientPool(profiles, cache=None) as pool:
            limited = LimitedPool(pool, acquire, release)
            return list(await asyncio.gather(*(one(limited, unit) for unit in units)))

    return asyncio.run(main())


@contextlib.contextmanager
def _served_sims(profiles: Mapping[str, VendorProfile], host: str,
                 tasks: Sequence[Any] = ()) -> Iterator[dict[str, VendorProfile]]:
    """Profiles as workers see them: embedded simulated vendors served here, on ``host``, for the
    run's task set (the simulated vendor answers only requests of tasks it holds)."""
    embedded = {n: p for n, p in profiles.items() if p.kind == "sim" and p.base_url is None}
    if not embedded:
        yield dict(profiles)
        return
    from baton.sim.server import SimServer

    with SimServer.from_profiles(embedded, host=host, tasks=tasks) as server:
        url = server.base_url
        yield {n: (p.model_copy(update={"base_url": url}) if n in embedded else p) for n, p in profiles.items()}


def _batches(items: Iterator[WorkItem], size: int) -> Iterator[list[Unit]]:
    batch: list[Unit] = []
    for item in items:
        batch.append((item.task, item.system, item.vendor, item.trial, item.mode, item.seed))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def run_matrix_ray(matrix: Matrix, *, profiles: Mapping[str, VendorProfile], run_dir: Any, manifest: Manifest,
                   address: str | None = None, concurrency: int = 32, batch_size: int = 4,
                   budget_usd: float | None = None, progress: ProgressReporter | None = None,
                   on_event: Callable[[str], None] | None = None) -> tuple[RunSummary, bool]:
    """Run the missing units of ``matrix`` on a Ray cluster into ``run_dir``.

    ``address``: a running cluster (``ray start --head``; default: ``RAY_ADDRESS``, else a local
    Ray started for this run). Returns the summary and whether the budget stopped the run."""
    ray = _import_ray()
    if budget_usd is not None and budget_usd <= 0:
        raise ConfigError(f"--budget-usd: expected a positive amount, got {budget_usd:g}")
    progress = progress or NullProgress()
    store = ResultStore.open(run_dir, manifest)
    scan = store.scan
    tally = Tally(total=len(matrix), resumed=scan.count, passed=scan.statuses["passed"],
                  failed=scan.statuses["failed"],
                  errors=sum(n for s, n in scan.statuses.items() if s not in ("passed", "failed")),
                  cost_usd=scan.cost_usd, calls=scan.calls, cached_calls=scan.cached_calls,
                  cells=len(matrix.cells) * len(matrix.vendors))
    done = store.finished_keys()
    budget_hit = False
    cancelled = False
    try:
        if tally.remaining == 0:
            return RunSummary.from_tally(store.run_dir, store.manifest.run_key, tally, cancelled=False), False
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        limits = {name: profile.max_concurrency for name, profile in profiles.items()}
        limiter = ray.remote(VendorLimiter).options(max_concurrency=10_000).remote(limits)
        remote_units = ray.remote(num_cpus=1, max_retries=0)(run_units)
        host = ray.util.get_node_ip_address()
        pending = (item for item in matrix.items() if item.key().as_str() not in done)
        with _served_sims(profiles, host, matrix.tasks) as worker_profiles:
            profiles_ref = ray.put(worker_profiles)
            batches = _batches(pending, max(1, batch_size))
            in_flight: dict[Any, tuple[int, str]] = {}
            progress.start(tally)
            exhausted = False
            try:
                while True:
                    while not exhausted and not budget_hit and sum(n for n, _ in in_flight.values()) < concurrency:
                        if budget_usd is not None and tally.cost_usd >= budget_usd:
                            budget_hit = True
                            break
                        batch = next(batches, None)
                        if batch is None:
                            exhausted = True
                            break
                        owner = uuid.uuid4().hex
                        in_flight[remote_units.remote(batch, profiles_ref, limiter, owner)] = (len(batch), owner)
                    if not in_flight:
                        break
                    ready, _ = ray.wait(list(in_flight), num_returns=1)
                    for ref in ready:
                        _, owner = in_flight.pop(ref)
                        try:
                            lines = ray.get(ref)
                        except ray.exceptions.RayError as exc:
                            limiter.release_owner.remote(owner)
                            log.warning("a Ray task failed; its units are not stored (resume redoes them): %s",
                                        str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                            continue
                        try:
                            store.append(b"".join(line for line, *_ in lines))
                        except OSError as exc:
                            raise BatonError(f"{store.path}: cannot write results: {exc.strerror or exc}") from None
                        for _, status, cost, calls, cached in lines:
                            tally.done += 1
                            tally.add(status, cost, calls, cached)
                        progress.update(tally)
            except KeyboardInterrupt:
                cancelled = True
                for ref in in_flight:
                    ray.cancel(ref, force=True)
            finally:
                progress.stop(tally)
    finally:
        store.close()
    if budget_hit and on_event is not None:
        on_event(f"budget of ${budget_usd:g} reached (${tally.cost_usd:.4f} spent); "
                 f"{tally.remaining} runs not started")
    return RunSummary.from_tally(store.run_dir, store.manifest.run_key, tally, cancelled=cancelled), budget_hit

