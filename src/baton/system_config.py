"""The systems a project can run.

Systems are Baton's builtin ones (``baton.systems.BUILTIN_SYSTEMS``), then one table per system
in ``runners/systems.toml``, then ``[tool.baton.systems.NAME]`` tables; later ones override
earlier ones by name::

    [multi_agent_small_router]
    architecture = "multi_agent"
    roles = { router = "local-smollm2" }
    params = { max_revisions = 1 }
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from baton.errors import ConfigError
from baton.problems import describe_validation
from baton.project import read_toml, tool_baton_table
from baton.systems import BUILTIN_SYSTEMS, SystemConfig

__all__ = ["SYSTEMS_FILE", "load_systems", "resolve_systems"]

SYSTEMS_FILE = "runners/systems.toml"
_MAY_HOLD_SECRETS = frozenset({"params", "headers", "env"})  # their values are never echoed in errors


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
        raise ConfigError(f"{source}: system '{name}': "
                          f"{describe_validation(exc, hidden=_MAY_HOLD_SECRETS, what='system')}") from None


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
