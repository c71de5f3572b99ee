"""``run_task``: one task on one system and vendor, in system or isolated mode, as a Trace."""

from __future__ import annotations

import time

from baton.call_context import CallContext, calling_as
from baton.errors import BatonError, ConfigError
from baton.runners.context import ClientSource, RunContext, RunStopped, parse_mode
from baton.runners.purposes import apply_hop_purposes, check_hop_purposes
from baton.runners.registry import ARCHITECTURES, Architecture
from baton.systems import SystemConfig
from baton.task import GoldenTask
from baton.trace import Trace
from baton.world import World


def architecture(name: str) -> Architecture:
    """The registered architecture ``name`` (or a ``module:attr`` target)."""
    return ARCHITECTURES.get(name)


def supports_mode(system: SystemConfig, mode: str) -> bool:
    """Whether ``system``'s architecture can run in ``mode`` ('system' always can)."""
    hop = parse_mode(mode)
    return hop is None or hop in architecture(system.architecture).isolated_hops


def _first_leaf(group: BaseExceptionGroup[BatonError]) -> BatonError:
    """The first exception of a (possibly nested) exception group."""
    first: BaseException = group
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    return first  # type: ignore[return-value]


async def run_task(task: GoldenTask, system: SystemConfig, vendor: str, *, clients: ClientSource,
                   trial: int = 0, seed: int = 0, mode: str = "system") -> Trace:
    """Run ``task`` on ``system`` with ``vendor`` as the default vendor of every role.

    Never raises for model or tool failures: they are recorded in the trace (``Hop.error``;
    a vendor failing after its retries sets ``Hop.infra_error`` and ``Trace.infra_error`` and
    stops the run). Raises :class:`ConfigError` for an unknown architecture or an unsupported mode.
    """
    isolated = parse_mode(mode)
    arch = architecture(system.architecture)
    if isolated is not None and isolated not in arch.isolated_hops:
        supported = ", ".join(arch.isolated_hops) or "none"
        raise ConfigError(f"system {system.name!r}: architecture {arch.name!r} cannot run mode {mode!r} "
                          f"(isolated hops: {supported})")
    check_hop_purposes(system)
    trace = Trace(task_id=task.id, task_version=task.version, system=system.name, architecture=arch.name,
                  trial=trial, seed=seed, mode=mode)
    ctx = RunContext(task=task, system=system, vendor=vendor, clients=clients, trace=trace,
                     world_factory=lambda: World(task), trial=trial, seed=seed, isolated=isolated)
    add_tasks = getattr(clients, "add_tasks", None)
    if add_tasks is not None:  # the simulated vendor answers from the gold of the tasks it is given
        add_tasks([task])
    started = time.perf_counter()
    try:
        with calling_as(CallContext(task.id, task.version, trial=trial, seed=seed, mode=mode)):
            await arch.run(ctx)
    except* RunStopped:  # already recorded; may arrive wrapped by the MCP session's task group
        pass
    except* BatonError as group:  # a configuration mistake raised inside a task group: one clear error
        raise _first_leaf(group) from None
    trace.latency_s = time.perf_counter() - started
    apply_hop_purposes(trace, system)
    # an untouched world is the task's initial state: shared, not copied (traces are read-only)
    trace.final_state = ctx.world.snapshot() if ctx.world_started else task.world.collections
    trace.usage = trace.total_usage()
    trace.usage.add(ctx.unattributed)
    return trace
