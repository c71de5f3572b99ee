"""OpenTelemetry for Baton: every run exported as a trace, and systems graded from their own spans.

* :mod:`baton.otel.settings`: ``[tool.baton.otel]`` and ``--otel-endpoint`` / ``--otel-file``.
* :mod:`baton.otel.spans`: a stored run as GenAI-convention spans with evaluation events.
* :mod:`baton.otel.export`: OTLP/HTTP and OTLP JSON-lines file export of a run directory.

Needs the optional extra ``baton-evals[otel]`` (opentelemetry-api, -sdk and the OTLP/HTTP
exporter); without it, asking for export is a clear error and everything else works.
"""

from baton.otel.settings import OtelSettings, load_otel_settings

__all__ = ["OtelSettings", "load_otel_settings"]
