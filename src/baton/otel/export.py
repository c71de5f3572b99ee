"""Send runs to OpenTelemetry: an OTLP/HTTP collector and/or an OTLP JSON-lines file.

The file holds one OTLP ``ExportTraceServiceRequest`` per line in the OTLP/JSON encoding (hex
trace and span ids, as the OpenTelemetry Collector's file exporter writes them), so any
OTLP-aware tool, ``jq``, or ``baton``'s own trace ingestion (:mod:`baton.otel.ingest`) reads it.

Spans are built from the stored result lines (``results.jsonl``, secrets already redacted by the
store): during a run by :mod:`baton.otel.stream`, which follows the file as the engine appends to
it, or afterwards for a whole run directory (:func:`export_run_dir`, ``baton otel export``). The
file is written by :mod:`baton.otel.otlp_json` without SDK span objects; the OTLP/HTTP endpoint
goes through the SDK's ``OTLPSpanExporter`` (protobuf, ``OTEL_EXPORTER_OTLP_*`` headers, TLS,
compression and retries).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from baton.errors import BatonError
from baton.otel.settings import OtelSettings
from baton.otel.spans import SpanRecord, parse_record, record_spans

BATCH_SPANS = 2048


def require_sdk() -> None:
    """A clear error when the optional extra is missing."""
    try:
        import opentelemetry.sdk.trace  # noqa: F401
        import opentelemetry.exporter.otlp.proto.common  # noqa: F401
    except ImportError:
        raise BatonError("OpenTelemetry export needs the optional extra: pip install 'baton-evals[otel]'") from None


class BadRecordError(BatonError):
    """A stored line is not a RunResult; ``spans`` holds those of the records before it."""

    def __init__(self, message: str, spans: list[SpanRecord]) -> None:
        super().__init__(message)
        self.spans = spans


def bad_record(path: Path, number: int, line: bytes) -> str:
    """The error for a stored line that is not a RunResult, naming the file, record and field."""
    from pydantic import ValidationError

    from baton.result import RunResult

    try:
        RunResult.model_validate_json(line)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in first["loc"]) or "record"
        return f"{path}: record {number}: {loc}: {first['msg']}"
    return f"{path}: record {number}: not a stored run result this version of Baton can export"


class SpanBuilder:
    """Stored result lines -> spans, with the run's identity (run key, fixture set hash)."""

    def __init__(self, path: Path, *, run_key: str = "", fixture_set_hash: str | None = None,
                 content: bool = True) -> None:
        self.path = path
        self.options: dict[str, Any] = {"run_key": run_key, "fixture_set_hash": fixture_set_hash, "content": content}
        self.records = 0

    def spans(self, lines: Iterable[bytes]) -> list[SpanRecord]:
        """The spans of ``lines``; a line that is not a RunResult raises :class:`BadRecordError`."""
        out: list[SpanRecord] = []
        for line in lines:
            self.records += 1
            try:
                out += record_spans(parse_record(line), **self.options)
            except (ValueError, KeyError, TypeError, AttributeError, IndexError):
                raise BadRecordError(bad_record(self.path, self.records, line), out) from None
        return out

    def send(self, lines: Iterable[bytes], sinks: Sinks) -> None:
        """Build and send the spans of ``lines``; before a bad record's error, those before it."""
        try:
            spans = self.spans(lines)
        except BadRecordError as exc:
            sinks.send(exc.spans)
            raise
        sinks.send(spans)


def check_destinations(settings: OtelSettings) -> None:
    """Fail before a run, not after it, when a destination cannot be used (a span file that
    cannot be written, an exporter kind that is not registered)."""
    from baton.otel.exporters import EXPORTERS

    _load_plugins(settings)
    for kind, destination in settings.destinations():
        check = EXPORTERS.get(kind).check
        if check is not None:
            check(destination)


def _load_plugins(settings: OtelSettings) -> None:
    if settings.plugins and settings.plugin_base is not None:  # a spawned exporter process
        from baton.registry import load_project_plugins

        load_project_plugins(settings.plugins, settings.plugin_base, f"{settings.plugin_base / 'pyproject.toml'}")


class Sinks:
    """The configured destinations of one export: one sink per registered exporter named
    (:mod:`baton.otel.exporters`), each sent every batch."""

    def __init__(self, settings: OtelSettings) -> None:
        from opentelemetry.sdk.resources import Resource  # honours OTEL_RESOURCE_ATTRIBUTES / OTEL_SERVICE_NAME
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        from baton import __version__
        from baton.otel.exporters import EXPORTERS, ExportContext

        self.settings = settings
        self.sent = 0
        context = ExportContext(Resource.create({"service.name": "baton", "service.version": __version__}),
                                InstrumentationScope("baton", __version__))
        _load_plugins(settings)
        self._sinks: list[Any] = []
        try:
            for kind, destination in settings.destinations():
                self._sinks.append(EXPORTERS.get(kind).open(destination, context))
        except BaseException:
            self.close()
            raise

    def send(self, spans: list[SpanRecord]) -> None:
        """Export ``spans`` to every destination, in batches of at most :data:`BATCH_SPANS`."""
        for start in range(0, len(spans), BATCH_SPANS):
            batch = spans[start:start + BATCH_SPANS]
            for sink in self._sinks:
                sink.send(batch)
            self.sent += len(batch)

    def flush(self) -> None:
        for sink in self._sinks:
            sink.flush()

    def close(self) -> None:
        for sink in self._sinks:
            sink.close()


def _chunks(lines: Iterable[bytes], size: int) -> Iterator[list[bytes]]:
    chunk: list[bytes] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def export_run_dir(run_dir: Path, settings: OtelSettings) -> int:
    """Export every stored run of ``run_dir`` (the latest record of each key); returns the number
    of spans sent (0 when off)."""
    if not settings.enabled:
        return 0
    require_sdk()
    from baton.manifest import read_manifest
    from baton.store import iter_records, results_path

    manifest = read_manifest(run_dir)
    builder = SpanBuilder(results_path(run_dir), run_key=manifest.run_key,
                          fixture_set_hash=manifest.config.fixture_set_hash, content=settings.content)
    sinks = Sinks(settings)
    try:
        for chunk in _chunks((line for _, line in iter_records(run_dir, keys=False)), 256):
            builder.send(chunk, sinks)
    finally:
        sinks.close()
    return sinks.sent
