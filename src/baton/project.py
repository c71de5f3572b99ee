"""The project's ``pyproject.toml``: where the project is, and its ``[tool.baton...]`` tables.

Every reader of Baton's configuration (run settings, compare settings, gates, vendor profiles,
systems, OpenTelemetry) gets its table here. A file is parsed once per process (cached by its
content), so the five readers of one ``pyproject.toml`` share one parse.
"""

from __future__ import annotations

import copy
import hashlib
import tomllib
from pathlib import Path
from typing import Any

from baton.errors import ConfigError

__all__ = ["find_project_dir", "read_toml", "tool_baton_table"]

_PARSED: dict[bytes, dict[str, Any]] = {}


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
        data = path.read_bytes()  # keyed by content, not by modification time: a file rewritten
        key = hashlib.blake2b(data, digest_size=16).digest()  # within a timestamp tick is read anew
        if key not in _PARSED:
            _PARSED[key] = tomllib.loads(data.decode("utf-8"))
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
