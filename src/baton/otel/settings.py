"""Where finished runs are exported as OpenTelemetry traces: ``[tool.baton.otel]`` and flags.

Off unless an endpoint or a file is named::

    [tool.baton.otel]
    endpoint = "http://localhost:4318"      # OTLP/HTTP collector (/v1/traces is appended)
    file = "reports/spans.jsonl"            # OTLP JSON lines, for offline use
    content = true                           # answers, tool arguments and results on spans

``--otel-endpoint URL`` and ``--otel-file PATH`` on ``baton run`` / ``baton compare`` override
the table. Credentials never go in the table: the OTLP exporter reads the standard
``OTEL_EXPORTER_OTLP_HEADERS`` / ``OTEL_EXPORTER_OTLP_TRACES_HEADERS`` environment variables.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from baton.errors import ConfigError

_KEYS = frozenset({"endpoint", "file", "content", "ingest"})  # ingest: baton.otel.ingest


@dataclass(frozen=True, slots=True)
class OtelSettings:
    """Export targets; ``enabled`` is False when neither is set (the default)."""

    endpoint: str | None = None
    file: Path | None = None
    content: bool = True

    @property
    def enabled(self) -> bool:
        return self.endpoint is not None or self.file is not None


def check_endpoint(value: str, where: str) -> str:
    """An OTLP/HTTP endpoint URL, or a ConfigError naming ``where``."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{where}: expected an http(s) URL such as http://localhost:4318, got {value!r}")
    if parts.username or parts.password:
        raise ConfigError(f"{where}: credentials do not belong in the URL; set OTEL_EXPORTER_OTLP_HEADERS")
    return value


def parse_otel_table(table: dict[str, Any], source: str, project_dir: Path) -> OtelSettings:
    """``[tool.baton.otel]`` as settings; unknown keys and wrong types are errors naming the key."""
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(unknown)}; expected {', '.join(sorted(_KEYS))}")
    endpoint = table.get("endpoint")
    if endpoint is not None and not isinstance(endpoint, str):
        raise ConfigError(f"{source}: endpoint: expected a URL string, got {type(endpoint).__name__}")
    file = table.get("file")
    if file is not None and not isinstance(file, str):
        raise ConfigError(f"{source}: file: expected a path string, got {type(file).__name__}")
    content = table.get("content", True)
    if not isinstance(content, bool):
        raise ConfigError(f"{source}: content: expected true or false, got {content!r}")
    return OtelSettings(endpoint=check_endpoint(endpoint, f"{source}: endpoint") if endpoint else None,
                        file=(project_dir / file) if file else None, content=content)


def load_otel_settings(project_dir: Path, *, endpoint: str | None = None, file: Path | None = None) -> OtelSettings:
    """The project's ``[tool.baton.otel]``, overridden by the command line's ``endpoint``/``file``."""
    from baton.matrix import tool_baton_table

    table, source = tool_baton_table(project_dir, "otel")
    settings = parse_otel_table(table, source, project_dir)
    if endpoint is not None:
        settings = OtelSettings(endpoint=check_endpoint(endpoint, "--otel-endpoint"), file=settings.file,
                                content=settings.content)
    if file is not None:
        settings = OtelSettings(endpoint=settings.endpoint, file=file, content=settings.content)
    return settings
