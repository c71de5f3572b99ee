"""``[tool.baton]`` as one pydantic model, read once per project.

The tables a project's ``pyproject.toml`` may hold under ``[tool.baton]``::

    [tool.baton.run]            # defaults of baton run and pytest evals/  (RunTable)
    [tool.baton.compare]        # defaults of baton compare                (CompareTable)
    [[tool.baton.gates]]        # quality gates                            (baton.gates.Gate)
    [tool.baton.vendors.NAME]   # vendor profiles                          (baton.vendors.VendorProfile)
    [tool.baton.systems.NAME]   # named systems                            (baton.systems.SystemConfig)
    [tool.baton.otel]           # OpenTelemetry export and ingest          (baton.otel.settings)
    plugins = ["checks/mine.py", "mypkg.checks"]   # the project's own plugins, imported first

:func:`load_config` checks the whole table once: an unknown table or setting, or a value of the
wrong kind, is a :class:`ConfigError` naming the file, the table, the key and what was expected
(formatted by :func:`baton.problems.describe_validation`, as every configuration error is). The
profiles, systems, gates and OpenTelemetry tables are validated field by field by the modules
that own their types; here they must be tables (an array of tables for gates).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from baton.errors import ConfigError
from baton.problems import describe_validation
from baton.project import read_toml
from baton.run_settings import DEFAULT_SYSTEMS, DEFAULT_VENDORS, int_at_least, modes_of, names_of

__all__ = ["BatonTable", "CompareTable", "ProjectConfig", "RunTable", "load_config", "load_plugins"]


def _path(value: Any) -> Path:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a path string, got {value!r}")
    return Path(value)


def _glob(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"expected a glob string, got {value!r}")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {value!r}")
    return value


def _positive(value: Any) -> int:
    return int_at_least(value, 1)


Names = Annotated[tuple[str, ...], BeforeValidator(names_of)]
Modes = Annotated[tuple[str, ...], BeforeValidator(modes_of)]
Positive = Annotated[int, BeforeValidator(_positive)]
PathSetting = Annotated[Path, BeforeValidator(_path)]


class RunTable(BaseModel):
    """``[tool.baton.run]``: what ``baton run`` and ``pytest evals/`` run when no flag says."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tasks: PathSetting = Path("fixtures")
    task_filter: Annotated[str | None, BeforeValidator(_glob)] = None
    systems: Names = DEFAULT_SYSTEMS
    vendors: Names = DEFAULT_VENDORS
    trials: Positive = 1
    seed: Annotated[int, BeforeValidator(_integer)] = 0
    modes: Modes = ("system",)
    concurrency: Positive = 32
    out: PathSetting = Path("reports")
    cache: Annotated[bool, BeforeValidator(_bool)] = True
    cache_dir: PathSetting = Path(".baton-cache")


class CompareTable(BaseModel):
    """``[tool.baton.compare]``: ``baton compare``'s defaults (its flags, with underscores)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vendors: Names | None = None
    systems: Names | None = None
    trials: Positive | None = None
    modes: Modes | None = None
    task_filter: Annotated[str | None, BeforeValidator(_glob)] = None
    local_tasks: Annotated[str | None, BeforeValidator(_glob)] = None
    local_trials: Positive | None = None
    seed: Annotated[int | None, BeforeValidator(_integer)] = None


class BatonTable(BaseModel):
    """The whole ``[tool.baton]`` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run: RunTable = RunTable()
    compare: CompareTable = CompareTable()
    gates: list[dict[str, Any]] = []
    vendors: dict[str, Any] = {}
    systems: dict[str, Any] = {}
    otel: dict[str, Any] = {}
    plugins: tuple[str, ...] = ()


_TABLES = {"run": dict, "compare": dict, "gates": list, "vendors": dict, "systems": dict, "otel": dict,
           "plugins": list}


