"""Send a run directory's runs to OpenTelemetry: an OTLP/HTTP collector and/or an OTLP JSON file.

The file holds one OTLP ``ExportTraceServiceRequest`` per line in the OTLP/JSON encoding (hex
trace and span ids, as the OpenTelemetry Collector's file exporter writes them), so any
OTLP-aware tool, ``jq``, or ``baton``'s own trace ingestion (:mod:`baton.otel.ingest`) reads it.
Export happens after the run from ``results.jsonl``: the run itself never waits on it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from baton.errors import BatonError
from baton.otel.settings import OtelSettings

BATCH_SPANS = 2048


def _require_sdk() -> None:
    try:
        import opentelemetry.sdk.trace  # noqa: F401
        import opentelemetry.exporter.otlp.proto.common  # noqa: F401
    except ImportError:
        raise BatonError("OpenTelemetry export needs the optional extra: pip install 'baton-evals[otel]'") from None


def _any_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [_any_value(v) for v in value]}}
    return {"stringValue": str(value)}


def _key_values(attributes: Any) -> list[dict[str, Any]]:
    return [{"key": k, "value": _any_value(v)} for k, v in (attributes or {}).items()]


def _span_json(span: Any) -> dict[str, Any]:
    ctx = span.context
    out: dict[str, Any] = {"traceId": f"{ctx.trace_id:032x}", "spanId": f"{ctx.span_id:016x}",
                           "name": span.name, "kind": span.kind.value + 1,
                           "startTimeUnixNano": str(span.start_time), "endTimeUnixNano": str(span.end_time),
                           "attributes": _key_values(span.attributes)}
    if span.parent is not None:
        out["parentSpanId"] = f"{span.parent.span_id:016x}"
    if span.events:
        out["events"] = [{"timeUnixNano": str(e.timestamp), "name": e.name, "attributes": _key_values(e.attributes)}
                         for e in span.events]
    status = span.status
    if status.status_code.value:
        out["status"] = {"code": status.status_code.value, **({"message": status.description}
                                                                if status.description else {})}
    return out


def otlp_json(spans: Sequence[Any]) -> dict[str, Any]:
    """``spans`` (SDK ReadableSpans) as one OTLP/JSON ExportTraceServiceRequest.

    Written directly (the OTLP/JSON mapping: hex ids, int64 as strings, enum values as numbers):
    going through protobuf's generic ``MessageToDict`` costs ten times as much per span."""
    groups: dict[tuple[int, Any], list[Any]] = {}
    resources: dict[int, Any] = {}
    for span in spans:
        resources[id(span.resource)] = span.resource
        groups.setdefault((id(span.resource), span.instrumentation_scope), []).append(span)
    by_resource: dict[int, list[dict[str, Any]]] = {}
    for (rid, scope), members in groups.items():
        scope_json = {"name": scope.name, **({"version": scope.version} if scope.version else {})} if scope else {}
        by_resource.setdefault(rid, []).append({"scope": scope_json, "spans": [_span_json(s) for s in members]})
    return {"resourceSpans": [{"resource": {"attributes": _key_values(resources[rid].attributes)},
                               "scopeSpans": scope_spans} for rid, scope_spans in by_resource.items()]}


def _batches(span_lists: Iterable[list[Any]], size: int = BATCH_SPANS) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for spans in span_lists:
        batch.extend(spans)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Sinks:
    """The configured destinations of one export."""

    def __init__(self, settings: OtelSettings) -> None:
        self._file: IO[str] | None = None
        self._otlp: Any = None
        self.settings = settings
        if settings.file is not None:
            try:
                settings.file.parent.mkdir(parents=True, exist_ok=True)
                self._file = settings.file.open("a", encoding="utf-8")
            except OSError as exc:
                raise BatonError(f"--otel-file: cannot write {settings.file}: {exc.strerror or exc}") from None
        if settings.endpoint is not None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            url = settings.endpoint.rstrip("/")
            self._otlp = OTLPSpanExporter(endpoint=url if url.endswith("/v1/traces") else f"{url}/v1/traces")

    def send(self, batch: list[Any]) -> None:
        if self._file is not None:
            self._file.write(json.dumps(otlp_json(batch), separators=(",", ":")) + "\n")
        if self._otlp is not None:
            from opentelemetry.sdk.trace.export import SpanExportResult

            if self._otlp.export(batch) is not SpanExportResult.SUCCESS:
                raise BatonError(f"OTLP export to {self.settings.endpoint} failed (see the log above); "
                                 f"the run's results are stored, export again with: baton otel export RUN_DIR")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._otlp is not None:
            self._otlp.shutdown()


def export_results(results: Iterable[Any], settings: OtelSettings, *, run_key: str = "",
                   fixture_set_hash: str | None = None) -> int:
    """Export runs (RunResults) to the configured sinks; returns the number of spans sent."""
    if not settings.enabled:
        return 0
    _require_sdk()
    from baton.otel.spans import results_spans

    sinks = _Sinks(settings)
    sent = 0
    try:
        for batch in _batches(results_spans(results, run_key=run_key, fixture_set_hash=fixture_set_hash,
                                            content=settings.content)):
            sinks.send(batch)
            sent += len(batch)
    finally:
        sinks.close()
    return sent


def export_run_dir(run_dir: Path, settings: OtelSettings) -> int:
    """Export every stored run of ``run_dir``; returns the number of spans sent (0 when off)."""
    if not settings.enabled:
        return 0
    from baton.manifest import read_manifest
    from baton.store import iter_results

    manifest = read_manifest(run_dir)
    return export_results(iter_results(run_dir), settings, run_key=manifest.run_key,
                          fixture_set_hash=manifest.config.fixture_set_hash)
