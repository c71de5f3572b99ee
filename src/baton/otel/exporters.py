"""Exporters: where a run's OpenTelemetry spans go, one registered kind per destination type.

Built-ins: ``otlp-http`` (a collector; ``endpoint`` / ``--otel-endpoint``) and ``jsonl-file``
(OTLP JSON lines; ``file`` / ``--otel-file``). A user adds one with :func:`register_exporter`
or the ``baton.exporters`` entry-point group, and names it with a destination::

    @register_exporter("run-lines", path=True)      # the destination is a file path
    class RunLines:
        def __init__(self, destination, context): self.out = open(destination, "a")
        def send(self, spans): ...                   # a batch of SpanRecord (one root span per run)
        def flush(self): self.out.flush()
        def close(self): self.out.close()

    # pyproject.toml                                 # or: --otel-export run-lines=reports/runs.txt
    [tool.baton.otel.export]
    run-lines = "reports/runs.txt"

A kind opens one sink per export (in the exporter process of a run, or in ``baton otel
export``); ``check`` runs before the run starts, so a destination that cannot be written fails
then, not after the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from baton.errors import BatonError
from baton.registry import Registry, spec_or_function

__all__ = ["EXPORTERS", "ExportContext", "ExporterKind", "SpanSink", "register_exporter"]


@dataclass(frozen=True, slots=True)
class ExportContext:
    """What a sink may use: the SDK ``Resource`` (service name and version, ``OTEL_RESOURCE_*``)
    and the instrumentation scope of Baton's spans."""

    resource: Any
    scope: Any


class SpanSink(Protocol):
    """An open destination: ``send`` a batch of :class:`baton.otel.spans.SpanRecord`."""

    def send(self, spans: list[Any]) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ExporterKind:
    """A registered exporter. ``open(destination, context)`` returns a :class:`SpanSink`;
    ``path``: the destination is a file path, relative to the project's folder; ``check``:
    called with the destination before a run, raises :class:`BatonError` when it is unusable."""

    name: str
    open: Callable[[str, ExportContext], SpanSink]
    path: bool = False
    check: Callable[[str], None] | None = None
    description: str = ""


_as_kind = spec_or_function("exporter", ExporterKind, lambda name, fn: ExporterKind(name=name, open=fn),  # type: ignore[arg-type]
                            "an ExporterKind or a callable(destination, context) returning a sink")


EXPORTERS: Registry[ExporterKind] = Registry("exporter", convert=_as_kind)


def register_exporter(name: str, *, path: bool = False, check: Callable[[str], None] | None = None,
                      description: str = "") -> Callable[[Callable[[str, ExportContext], SpanSink]],
                                                          Callable[[str, ExportContext], SpanSink]]:
    """Decorator: register ``open(destination, context) -> SpanSink`` (a class works) as ``name``."""

    def decorate(open_: Callable[[str, ExportContext], SpanSink]) -> Callable[[str, ExportContext], SpanSink]:
        EXPORTERS.add(name, ExporterKind(name=name, open=open_, path=path, check=check, description=description))
        return open_

    return decorate


def _check_file(destination: str) -> None:
    file = Path(destination)
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        file.open("a", encoding="utf-8").close()
    except OSError as exc:
        raise BatonError(f"--otel-file: cannot write {file}: {exc.strerror or exc}") from None


class JsonlFileSink:
    """OTLP JSON lines: one ``ExportTraceServiceRequest`` per batch, appended to a file."""

    def __init__(self, destination: str, context: ExportContext) -> None:
        self.file = Path(destination)
        self.context = context
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            self._out: IO[str] = self.file.open("a", encoding="utf-8")
        except OSError as exc:
            raise BatonError(f"--otel-file: cannot write {self.file}: {exc.strerror or exc}") from None

    def send(self, spans: list[Any]) -> None:
        from baton.otel.otlp_json import export_request

        scope = self.context.scope
        self._out.write(export_request(spans, self.context.resource.attributes, (scope.name, scope.version)) + "\n")

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        self._out.close()


class OtlpHttpSink:
    """An OTLP/HTTP collector, through the SDK's ``OTLPSpanExporter`` (``/v1/traces`` appended)."""

    def __init__(self, destination: str, context: ExportContext) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        self.endpoint = destination
        self.context = context
        self.sent = 0
        url = destination.rstrip("/")
        self._otlp = OTLPSpanExporter(endpoint=url if url.endswith("/v1/traces") else f"{url}/v1/traces")

    def send(self, spans: list[Any]) -> None:
        from opentelemetry.sdk.trace.export import SpanExportResult

        from baton.otel.spans import readable_spans

        if self._otlp.export(readable_spans(spans, self.context.resource, self.context.scope)) \
                is not SpanExportResult.SUCCESS:
            raise BatonError(f"OTLP export to {self.endpoint} failed after {self.sent} spans (see the log above); "
                             f"the run's results are stored, export them again with: baton otel export RUN_DIR")
        self.sent += len(spans)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self._otlp.shutdown()


register_exporter("otlp-http", description="an OTLP/HTTP collector (endpoint, --otel-endpoint)")(OtlpHttpSink)
register_exporter("jsonl-file", path=True, check=_check_file,
                  description="OTLP JSON lines in a file (file, --otel-file)")(JsonlFileSink)