def _plugins(raw: Mapping[str, Any], config: ProjectConfig) -> tuple[str, ...]:
    """``plugins``: files (relative to the pyproject's folder) or module names, imported once,
    before the tables that may name what they register are checked."""
    from baton.registry import load_project_plugins

    specs = raw.get("plugins", [])
    bad = [s for s in specs if not isinstance(s, str) or not s.strip()]
    if bad:
        raise ConfigError(f"{config.source()}: plugins: expected a list of Python files relative to "
                          f"{config.pyproject.parent} or module names, got {bad[0]!r}")
    load_project_plugins(specs, config.pyproject.parent, config.source())
    return tuple(specs)


@dataclass(frozen=True)
class ProjectConfig:
    """A project's ``[tool.baton]``: the raw tables, the validated model, and labels for errors."""

    pyproject: Path
    raw: Mapping[str, Any]
    model: BatonTable

    def source(self, *sub: str) -> str:
        """``<path>/pyproject.toml [tool.baton.<sub>]``: where a setting came from, for messages."""
        return f"{self.pyproject} [{'.'.join(('tool', 'baton', *sub))}]"


def _table(model: type[BaseModel], raw: Any, source: str) -> Any:
    keys = sorted(model.model_fields)
    if unknown := sorted(set(raw) - set(keys)):
        raise ConfigError(f"{source}: unknown setting(s) {', '.join(unknown)}; expected some of {', '.join(keys)}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe_validation(exc)}") from None


def load_plugins(project_dir: Path) -> ProjectConfig:
    """Only ``[tool.baton] plugins``, checked and imported (once): for commands that read stored
    runs (``baton report``, ``baton otel export``), which must not fail on a run table they do
    not use. ``model.plugins`` holds the entries."""
    pyproject = Path(project_dir) / "pyproject.toml"
    data: Any = read_toml(pyproject) if pyproject.is_file() else {}
    raw = data.get("tool", {}).get("baton", {}) if isinstance(data.get("tool", {}), dict) else None
    if not isinstance(raw, dict):
        raise ConfigError(f"{pyproject}: tool.baton: expected a table")
    config = ProjectConfig(pyproject, raw, BatonTable())
    if "plugins" in raw and not isinstance(raw["plugins"], list):
        raise ConfigError(f"{pyproject}: tool.baton.plugins: expected a list of Python files or module names")
    return ProjectConfig(pyproject, raw, BatonTable.model_construct(plugins=_plugins(raw, config)))


def load_config(project_dir: Path) -> ProjectConfig:
    """Read and check ``[tool.baton]`` of ``project_dir/pyproject.toml`` (defaults without the file)."""
    pyproject = Path(project_dir) / "pyproject.toml"
    data: Any = read_toml(pyproject) if pyproject.is_file() else {}
    raw = data.get("tool", {}).get("baton", {}) if isinstance(data.get("tool", {}), dict) else None
    if not isinstance(raw, dict):
        raise ConfigError(f"{pyproject}: tool.baton: expected a table")
    config = ProjectConfig(pyproject, raw, BatonTable())
    if unknown := sorted(set(raw) - set(_TABLES)):
        raise ConfigError(f"{config.source()}: unknown table(s) {', '.join(unknown)}; expected some of "
                          f"{', '.join(sorted(_TABLES))}")
    for name, kind in _TABLES.items():
        if name in raw and not isinstance(raw[name], kind):
            expected = ("a list of Python files or module names" if name == "plugins" else
                        "an array of tables ([[tool.baton.gates]])" if kind is list else "a table")
            raise ConfigError(f"{pyproject}: tool.baton.{name}: expected {expected}")
    plugins = _plugins(raw, config)
    run = _table(RunTable, raw.get("run", {}), config.source("run"))
    compare = _table(CompareTable, raw.get("compare", {}), config.source("compare"))
    model = BatonTable.model_construct(run=run, compare=compare, gates=list(raw.get("gates", [])),
                                       vendors=dict(raw.get("vendors", {})), systems=dict(raw.get("systems", {})),
                                       otel=dict(raw.get("otel", {})), plugins=plugins)
    return ProjectConfig(pyproject, raw, model)
