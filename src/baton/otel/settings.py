"""Where finished runs are exported as OpenTelemetry traces: ``[tool.baton.otel]`` and flags.

Off unless an endpoint or a file is named::

    [tool.baton.otel]
    endpoint = "http://localhost:4318"      # OTLP/HTTP collector (/v1/traces is appended)
    file = "reports/spans.jsonl"            # OTLP JSON lines, for offline use
    content = true                           # answers, tool arguments and results on spans

``--otel-endpoint URL`` and ``--otel-file PATH`` on ``baton run`` / ``baton compare`` override
the table. They are the built-in exporters ``otlp-http`` and ``jsonl-file``
(:mod:`baton.otel.exporters`); a registered exporter is named with its destination in
``[tool.baton.otel.export]`` (``my-exporter = "DESTINATION"``) or ``--otel-export KIND=DEST``. Credentials never go in the table: the OTLP exporter reads the standard
``OTEL_EXPORTER_OTLP_HEADERS`` / ``OTEL_EXPORTER_OTLP_TRACES_HEADERS`` environment variables.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from baton.errors import ConfigError

_KEYS = frozenset({"endpoint", "file", "content", "ingest", "export"})  # ingest: baton.otel.ingest


@dataclass(frozen=True, slots=True)
class OtelSettings:
    """Export targets; ``enabled`` is False when neither is set (the default)."""

    endpoint: str | None = None
    file: Path | None = None
    content: bool = True
    exporters: tuple[tuple[str, str], ...] = ()
    """(registered exporter kind, destination) pairs besides ``endpoint`` and ``file``."""
    plugins: tuple[str, ...] = ()
    plugin_base: Path | None = None
    """The project's ``[tool.baton] plugins`` and their folder: a spawned exporter process loads
    them again, so an exporter a project file registers is found there too."""

    @property
    def enabled(self) -> bool:
        return bool(self.destinations())

    def destinations(self) -> list[tuple[str, str]]:
        """Every (exporter kind, destination), the built-ins first."""
        built_in = [("otlp-http", self.endpoint)] if self.endpoint is not None else []
        built_in += [("jsonl-file", str(self.file))] if self.file is not None else []
        return [*built_in, *self.exporters]


def check_exporter(spec: tuple[str, str], where: str, project_dir: Path) -> tuple[str, str]:
    """(kind, destination) with the kind registered and a path destination made absolute."""
    from baton.otel.exporters import EXPORTERS

    kind, destination = spec
    if ":" not in kind:  # a 'module:attribute' target is imported by EXPORTERS.get below
        EXPORTERS.validate(kind, where)
    if not destination:
        raise ConfigError(f"{where}: {kind}: expected a destination (a URL, a path...), got an empty string")
    if EXPORTERS.get(kind).path:
        destination = str(project_dir / destination)
    return kind, destination


def parse_export_flag(text: str) -> tuple[str, str]:
    """``--otel-export KIND=DESTINATION``."""
    kind, sep, destination = text.partition("=")
    if not sep or not kind.strip():
        raise ConfigError(f"--otel-export: expected KIND=DESTINATION (e.g. jsonl-file=spans.jsonl), got {text!r}")
    return kind.strip(), destination.strip()


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
    export = table.get("export", {})
    if not isinstance(export, dict):
        raise ConfigError(f"{source}: export: expected a table of exporter = \"destination\", got {export!r}")
    exporters = []
    for kind, destination in export.items():
        if not isinstance(destination, str):
            raise ConfigError(f"{source}: export.{kind}: expected a destination string, got {destination!r}")
        exporters.append(check_exporter((kind, destination), f"{source}: export", project_dir))
    return OtelSettings(endpoint=check_endpoint(endpoint, f"{source}: endpoint") if endpoint else None,
                        file=(project_dir / file) if file else None, content=content, exporters=tuple(exporters))


def load_otel_settings(project_dir: Path, *, endpoint: str | None = None, file: Path | None = None,
                       exporters: list[str] | None = None) -> OtelSettings:
    """The project's ``[tool.baton.otel]``, overridden by the command line's ``endpoint``/``file``;
    ``exporters`` (``KIND=DESTINATION`` each) are added to the table's."""
    from dataclasses import replace

    from baton.config_model import load_plugins
    from baton.matrix import tool_baton_table

    config = load_plugins(project_dir)  # the project's own plugins may register exporters
    table, source = tool_baton_table(project_dir, "otel")
    settings = parse_otel_table(table, source, project_dir)
    added = [check_exporter(parse_export_flag(text), "--otel-export", Path.cwd()) for text in exporters or ()]
    settings = replace(settings, exporters=(*settings.exporters, *added), plugins=config.model.plugins,
                       plugin_base=config.pyproject.parent)
    if endpoint is not None:
        settings = replace(settings, endpoint=check_endpoint(endpoint, "--otel-endpoint"))
    if file is not None:
        settings = replace(settings, file=file)
    return settings
