"""The project's ``pyproject.toml``: where the project is, and its ``[tool.baton...]`` tables.

Every reader of Baton's configuration (run settings, compare settings, gates, vendor profiles,
systems, OpenTelemetry) gets its table here. A file is parsed once per process (cached by path,
size and modification time), so the five readers of one ``pyproject.toml`` share one parse.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

from baton.errors import ConfigError

__all__ = ["find_project_dir", "read_toml", "tool_baton_table"]

_PARSED: dict[tuple[str, int, int], dict[str, Any]] = {}


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
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if key not in _PARSED:
            with path.open("rb") as fh:
                _PARSED[key] = tomllib.load(fh)
        return copy.deepcopy(_PARSED[key])  # callers may change what they get
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
