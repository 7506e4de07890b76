"""The SDK's ``ReadableSpan`` into the neutral span model, for the in-process processor.

The processor adds attributes after a span ends (cost, resource peaks) without rebuilding it
first, so it hands the attributes over with those merged in: the analysis sees what the
exporter will receive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from agentspans._spans import events_of, plain_attributes
from agentspans.analysis._build import span_record
from agentspans.analysis.model import SpanEvent, SpanRecord

__all__ = ["record_from_span", "records_from_spans"]

_SERVICE_NAME = "service.name"


_last_service: tuple[object, str | None] = (None, None)


def _service_name(resource: Resource | None) -> str | None:
    """The resource's ``service.name``. A provider's spans share one immutable resource, whose
    attributes are read through a Python-level ``Mapping.get``: the last answer is kept."""
    global _last_service
    if resource is None:
        return None
    if _last_service[0] is resource:
        return _last_service[1]
    service = resource.attributes.get(_SERVICE_NAME)
    found = service if isinstance(service, str) else None
    _last_service = (resource, found)
    return found


def record_from_span(span: ReadableSpan, attributes: Mapping[str, Any] | None = None) -> SpanRecord:
    """``attributes``: the span's attributes as the caller holds them already (the processor's,
    with enrichment's merged), taken as they are; by default a copy of the span's own."""
    return records_from_spans(
        [(span, plain_attributes(span) if attributes is None else attributes)]
    )[0]


# The SDK ReadableSpan's fields that its properties return as they are (since 1.30 at least):
# read directly only where a span has them all.
_READ_FIELDS = frozenset(
    {"_context", "_parent", "_name", "_start_time", "_end_time", "_status", "_resource"}
)


def _fields(span: ReadableSpan) -> Mapping[str, Any]:
    """What a record takes from the span, by the SDK's field names: an SDK span's own
    ``__dict__`` (no property call each), else read through the span's properties."""
    if type(span) is ReadableSpan:
        fields = span.__dict__
        if fields.keys() >= _READ_FIELDS:
            return fields
    return {
        "_context": span.context,
        "_parent": span.parent,
        "_name": span.name,
        "_start_time": span.start_time,
        "_end_time": span.end_time,
        "_status": span.status,
        "_resource": span.resource,
    }


def records_from_spans(spans: Sequence[tuple[ReadableSpan, Mapping[str, Any]]]) -> list[SpanRecord]:
    """The records of ``spans`` (each with its attributes as the caller holds them), for a batch
    such as the processor's local trace: each id is written in hex once (a parent's id is a
    span's of the same trace; the trace id is one for all)."""
    hexes: dict[int, str] = {}
    trace_hexes: dict[int, str] = {}
    for span, _ in spans:
        context = span.context
        if context is not None:
            hexes[context.span_id] = f"{context.span_id:016x}"
    records = []
    for span, attributes in spans:
        fields = _fields(span)
        context, parent = fields["_context"], fields["_parent"]
        trace_id = context.trace_id if context is not None else 0
        trace_hex = trace_hexes.get(trace_id)
        if trace_hex is None:
            trace_hex = trace_hexes[trace_id] = f"{trace_id:032x}"
        span_id = context.span_id if context is not None else 0
        span_hex = hexes.get(span_id) or f"{span_id:016x}"
        parent_hex = None
        if parent is not None:
            parent_hex = hexes.get(parent.span_id) or f"{parent.span_id:016x}"
        start = fields["_start_time"] or 0
        end = fields["_end_time"]
        events = events_of(span)
        records.append(
            span_record(
                trace_hex,
                span_hex,
                parent_hex,
                fields["_name"],
                start,
                end if end is not None else start,
                attributes,
                fields["_status"].status_code is StatusCode.ERROR,
                _service_name(fields["_resource"]),
                tuple(
                    SpanEvent(event.name, event.timestamp, dict(event.attributes or {}))
                    for event in events
                )
                if events
                else (),
                parent is not None and parent.is_remote,
            )
        )
    return records
