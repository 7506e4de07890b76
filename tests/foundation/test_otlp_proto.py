"""agentspans' OTLP/protobuf encoder against the SDK's, for generated batches of spans.

The SDK's ``encode_spans`` is the reference: for any batch the bytes must be exactly its
serialised request (same grouping by resource and scope, same field order, same handling of a
value it cannot encode), and where it raises (a span name it cannot carry) ours raises too.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceState
from opentelemetry.util.types import AttributeValue

from agentspans.exporters.otlp_proto import encode_request
from agentspans.processors.pipeline import rebuild

texts = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["execute_tool", "gen_ai.agent", "é✓中", "x" * 300, "\ud800", ""]),
)
scalars = st.one_of(
    texts,
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.sampled_from([0, 1, -1, 2**63 - 1, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([-0.0, 0.0, float("nan")]),
)
values = st.one_of(
    scalars,
    st.lists(texts, max_size=5).map(tuple),
    st.lists(texts, max_size=3),
    st.lists(st.integers(-5, 5), max_size=3).map(tuple),
    st.lists(scalars, max_size=3).map(tuple),
    st.sampled_from([b"\x00raw", None, {"k": 1}, object()]),
)
attributes = st.dictionaries(
    st.one_of(texts, st.sampled_from(["gen_ai.operation.name", "agentspans.cost.usd"])),
    values,
    max_size=8,
)
RESOURCES = [
    Resource({"service.name": "a"}),
    Resource({"service.name": "a"}),  # equal to the first, another object
    Resource({"service.name": "b", "n": 1}, schema_url="https://example.com/schema"),
    Resource({}),
]
SCOPES: list[InstrumentationScope | None] = [
    InstrumentationScope("agentspans", "1.0"),
    InstrumentationScope("agentspans", "1.0", attributes={"first": True}),  # equal: same key
    InstrumentationScope("other", None, "https://example.com/scope"),
    None,
]
ids = st.integers(1, 2**64 - 1)


@st.composite
def spans(draw: st.DrawFn) -> ReadableSpan:
    trace_state = draw(st.sampled_from([TraceState(), TraceState([("k", "v"), ("a", "b")])]))
    context = SpanContext(draw(st.integers(1, 2**128 - 1)), draw(ids), False, None, trace_state)
    parent = draw(
        st.one_of(
            st.none(),
            st.builds(lambda i, remote: SpanContext(1, i, remote), ids, st.booleans()),
        )
    )
    status = draw(
        st.sampled_from(
            [
                Status(),
                Status(StatusCode.OK),
                Status(StatusCode.ERROR),
                Status(StatusCode.ERROR, "boom ✓"),
            ]
        )
    )
    events = draw(
        st.lists(
            st.builds(lambda n, a, t: Event(n, a, t), texts, attributes, st.integers(0, 2**63)),
            max_size=2,
        )
    )
    links = draw(
        st.lists(
            st.builds(lambda i, a: Link(SpanContext(2, i, True), a), ids, attributes), max_size=2
        )
    )
    start = draw(st.one_of(st.none(), st.integers(0, 2**63)))
    span = ReadableSpan(
        name=draw(st.one_of(texts, st.just("invoke_agent research"))),
        context=context,
        parent=parent,
        resource=draw(st.sampled_from(RESOURCES)),
        attributes=draw(attributes),
        events=events,
        links=links,
        kind=draw(st.sampled_from(list(SpanKind))),
        status=status,
        start_time=start,
        end_time=None if start is None else start + draw(st.integers(0, 10**9)),
        instrumentation_scope=draw(st.sampled_from(SCOPES)),
    )
    if draw(st.booleans()):
        # The pipeline's rebuilt spans: attributes in a plain dict, dropped counts kept.
        added: dict[str, AttributeValue] = {"agentspans.process.cpu.time_s": 1e-05}
        span = rebuild(span, {**dict(span.attributes or {}), **added})
    return span


def sdk_bytes(batch: list[ReadableSpan]) -> bytes | type[BaseException]:
    try:
        return encode_spans(batch).SerializeToString()
    except Exception as exc:
        return type(exc)


def our_bytes(batch: list[ReadableSpan]) -> bytes | type[BaseException]:
    try:
        return encode_request(batch)
    except Exception as exc:
        return type(exc)


@given(st.lists(spans(), max_size=6))
def test_bytes_equal_the_sdk_encoders(batch: list[ReadableSpan]) -> None:
    expected, got = sdk_bytes(batch), our_bytes(batch)
    if isinstance(expected, bytes):
        assert got == expected, _difference(expected, got)
    else:
        assert isinstance(got, type) and issubclass(got, (UnicodeError, ValueError, TypeError))


def _difference(expected: bytes, got: bytes | type[BaseException]) -> str:
    if not isinstance(got, bytes):
        return f"raised {got}"
    return f"SDK: {ExportTraceServiceRequest.FromString(expected)}\nours: " + str(
        ExportTraceServiceRequest.FromString(got)
    )


def test_an_attribute_the_sdk_cannot_encode_is_left_out_and_logged_alike(
    caplog: pytest.LogCaptureFixture,
) -> None:
    span = ReadableSpan(
        name="tool",
        context=SpanContext(1, 2, False),
        attributes={"ok": "yes", "bad": "\ud800", "big": 2**70},
    )
    caplog.set_level(logging.ERROR)
    expected = encode_spans([span]).SerializeToString()
    sdk_said = [r.getMessage() for r in caplog.records]
    caplog.clear()
    assert encode_request([span]) == expected
    assert [r.getMessage() for r in caplog.records] == sdk_said
    assert len(sdk_said) == 2
    decoded: Any = ExportTraceServiceRequest.FromString(expected)
    (encoded,) = decoded.resource_spans[0].scope_spans[0].spans
    assert [kv.key for kv in encoded.attributes] == ["ok"]
