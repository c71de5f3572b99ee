"""The run settings of a project: ``[tool.baton.run]``, with Baton's defaults.

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

:func:`parse_names` and :func:`parse_modes` check the same values given as flags.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baton.errors import ConfigError
from baton.project import tool_baton_table

__all__ = ["COMPARE_KEYS", "DEFAULT_SYSTEMS", "DEFAULT_VENDORS", "ISOLATED_HOPS", "Execution", "RunSettings",
           "check_int", "load_compare_table", "load_settings", "parse_modes", "parse_names"]

ISOLATED_HOPS = ("route", "retrieve", "draft", "act", "verify")
DEFAULT_SYSTEMS = ("naive", "rag", "multi_agent")
DEFAULT_VENDORS = ("sim-frontier",)


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

    def execution(self, *, concurrency: int | None = None, no_cache: bool = False,
                  cache_dir: Path | None = None) -> Execution:
        """How runs execute, flags over these settings: the one resolution ``baton run``,
        ``baton compare`` and the pytest plugin share (a relative ``cache_dir`` setting is
        relative to the project)."""
        return Execution(concurrency=concurrency or self.concurrency, use_cache=self.cache and not no_cache,
                         cache_dir=cache_dir if cache_dir is not None else self.project_dir / self.cache_dir)


@dataclass(frozen=True, slots=True)
class Execution:
    """Runs in flight at once, and whether and where responses are cached."""

    concurrency: int
    use_cache: bool
    cache_dir: Path


_SETTING_KEYS = frozenset({"tasks", "task_filter", "systems", "vendors", "trials", "seed", "modes",
                           "concurrency", "out", "cache", "cache_dir"})


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
    """Validate modes: 'system' or 'isolated:<hop>' with hop in route|retrieve|draft|act|verify."""
    modes = parse_names(value, where)
    for mode in modes:
        if mode == "system":
            continue
        kind, _, hop = mode.partition(":")
        if kind != "isolated" or hop not in ISOLATED_HOPS:
            raise ConfigError(f"{where}: unknown mode '{mode}'; expected 'system' or 'isolated:<hop>' "
                              f"with hop one of {', '.join(ISOLATED_HOPS)}")
    return modes


def check_int(value: Any, where: str, minimum: int) -> int:
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
        trials=check_int(raw.get("trials", 1), where("trials"), 1),
        seed=seed,
        modes=parse_modes(raw.get("modes", ["system"]), where("modes")),
        concurrency=check_int(raw.get("concurrency", 32), where("concurrency"), 1),
        out=path("out", "reports"),
        cache=cache,
        cache_dir=path("cache_dir", ".baton-cache"),
        source=source,
        raw=raw,
    )


COMPARE_KEYS = frozenset({"vendors", "systems", "trials", "modes", "task_filter", "local_tasks", "local_trials",
                          "seed"})
"""The keys of ``[tool.baton.compare]`` (``baton compare``'s defaults, same names as its flags)."""


def load_compare_table(project_dir: Path) -> tuple[Mapping[str, Any], str]:
    """``[tool.baton.compare]`` and its label; unknown keys are an error. Values are checked where
    ``baton compare`` combines them with its flags."""
    raw, source = tool_baton_table(project_dir, "compare")
    if unknown := sorted(set(raw) - COMPARE_KEYS):
        raise ConfigError(f"{source}: unknown setting(s) {', '.join(unknown)}; expected some of "
                          f"{', '.join(sorted(COMPARE_KEYS))}")
    return raw, source
