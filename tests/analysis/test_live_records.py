"""The processor's batch of records (``records_from_spans``) is the span-by-span reading."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import SpanContext, Status, StatusCode

from agentspans.processors.pipeline import copy_span
from agentspans.sources.live import record_from_span, records_from_spans

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
        if draw(st.booleans()):
            span = copy_span(span, attributes={"a": 1})  # a rebuilt span, as a late one may be
        out.append((span, {"x": i}))
    return out


@settings(max_examples=400)
@given(batches())
def test_records_from_spans_reads_each_span_as_record_from_span(
    batch: list[tuple[ReadableSpan, dict[str, Any]]],
) -> None:
    assert records_from_spans(batch) == [record_from_span(span, attrs) for span, attrs in batch]
