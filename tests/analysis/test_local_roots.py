"""Every local root of a trace is analysed when it ends, with the real SDK: a service that
handles two requests of one distributed trace (two local roots under remote parents) annotates
both; a span that ends after its own tree was analysed goes out at once, counted late."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import context, trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

import agentspans
from agentspans import semconv
from agentspans.processors.pipeline import TraceProcessor
from agentspans.testing import CapturedSpans, capture_spans

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736


@agentspans.tool
def look_up(key: str) -> str:
    time.sleep(0.002)
    return key


@agentspans.agent(name="served")
def handle(request: str) -> str:
    return look_up(request) + look_up(request + "!")


def processor_of(spans: CapturedSpans) -> TraceProcessor:
    found = [
        p
        for p in spans.provider._active_span_processor._span_processors
        if isinstance(p, TraceProcessor)
    ]
    assert len(found) == 1
    return found[0]


@pytest.fixture
def spans() -> Iterator[CapturedSpans]:
    with capture_spans(metrics=False) as captured:
        yield captured


def remote_parent(span_id: int) -> Any:
    remote = SpanContext(TRACE_ID, span_id, is_remote=True, trace_flags=TraceFlags(1))
    return trace.set_span_in_context(NonRecordingSpan(remote))


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def test_two_requests_of_one_distributed_trace_are_both_analysed(spans: CapturedSpans) -> None:
    for caller_span in (0x00F067AA0BA902B7, 0x00F067AA0BA902B8):  # the coordinator, twice
        token = context.attach(remote_parent(caller_span))
        try:
            handle("q")
        finally:
            context.detach(token)
    processor = processor_of(spans)
    processor._process()  # what the worker does on its tick: no flush, nothing forced out
    finished = spans.exporter.get_finished_spans()
    roots = [s for s in finished if s.name == "invoke_agent served"]
    assert len(roots) == 2
    assert {s.context.trace_id for s in finished if s.context} == {TRACE_ID}
    for root in roots:
        assert root.parent is not None and root.parent.is_remote
        root_attrs = attrs(root)
        assert root_attrs[semconv.TRACE_DURATION_MS] > 0
        assert root_attrs[semconv.TRACE_TOTAL_TOOL_CALLS] == 2
        assert root_attrs[semconv.CRITICAL_PATH_ON_PATH] is True
    tools = [s for s in finished if s.name == "execute_tool look_up"]
    assert len(tools) == 4
    assert all(semconv.CRITICAL_PATH_SELF_MS in attrs(s) for s in tools)
    assert processor.overflow.late == 0
    assert processor._held == {}


def test_a_span_ending_after_its_tree_was_analysed_goes_out_late(spans: CapturedSpans) -> None:
    tracer = spans.provider.get_tracer("app")
    processor = processor_of(spans)
    with tracer.start_as_current_span("request") as root:
        background = tracer.start_span("background")
    inner = tracer.start_span("inner", context=trace.set_span_in_context(background))
    processor._process()  # the request's tree is analysed: root ended, the rest is open
    assert [s.name for s in spans.exporter.get_finished_spans()] == ["request"]
    inner.end()  # ends first, and is held: its parent has not ended yet
    background.end()
    processor._process()
    names = sorted(s.name for s in spans.exporter.get_finished_spans())
    assert names == ["background", "inner", "request"]
    assert processor.overflow.late == 2
    assert processor._held == {}
    assert root.get_span_context().trace_id == background.get_span_context().trace_id
