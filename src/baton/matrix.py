"""The run matrix: tasks × systems × vendors × trials × modes, and how a project configures it.

Settings come from ``[tool.baton.run]`` in the project's ``pyproject.toml`` (command-line
flags override them; a sub-table because ``[tool.baton.vendors.NAME]`` and
``[tool.baton.systems.NAME]`` define profiles and systems)::

    [tool.baton.run]
    tasks = "fixtures"              # golden-set path, relative to the project
    task_filter = "billing/*"       # glob(s) over task ids, comma-separated
    systems = ["naive", "rag", "multi_agent"]
    vendors = ["sim-frontier"]
    trials = 1
    seed = 0
    modes = ["system"]              # or "isolated:route", ... (route|retrieve|draft|act|verify)
    concurrency = 32
    out = "reports"                 # run directories go to <out>/<timestamp>
    cache = true
    cache_dir = ".baton-cache"

Systems are Baton's builtin ones (``baton.systems.BUILTIN_SYSTEMS``), then one table per system
in ``runners/systems.toml``, then ``[tool.baton.systems.NAME]`` tables; later ones override
earlier ones by name::

    [multi_agent_small_router]
    architecture = "multi_agent"
    roles = { router = "local-smollm2" }
    params = { max_revisions = 1 }

Work items are generated lazily and interleaved (trial, then task, then mode, then system), one
stream per vendor, so a scheduler can take from whichever vendor has capacity. Isolated modes
run only on systems whose architecture supports them.
"""

from __future__ import annotations

import fnmatch
import hashlib
import itertools
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from baton.errors import ConfigError
from baton.result import RunKey
from baton.systems import BUILTIN_SYSTEMS, SystemConfig
from baton.task import GoldenTask
from baton.vendors import VendorProfile

__all__ = [
    "SYSTEMS_FILE",
    "Matrix",
    "RunPlan",
    "VendorLimit",
    "resolve_vendor_limits",
    "RunSettings",
    "Supports",
    "WorkItem",
    "derive_seed",
    "find_project_dir",
    "load_settings",
    "load_systems",
    "parse_modes",
    "parse_names",
    "plan_run",
    "resolve_systems",
    "select_tasks",
    "vendors_used",
]

SYSTEMS_FILE = "runners/systems.toml"
DEFAULT_SYSTEMS = ("naive", "rag", "multi_agent")
DEFAULT_VENDORS = ("sim-frontier",)


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


# --------------------------------------------------------------------------- project settings


@dataclass(frozen=True)
class RunSettings:
    """``[tool.baton]`` run settings, with Baton's defaults for what is left out."""

    project_dir: Path
    tasks: Path
    task_filter: str | None = None
    systems: tuple[str, ...] = DEFAULT_SYSTEMS
    vendors: tuple[str, ...] = DEFAULT_VENDORS
    trials: int = 1
    seed: int = 0
    modes: tuple[str, ...] = ("system",)
    concurrency: int = 32
    out: Path = Path("reports")
    cache: bool = True
    cache_dir: Path = Path(".baton-cache")
    source: str = "defaults"
    raw: Mapping[str, Any] = field(default_factory=dict)


_SETTING_KEYS = frozenset({"tasks", "task_filter", "systems", "vendors", "trials", "seed", "modes",
                           "concurrency", "out", "cache", "cache_dir"})


def find_project_dir(start: Path | None = None) -> Path:
    """The nearest directory at or above ``start`` (default: cwd) holding a pyproject.toml, else ``start``."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return start


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's tables; a clear :class:`ConfigError` naming the file when it is unreadable."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def tool_baton_table(project_dir: Path, *sub: str) -> tuple[dict[str, Any], str]:
    """The ``[tool.baton(.sub...)]`` table of the project's pyproject.toml, and its label."""
    pyproject = project_dir / "pyproject.toml"
    label = ".".join(("tool", "baton", *sub))
    if not pyproject.is_file():
        return {}, f"{pyproject} [{label}]"
    table: Any = read_toml(pyproject)
    for part in label.split("."):
        table = table.get(part, {}) if isinstance(table, dict) else None
        if not isinstance(table, dict):
            raise ConfigError(f"{pyproject}: {label}: expected a table")
    return table, f"{pyproject} [{label}]"


