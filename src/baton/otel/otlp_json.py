"""Spans as OTLP/JSON text: one ``ExportTraceServiceRequest`` per call, written directly.

The OTLP/JSON mapping (hex trace and span ids, 64-bit integers as strings, enum values as
numbers, attribute values as ``AnyValue`` objects) is produced as text, piece by piece, with the
standard library's C string encoder: building the equivalent dicts and handing them to
``json.dumps`` costs about three times as much, and protobuf's generic ``MessageToDict`` ten
times. The output is what ``json.dumps`` of those dicts writes (ASCII, no spaces), so any JSON
reader, the OpenTelemetry Collector and :mod:`baton.otel.ingest` read it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from json.encoder import encode_basestring_ascii as _q  # type: ignore[attr-defined]
from typing import Any

from baton.otel.spans import SpanRecord


def _double(value: float) -> str:
    if math.isfinite(value):
        return repr(value)
    return '"NaN"' if math.isnan(value) else ('"Infinity"' if value > 0 else '"-Infinity"')


def any_value(value: Any) -> str:
    """An attribute value as an OTLP/JSON ``AnyValue`` object."""
    cls = value.__class__
    if cls is str:
        return f'{{"stringValue":{_q(value)}}}'
    if cls is bool:
        return '{"boolValue":true}' if value else '{"boolValue":false}'
    if cls is int:
        return f'{{"intValue":"{value}"}}'
    if cls is float:
        return f'{{"doubleValue":{_double(value)}}}'
    if isinstance(value, (list, tuple)):
        return f'{{"arrayValue":{{"values":[{",".join(any_value(v) for v in value)}]}}}}'
    if isinstance(value, bool):
        return any_value(bool(value))
    if isinstance(value, int):
        return any_value(int(value))
    if isinstance(value, float):
        return any_value(float(value))
    return any_value(str(value))


_CACHE_LIMIT = 4096
_KEYS: dict[str, str] = {}  # attribute key -> its encoded '{"key":...,"value":' prefix
_EVENT_ATTRS: dict[tuple[Any, ...], str] = {}  # an event's attribute items -> their encoded KeyValue list


def _key(key: str) -> str:
    prefix = _KEYS.get(key)
    if prefix is None:
        prefix = f'{{"key":{_q(key)},"value":'
        if len(_KEYS) < _CACHE_LIMIT:
            _KEYS[key] = prefix
    return prefix


def key_values(attributes: Mapping[str, Any]) -> str:
    """Attributes as an OTLP/JSON ``KeyValue`` list."""
    parts = []
    for key, value in attributes.items():
        prefix = _KEYS.get(key) or _key(key)
        cls = value.__class__
        if cls is str:
            parts.append(f'{prefix}{{"stringValue":{_q(value)}}}}}')
        elif cls is float:
            parts.append(f'{prefix}{{"doubleValue":{_double(value)}}}}}')
        elif cls is int:
            parts.append(f'{prefix}{{"intValue":"{value}"}}}}')
        else:
            parts.append(f"{prefix}{any_value(value)}}}")
    return "[" + ",".join(parts) + "]"


def _event_attributes(attributes: Mapping[str, Any]) -> str:
    """:func:`key_values` of an event's attributes, remembered: evaluation events (a check's name,
    verdict and detail) repeat from run to run."""
    try:
        items = (*attributes.items(), *map(type, attributes.values()))  # True, 1 and 1.0 are equal keys
        encoded = _EVENT_ATTRS.get(items)
    except TypeError:  # an unhashable value (a list)
        return key_values(attributes)
    if encoded is None:
        encoded = key_values(attributes)
        if len(_EVENT_ATTRS) >= _CACHE_LIMIT:
            _EVENT_ATTRS.clear()
        _EVENT_ATTRS[items] = encoded
    return encoded


def span_json(span: SpanRecord) -> str:
    """One span as an OTLP/JSON ``Span`` object."""
    parent = f',"parentSpanId":"{span.parent_id:016x}"' if span.parent_id is not None else ""
    events = ""
    if span.events:
        events = ',"events":[' + ",".join([
            f'{{"timeUnixNano":"{e.time_ns}","name":{_q(e.name)},"attributes":{_event_attributes(e.attributes)}}}'
            for e in span.events]) + "]"
    status = ""
    if span.error:
        status = f',"status":{{"code":2,"message":{_q(span.error)}}}'
    return (f'{{"traceId":"{span.trace_id:032x}","spanId":"{span.span_id:016x}"{parent},"name":{_q(span.name)},'
            f'"kind":{span.kind},"startTimeUnixNano":"{span.start_ns}","endTimeUnixNano":"{span.end_ns}",'
            f'"attributes":{key_values(span.attributes)}{events}{status}}}')


def export_request(spans: Iterable[SpanRecord] | Sequence[SpanRecord], resource: Mapping[str, Any],
                   scope: tuple[str, str | None]) -> str:
    """``spans`` (all of one resource and instrumentation scope) as one ExportTraceServiceRequest."""
    name, version = scope
    scope_json = f'{{"name":{_q(name)}' + (f',"version":{_q(version)}' if version else "") + "}"
    return (f'{{"resourceSpans":[{{"resource":{{"attributes":{key_values(resource)}}},'
            f'"scopeSpans":[{{"scope":{scope_json},"spans":[{",".join([span_json(s) for s in spans])}]}}]}}]}}')
