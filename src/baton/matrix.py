"""The run matrix: tasks × systems × vendors × trials × modes, and its work items.

Work items are generated lazily and interleaved (trial, then task, then mode, then system), one
stream per vendor, so a scheduler can take from whichever vendor has capacity. Isolated modes
run only on systems whose architecture supports them.

The project's settings are read by :mod:`baton.run_settings` (``[tool.baton.run]``),
:mod:`baton.system_config` (systems) and :mod:`baton.vendor_config` (vendor profiles);
:mod:`baton.plan` builds a matrix from them.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib
import itertools
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from baton.errors import ConfigError
from baton.result import RunKey
from baton.run_settings import check_int, parse_modes
from baton.systems import SystemConfig
from baton.task import GoldenTask
from baton.vendors import VendorProfile

__all__ = [
    "Matrix",
    "VendorLimit",
    "resolve_vendor_limits",
    "Supports",
    "WorkItem",
    "derive_seed",
    "parse_modes",
    "select_tasks",
    "vendors_used",
]

# Names that moved to modules of their own; still importable from here (loaded on first use, so
# this module imports none of them).
_MOVED = {
    "SYSTEMS_FILE": "baton.system_config", "load_systems": "baton.system_config",
    "resolve_systems": "baton.system_config", "_parse_system": "baton.system_config",
    "RunPlan": "baton.plan", "plan_run": "baton.plan",
    "RunSettings": "baton.run_settings", "load_settings": "baton.run_settings", "parse_names": "baton.run_settings",
    "DEFAULT_SYSTEMS": "baton.run_settings", "DEFAULT_VENDORS": "baton.run_settings",
    "find_project_dir": "baton.project", "read_toml": "baton.project", "tool_baton_table": "baton.project",
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module 'baton.matrix' has no attribute {name!r}")


def derive_seed(seed: int, task_id: str, system: str, vendor: str, trial: int) -> int:
    """The seed of one run: a deterministic function of the matrix seed and the run's cell."""
    text = f"{seed}\x1f{task_id}\x1f{system}\x1f{vendor}\x1f{trial}".encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big") & 0x7FFF_FFFF


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One run of the matrix."""

    task: GoldenTask
    system: SystemConfig
    vendor: str
    trial: int
    mode: str
    seed: int

    def key(self) -> RunKey:
        return RunKey(task_id=self.task.id, task_version=self.task.version, system=self.system.name,
                      vendor=self.vendor, trial=self.trial, mode=self.mode)


Supports = Callable[[SystemConfig, str], bool]
"""``supports(system, mode)``: whether a system's architecture can run in an isolated mode."""


def _runner_supports(system: SystemConfig, mode: str) -> bool:
    from baton.runners import supports_mode

    return supports_mode(system, mode)


@dataclass(frozen=True, slots=True)
class VendorLimit:
    """Restricts one vendor of a matrix: only some tasks, fewer trials. For slow vendors (a
    local model on a laptop) next to fast ones, so a comparison finishes in minutes."""

    tasks: frozenset[str] | None = None
    trials: int | None = None
    modes: frozenset[str] | None = None

    def as_json(self) -> dict[str, Any]:
        return {"tasks": sorted(self.tasks) if self.tasks is not None else None, "trials": self.trials,
                "modes": sorted(self.modes) if self.modes is not None else None}