def parse_names(value: Any, where: str) -> tuple[str, ...]:
    """A list of names from a list of strings or one comma-separated string; duplicates dropped."""
    if isinstance(value, str):
        items = [part.strip() for part in value.split(",")]
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        items = [v.strip() for v in value]
    else:
        raise ConfigError(f"{where}: expected a list of names or a comma-separated string, got {value!r}")
    names = tuple(dict.fromkeys(i for i in items if i))
    if not names:
        raise ConfigError(f"{where}: expected at least one name")
    return names


def parse_modes(value: Any, where: str = "modes") -> tuple[str, ...]:
    """Validate modes: 'system' or 'isolated:<hop>' with a hop some registered architecture can run
    isolated (:func:`baton.runners.registry.isolated_hops`)."""
    from baton.runners.registry import isolated_hops

    modes = parse_names(value, where)
    hops = isolated_hops() if any(mode != "system" for mode in modes) else ()
    for mode in modes:
        if mode == "system":
            continue
        kind, _, hop = mode.partition(":")
        if kind != "isolated" or hop not in hops:
            raise ConfigError(f"{where}: unknown mode '{mode}'; expected 'system' or 'isolated:<hop>' "
                              f"with hop one of {', '.join(hops)}")
    return modes


def _int(value: Any, where: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{where}: expected an integer >= {minimum}, got {value!r}")
    return value


def load_settings(project_dir: Path) -> RunSettings:
    """Read ``[tool.baton.run]`` from ``project_dir/pyproject.toml``; unknown keys are an error."""
    project_dir = Path(project_dir)
    raw, source = tool_baton_table(project_dir, "run")
    if unknown := sorted(set(raw) - _SETTING_KEYS):
        raise ConfigError(f"{source}: unknown setting(s) {', '.join(unknown)}; expected some of "
                          f"{', '.join(sorted(_SETTING_KEYS))}")

    def where(key: str) -> str:
        return f"{source}: {key}"

    def path(key: str, default: str) -> Path:
        value = raw.get(key, default)
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where(key)}: expected a path string, got {value!r}")
        return Path(value)

    task_filter = raw.get("task_filter")
    if task_filter is not None and not isinstance(task_filter, str):
        raise ConfigError(f"{where('task_filter')}: expected a glob string, got {task_filter!r}")
    cache = raw.get("cache", True)
    if not isinstance(cache, bool):
        raise ConfigError(f"{where('cache')}: expected true or false, got {cache!r}")
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"{where('seed')}: expected an integer, got {seed!r}")
    return RunSettings(
        project_dir=project_dir,
        tasks=path("tasks", "fixtures"),
        task_filter=task_filter,
        systems=parse_names(raw.get("systems", list(DEFAULT_SYSTEMS)), where("systems")),
        vendors=parse_names(raw.get("vendors", list(DEFAULT_VENDORS)), where("vendors")),
        trials=_int(raw.get("trials", 1), where("trials"), 1),
        seed=seed,
        modes=parse_modes(raw.get("modes", ["system"]), where("modes")),
        concurrency=_int(raw.get("concurrency", 32), where("concurrency"), 1),
        out=path("out", "reports"),
        cache=cache,
        cache_dir=path("cache_dir", ".baton-cache"),
        source=source,
        raw=raw,
    )


# --------------------------------------------------------------------------- systems


def _parse_system(name: str, table: Any, source: str, base_dir: Path | None = None) -> SystemConfig:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{source}: system '{name}': expected a table, got {type(table).__name__}")
    data = dict(table)
    data.setdefault("name", name)
    if data["name"] != name:
        raise ConfigError(f"{source}: system '{name}': name: must match the table name, got {data['name']!r}")
    try:
        system = SystemConfig.model_validate(data)
        return system.with_origin(source, base_dir) if base_dir is not None else system
    except ValidationError as exc:
        parts = []
        for err in exc.errors(include_url=False):
            loc = ".".join(str(p) for p in err["loc"]) or "system"
            parts.append(f"{loc}: {err['msg']}")
        raise ConfigError(f"{source}: system '{name}': {'; '.join(parts)}") from None


def load_systems(project_dir: Path | None = None) -> dict[str, SystemConfig]:
    """Builtin systems, then ``runners/systems.toml``, then ``[tool.baton.systems.NAME]``."""
    systems = dict(BUILTIN_SYSTEMS)
    if project_dir is None:
        return systems
    project_dir = Path(project_dir)
    file = project_dir / SYSTEMS_FILE
    if file.is_file():
        for name, table in read_toml(file).items():
            systems[name] = _parse_system(name, table, str(file), project_dir.resolve())
    tables, source = tool_baton_table(project_dir, "systems")
    for name, table in tables.items():
        systems[name] = _parse_system(name, table, source, project_dir.resolve())
    return systems


