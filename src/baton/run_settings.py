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

__all__ = ["int_at_least", "modes_of", "names_of", "COMPARE_KEYS", "DEFAULT_SYSTEMS", "DEFAULT_VENDORS", "Execution", "RunSettings",
           "check_int", "load_compare_table", "load_settings", "parse_modes", "parse_names"]

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


def names_of(value: Any) -> tuple[str, ...]:
    """A list of names from a list of strings or one comma-separated string; duplicates dropped.
    A ``ValueError`` says what was expected."""
    if isinstance(value, str):
        items = [part.strip() for part in value.split(",")]
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        items = [v.strip() for v in value]
    else:
        raise ValueError(f"expected a list of names or a comma-separated string, got {value!r}")
    names = tuple(dict.fromkeys(i for i in items if i))
    if not names:
        raise ValueError("expected at least one name")
    return names


def modes_of(value: Any) -> tuple[str, ...]:
    """Modes: 'system' or 'isolated:<hop>' with a hop some registered architecture can run isolated
    (:func:`baton.runners.registry.isolated_hops`; the registry loads only when such a mode is named)."""
    modes = names_of(value)
    if all(mode == "system" for mode in modes):
        return modes
    from baton.runners.registry import isolated_hops

    hops = isolated_hops()
    for mode in modes:
        if mode == "system":
            continue
        kind, _, hop = mode.partition(":")
        if kind != "isolated" or hop not in hops:
            raise ValueError(f"unknown mode '{mode}'; expected 'system' or 'isolated:<hop>' "
                             f"with hop one of {', '.join(hops)}")
    return modes


def int_at_least(value: Any, minimum: int) -> int:
    """``value`` when it is an integer (not a boolean) >= ``minimum``; else a ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"expected an integer >= {minimum}, got {value!r}")
    return value


def parse_names(value: Any, where: str) -> tuple[str, ...]:
    """:func:`names_of`, its error a :class:`ConfigError` naming ``where``."""
    try:
        return names_of(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def parse_modes(value: Any, where: str = "modes") -> tuple[str, ...]:
    """:func:`modes_of`, its error a :class:`ConfigError` naming ``where``."""
    try:
        return modes_of(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def check_int(value: Any, where: str, minimum: int) -> int:
    """:func:`int_at_least`, its error a :class:`ConfigError` naming ``where``."""
    try:
        return int_at_least(value, minimum)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def load_settings(project_dir: Path) -> RunSettings:
    """Read ``[tool.baton.run]`` from ``project_dir/pyproject.toml`` (the whole ``[tool.baton]``
    table is checked by :func:`baton.config_model.load_config`); unknown keys are an error."""
    from baton.config_model import load_config

    project_dir = Path(project_dir)
    config = load_config(project_dir)
    table = config.model.run
    return RunSettings(project_dir=project_dir, tasks=table.tasks, task_filter=table.task_filter,
                       systems=table.systems, vendors=table.vendors, trials=table.trials, seed=table.seed,
                       modes=table.modes, concurrency=table.concurrency, out=table.out, cache=table.cache,
                       cache_dir=table.cache_dir, source=config.source("run"), raw=config.raw.get("run", {}))


COMPARE_KEYS = frozenset({"vendors", "systems", "trials", "modes", "task_filter", "local_tasks", "local_trials",
                          "seed"})
"""The keys of ``[tool.baton.compare]`` (``baton compare``'s defaults, same names as its flags)."""


def load_compare_table(project_dir: Path) -> tuple[Mapping[str, Any], str]:
    """``[tool.baton.compare]`` and its label; unknown keys are an error. Values are checked where
    ``baton compare`` combines them with its flags."""
    from baton.config_model import load_config

    config = load_config(Path(project_dir))  # checks the table: unknown keys, kinds of values
    return config.raw.get("compare", {}), config.source("compare")