@dataclass(frozen=True)
class Matrix:
    """What to run. ``trials`` is a count: trial indices are ``0 .. trials-1``.
    ``limits`` optionally restricts some vendors to a subset of the tasks and fewer trials.

    Isolated modes apply only to systems whose architecture supports them (``supports``,
    default ``baton.runners.supports_mode``); mode ``system`` applies to every system."""

    tasks: Sequence[GoldenTask]
    systems: Sequence[SystemConfig]
    vendors: Sequence[str]
    trials: int = 1
    seed: int = 0
    modes: Sequence[str] = ("system",)
    supports: Supports | None = field(default=None, compare=False, repr=False)
    limits: Mapping[str, VendorLimit] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise ConfigError(f"trials: expected an integer >= 1, got {self.trials}")
        parse_modes(list(self.modes))
        for what, names in (("tasks", [t.id for t in self.tasks]), ("systems", [s.name for s in self.systems]),
                            ("vendors", list(self.vendors)), ("modes", list(self.modes))):
            if dup := sorted(n for n, count in Counter(names).items() if count > 1):
                raise ConfigError(f"{what}: duplicate entries: {', '.join(dup)}")
        supports = self.supports or _runner_supports
        pairs = tuple((mode, system) for mode in self.modes for system in self.systems
                      if mode == "system" or supports(system, mode))
        if not pairs and self.systems and self.modes:
            raise ConfigError(f"none of the systems ({', '.join(s.name for s in self.systems)}) supports "
                              f"the modes {', '.join(self.modes)}")
        object.__setattr__(self, "_pairs", pairs)

    @property
    def cells(self) -> tuple[tuple[str, SystemConfig], ...]:
        """The (mode, system) pairs that run, in order."""
        return self._pairs  # type: ignore[attr-defined,no-any-return]

    def _vendor_scope(self, vendor: str) -> tuple[Sequence[GoldenTask], int, Sequence[tuple[str, SystemConfig]]]:
        limit = self.limits.get(vendor)
        if limit is None:
            return self.tasks, self.trials, self.cells
        tasks = self.tasks if limit.tasks is None else [t for t in self.tasks if t.id in limit.tasks]
        trials = self.trials if limit.trials is None else min(self.trials, limit.trials)
        cells = self.cells if limit.modes is None else [c for c in self.cells if c[0] in limit.modes]
        return tasks, trials, cells

    def __len__(self) -> int:
        total = 0
        for vendor in self.vendors:
            tasks, trials, cells = self._vendor_scope(vendor)
            total += len(tasks) * len(cells) * trials
        return total

    def limits_json(self) -> dict[str, dict[str, Any]]:
        return {vendor: limit.as_json() for vendor, limit in sorted(self.limits.items())}

    def items_for(self, vendor: str) -> Iterator[WorkItem]:
        """The runs of one vendor, lazily, trial-major so early results cover every task."""
        tasks, trials, cells = self._vendor_scope(vendor)
        for trial in range(trials):
            for task in tasks:
                for mode, system in cells:
                    yield WorkItem(task, system, vendor, trial, mode,
                                   derive_seed(self.seed, task.id, system.name, vendor, trial))

    def items(self) -> Iterator[WorkItem]:
        """Every run, lazily, vendors interleaved one item at a time."""
        streams = [self.items_for(v) for v in self.vendors]
        for batch in itertools.zip_longest(*streams):
            yield from (item for item in batch if item is not None)


# --------------------------------------------------------------------------- tasks and vendors


def select_tasks(tasks: Sequence[GoldenTask], task_filter: str | None, source: str = "") -> list[GoldenTask]:
    """Tasks whose id matches any of the comma-separated globs (all tasks when no filter)."""
    if not task_filter:
        return list(tasks)
    globs = [g.strip() for g in task_filter.split(",") if g.strip()]
    chosen = [t for t in tasks if any(fnmatch.fnmatchcase(t.id, g) for g in globs)]
    if not chosen:
        where = f" in {source}" if source else ""
        raise ConfigError(f"task filter '{task_filter}' matches none of the {len(tasks)} tasks{where}")
    return chosen


def vendors_used(matrix: Matrix, profiles: Mapping[str, VendorProfile]) -> list[VendorProfile]:
    """The profiles a matrix may call: its vendors and every vendor a system pins a role to.
    A :class:`ConfigError` names any that is unknown."""
    names = list(dict.fromkeys([*matrix.vendors, *(v for s in matrix.systems for v in s.roles.values())]))
    known = ", ".join(sorted(profiles)) or "(none)"
    for name in matrix.vendors:
        if name not in profiles:
            raise ConfigError(f"unknown vendor profile '{name}'; known profiles: {known}")
    for system in matrix.systems:
        for role, vendor in system.roles.items():
            if vendor not in profiles:
                raise ConfigError(f"system '{system.name}': roles.{role}: unknown vendor profile "
                                  f"'{vendor}'; known profiles: {known}")
    return [profiles[n] for n in names]


def resolve_vendor_limits(specs: Mapping[str, Mapping[str, Any]], tasks: Sequence[GoldenTask],
                          vendors: Sequence[str], source: str = "") -> dict[str, VendorLimit]:
    """``{vendor: {"task_filter": GLOB, "trials": N, "modes": [...]}}`` (keys optional) -> :class:`VendorLimit`s.
    A vendor that is not in the matrix is ignored; a filter matching none of its tasks is an error."""
    limits: dict[str, VendorLimit] = {}
    for vendor, spec in specs.items():
        if vendor not in vendors:
            continue
        unknown = sorted(set(spec) - {"task_filter", "trials", "modes"})
        if unknown:
            raise ConfigError(f"vendor limit for '{vendor}': unknown key(s) {', '.join(unknown)}; "
                              f"expected task_filter, trials and/or modes")
        task_filter = spec.get("task_filter")
        chosen = None
        if task_filter is not None:
            chosen = frozenset(t.id for t in select_tasks(tasks, task_filter, source))
        trials = spec.get("trials")
        if trials is not None:
            check_int(trials, f"vendor limit for '{vendor}': trials", 1)
        modes = spec.get("modes")
        chosen_modes = frozenset(parse_modes(modes, f"vendor limit for '{vendor}': modes")) if modes else None
        limits[vendor] = VendorLimit(tasks=chosen, trials=trials, modes=chosen_modes)
    return limits