def resolve_systems(names: Sequence[str], known: Mapping[str, SystemConfig]) -> list[SystemConfig]:
    out = []
    for name in names:
        if name not in known:
            raise ConfigError(f"unknown system '{name}'; known systems: {', '.join(sorted(known))} "
                              f"(add one in {SYSTEMS_FILE} or [tool.baton.systems.NAME])")
        out.append(known[name])
    return out


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


# --------------------------------------------------------------------------- tasks


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


# --------------------------------------------------------------------------- a run plan


@dataclass(frozen=True)
class RunPlan:
    """A matrix ready to run, the vendor profiles it resolves against, and how it was chosen
    (``invocation``, stored in the manifest so ``--resume`` can rebuild it)."""

    matrix: Matrix
    profiles: Mapping[str, VendorProfile]
    project_dir: Path
    invocation: dict[str, Any]


def plan_run(project_dir: Path, *, settings: RunSettings | None = None, tasks: Path | str | None = None,
             task_filter: str | None = None, systems: Sequence[str] | str | None = None,
             vendors: Sequence[str] | str | None = None, trials: int | None = None, seed: int | None = None,
             modes: Sequence[str] | str | None = None, vendors_file: Path | str | None = None,
             supports: Supports | None = None,
             vendor_limits: Mapping[str, Mapping[str, Any]] | None = None) -> RunPlan:
    """Build the matrix from explicit choices, falling back to ``[tool.baton.run]`` settings.

    Explicit paths are taken as given (relative to the working directory); paths from the
    settings are relative to ``project_dir``."""
    from baton.fixtures import load_tasks
    from baton.vendor_config import load_profiles

    project_dir = Path(project_dir).resolve()
    settings = settings or load_settings(project_dir)
    system_names = parse_names(systems, "--systems") if systems is not None else settings.systems
    vendor_names = parse_names(vendors, "--vendors") if vendors is not None else settings.vendors
    trials = trials if trials is not None else settings.trials
    _int(trials, "trials", 1)
    seed = seed if seed is not None else settings.seed
    modes = parse_modes(modes, "--modes") if modes is not None else settings.modes
    extra = Path(vendors_file).resolve() if vendors_file is not None else None
    profiles = load_profiles(project_dir, extra)
    chosen_systems = resolve_systems(system_names, load_systems(project_dir))
    from baton.preflight import check_systems  # adapter targets import now: one error line, before any run

    if target_problems := check_systems(chosen_systems):
        raise ConfigError("\n".join(target_problems))
    vendors_used(Matrix(tasks=[], systems=chosen_systems, vendors=list(vendor_names), modes=("system",)), profiles)
    tasks_path = Path(tasks).resolve() if tasks is not None else (project_dir / settings.tasks).resolve()
    if not tasks_path.exists():
        raise ConfigError(f"tasks: {tasks_path} does not exist (a golden-set folder, domain folder, "
                          f"task file or exported .jsonl/.parquet)")
    chosen_filter = task_filter if task_filter is not None else settings.task_filter
    golden = select_tasks(load_tasks(tasks_path), chosen_filter, str(tasks_path))
    limits = resolve_vendor_limits(vendor_limits or {}, golden, vendor_names, str(tasks_path))
    matrix = Matrix(tasks=golden, systems=chosen_systems, vendors=list(vendor_names), trials=trials, seed=seed,
                    modes=modes, supports=supports, limits=limits)
    invocation = {"project_dir": str(project_dir), "tasks": str(tasks_path), "task_filter": chosen_filter,
                  "systems": list(system_names), "vendors": list(vendor_names), "trials": trials,
                  "seed": seed, "modes": list(modes), "vendors_file": str(extra) if extra else None}
    if vendor_limits:
        invocation["vendor_limits"] = {v: dict(spec) for v, spec in vendor_limits.items()}
    return RunPlan(matrix=matrix, profiles=profiles, project_dir=project_dir, invocation=invocation)


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
            _int(trials, f"vendor limit for '{vendor}': trials", 1)
        modes = spec.get("modes")
        chosen_modes = frozenset(parse_modes(modes, f"vendor limit for '{vendor}': modes")) if modes else None
        limits[vendor] = VendorLimit(tasks=chosen, trials=trials, modes=chosen_modes)
    return limits
