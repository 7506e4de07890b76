"""The processor's batch of records (``records_from_spans``, which ``record_from_span`` calls
with one span) is the span-by-span reading through the span's properties."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import SpanContext, Status, StatusCode

from agentspans._spans import events_of
from agentspans.analysis._build import span_record
from agentspans.analysis.model import SpanEvent, SpanRecord
from agentspans.processors.pipeline import copy_span
from agentspans.sources.live import _service_name, record_from_span, records_from_spans


def by_properties(span: ReadableSpan, attributes: dict[str, Any]) -> SpanRecord:
    """The reading ``record_from_span`` did before the batch: each fact through a property."""
    context, parent = span.context, span.parent
    trace_id = context.trace_id if context is not None else 0
    span_id = context.span_id if context is not None else 0
    start = span.start_time or 0
    events = events_of(span)
    return span_record(
        f"{trace_id:032x}",
        f"{span_id:016x}",
        f"{parent.span_id:016x}" if parent is not None else None,
        span.name,
        start,
        span.end_time if span.end_time is not None else start,
        attributes,
        span.status.status_code is StatusCode.ERROR,
        _service_name(span.resource),
        tuple(SpanEvent(e.name, e.timestamp, dict(e.attributes or {})) for e in events)
        if events
        else (),
        parent is not None and parent.is_remote,
    )


class _OwnSpan(ReadableSpan):
    """A span type of another processor: read through its properties."""


RESOURCES = [None, Resource({"service.name": "svc"}), Resource({"service.name": 3})]


@st.composite
def batches(draw: st.DrawFn) -> list[tuple[ReadableSpan, dict[str, Any]]]:
    trace_ids = draw(st.lists(st.integers(1, 2**128 - 1), min_size=1, max_size=2))
    ids = draw(st.lists(st.integers(1, 2**64 - 1), min_size=1, max_size=8, unique=True))
    out = []
    for i, span_id in enumerate(ids):
        trace_id = draw(st.sampled_from(trace_ids))
        choice = draw(st.integers(-3, i - 1))
        if choice == -3:
            parent = None
        elif choice == -2:
            parent = SpanContext(trace_id, draw(st.integers(1, 2**64 - 1)), is_remote=True)
        elif choice == -1:
            parent = SpanContext(trace_id, draw(st.integers(1, 2**64 - 1)), is_remote=False)
        else:
            parent = SpanContext(trace_id, ids[choice], is_remote=False)
        start = draw(st.one_of(st.none(), st.integers(0, 10**12)))
        events = draw(
            st.lists(
                st.builds(Event, st.text(max_size=5), st.just({"k": 1}), st.integers(0, 9)),
                max_size=2,
            )
        )
        span = ReadableSpan(
            name=draw(st.text(max_size=8)),
            context=SpanContext(trace_id, span_id, False),
            parent=parent,
            resource=draw(st.sampled_from(RESOURCES)),
            events=events,
            status=Status(
                draw(st.sampled_from([StatusCode.UNSET, StatusCode.OK, StatusCode.ERROR]))
            ),
            start_time=start,
            end_time=draw(st.one_of(st.none(), st.integers(0, 10**12))),
        )
        how = draw(st.sampled_from(["sdk", "rebuilt", "other type"]))
        if how == "rebuilt":
            span = copy_span(span, attributes={"a": 1})  # as a late one may be
        elif how == "other type":
            span.__class__ = _OwnSpan
        out.append((span, {"x": i}))
    return out


@settings(max_examples=400)
@given(batches())
def test_records_from_spans_reads_each_span_as_record_from_span(
    batch: list[tuple[ReadableSpan, dict[str, Any]]],
) -> None:
    expected = [by_properties(span, attrs) for span, attrs in batch]
    assert records_from_spans(batch) == expected
    assert [record_from_span(span, attrs) for span, attrs in batch] == expected
