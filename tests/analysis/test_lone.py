"""The one-span shortcut (processors/lone.py) against the general path, for generated spans.

The general path (records, forest, accounts, every detector, write_analysis) is the reference:
wherever the shortcut answers, its attributes must be exactly the general path's (same keys,
values and value types, no events, nothing on other spans); where the general path finds
something, the shortcut must step aside.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext, Status, StatusCode, TraceFlags

from agentspans import semconv
from agentspans._spans import plain_attributes
from agentspans.analysis import Thresholds, analyze
from agentspans.llm_span import read_llm_call
from agentspans.pricing import default_table
from agentspans.processors.analysis import TraceAnnotator, write_analysis
from agentspans.processors.enrich import Enricher
from agentspans.processors.lone import lone_annotations
from agentspans.processors.pipeline import TraceProcessor
from agentspans.sources.live import record_from_span

TRACE_ID, SPAN_ID = 0xABC, 0x1234

counts = st.one_of(
    st.none(),
    st.integers(0, 200_000),
    st.sampled_from([-1, 2.0, 7.5, True, "12", float("nan")]),
)
positives = st.one_of(st.none(), st.floats(0, 300_000, allow_nan=False), st.sampled_from([-3, "x"]))
OPERATIONS = [
    semconv.OP_CHAT,
    "text_completion",
    semconv.OP_EMBEDDINGS,
    semconv.OP_EXECUTE_TOOL,
    semconv.OP_INVOKE_AGENT,
    "other",
    None,
]


@st.composite
def lone_spans(draw: st.DrawFn) -> ReadableSpan:
    attributes: dict[str, Any] = {}
    operation = draw(st.sampled_from(OPERATIONS))
    if operation is not None:
        attributes[semconv.GEN_AI_OPERATION_NAME] = operation
    elif draw(st.booleans()):
        attributes["openinference.span.kind"] = draw(st.sampled_from(["LLM", "TOOL", "CHAIN"]))
    optional: dict[str, st.SearchStrategy[Any]] = {
        semconv.GEN_AI_REQUEST_MODEL: st.sampled_from(["gpt-4o-mini", "", "m"]),
        semconv.GEN_AI_USAGE_INPUT_TOKENS: counts,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: counts,
        semconv.COST_USD: st.one_of(st.floats(0, 5, allow_nan=False), st.sampled_from([-1.0])),
        semconv.REQUEST_CONTEXT_WINDOW: positives,
        semconv.OUTPUT_TOKENS_PER_SECOND: positives,
        semconv.VRAM_PEAK_BYTES: counts,
        semconv.VRAM_TOTAL_BYTES: st.one_of(st.integers(0, 10**9), st.just("big")),
        semconv.VRAM_UTILIZATION_PEAK: st.floats(0, 1.2, allow_nan=False),
        semconv.GEN_AI_AGENT_NAME: st.sampled_from(["planner", ""]),
        semconv.REQUEST_FINGERPRINT: st.just("f00d"),
    }
    for name, values in optional.items():
        if draw(st.booleans()):
            value = draw(values)
            if value is not None:
                attributes[name] = value
    start = draw(st.integers(0, 10**6))
    end = start + draw(
        st.one_of(st.integers(-5, 5), st.integers(1, 10**8), st.integers(10**9, 10**11))
    )
    parent = draw(
        st.sampled_from(
            [None, SpanContext(TRACE_ID, 0x99, True), SpanContext(TRACE_ID, 0x99, False)]
        )
    )
    error = draw(st.booleans())
    return ReadableSpan(
        name=draw(st.text(max_size=12)),
        context=SpanContext(TRACE_ID, SPAN_ID, False, TraceFlags(1)),
        parent=parent,
        attributes=attributes,
        start_time=start,
        end_time=end,
        status=Status(StatusCode.ERROR if error else StatusCode.UNSET),
    )


thresholds = st.builds(
    Thresholds,
    prompt_heavy_min_input_tokens=st.integers(0, 5000),
    prompt_heavy_ratio=st.floats(0, 50),
    prompt_heavy_context_share=st.floats(0, 1),
    slow_llm_call_ms=st.floats(0, 60_000),
    slow_llm_tokens_per_s=st.floats(0, 100),
    slow_llm_min_output_tokens=st.integers(0, 100),
    slow_tool_call_ms=st.floats(0, 20_000),
    vram_pressure_utilization=st.floats(0, 1),
    repeated_call_min_count=st.integers(0, 3),
    parallelizable_min_calls=st.integers(0, 3),
    cost_hotspot_share=st.floats(0, 1),
    coordination_overhead_share=st.floats(0, 1),
    coordination_overhead_min_ms=st.floats(0, 100),
)


def general(span: ReadableSpan, limits: Thresholds) -> dict[int, Any]:
    out: dict[int, Any] = {}
    for analysis in analyze([record_from_span(span)], limits):
        write_analysis(analysis, out)
    return out


def typed(attributes: dict[str, Any]) -> dict[str, tuple[type, Any]]:
    # 0 == 0.0 and True == 1: compare the types too, as an exporter would see them.
    return {name: (type(value), value) for name, value in attributes.items()}


@settings(max_examples=400)
@given(lone_spans(), st.one_of(st.just(Thresholds()), thresholds))
def test_the_shortcut_writes_what_the_general_path_writes(
    span: ReadableSpan, limits: Thresholds
) -> None:
    fast = lone_annotations(span, dict(span.attributes or {}), limits)
    if fast is None:
        return
    reference = general(span, limits)
    assert set(reference) == {SPAN_ID}
    attributes, events = reference[SPAN_ID]
    assert events == []
    assert typed(fast) == typed(attributes)


def chat_span(input_tokens: int, output_tokens: int) -> ReadableSpan:
    return ReadableSpan(
        name="chat gpt-4o-mini",
        context=SpanContext(TRACE_ID, SPAN_ID, False),
        attributes={
            semconv.GEN_AI_OPERATION_NAME: semconv.OP_CHAT,
            semconv.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
            semconv.GEN_AI_USAGE_INPUT_TOKENS: input_tokens,
            semconv.GEN_AI_USAGE_OUTPUT_TOKENS: output_tokens,
            semconv.COST_USD: 0.001,
            semconv.REQUEST_CONTEXT_WINDOW: 128_000,
        },
        start_time=0,
        end_time=900_000_000,
    )


def test_a_plain_chat_call_takes_the_shortcut_and_a_flagged_one_does_not() -> None:
    limits = Thresholds()
    plain = chat_span(1000, 40)
    fast = lone_annotations(plain, dict(plain.attributes or {}), limits)
    assert fast is not None
    assert typed(fast) == typed(general(plain, limits)[SPAN_ID][0])
    # 3000 input tokens for 100 output: prompt-heavy by the default ratio (20) and minimum.
    heavy = chat_span(3000, 100)
    assert lone_annotations(heavy, dict(heavy.attributes or {}), limits) is None
    assert general(heavy, limits)[SPAN_ID][0][semconv.TRACE_FINDINGS_COUNT] == 1


@settings(max_examples=300)
@given(lone_spans(), st.one_of(st.none(), st.floats(0, 10)))
def test_enrichment_hands_on_the_call_the_reader_reads_after_it(
    span: ReadableSpan, cpu: float | None
) -> None:
    # The worker's one-span path takes the LLM call enrichment read (with the cost it added)
    # instead of reading the enriched span again: it must be that reading, field for field.
    attributes = plain_attributes(span)
    added: dict[str, Any] = {}
    call = Enricher(default_table(), None).enrich(
        attributes, added, span.start_time or 0, span.end_time or 0, cpu
    )
    assert call == read_llm_call({**attributes, **added})


def _exported(annotator: Any, span: ReadableSpan) -> dict[str, Any]:
    exporter = InMemorySpanExporter()
    processor = TraceProcessor(
        [SimpleSpanProcessor(exporter)], Enricher(default_table(), None), annotator
    )
    try:
        processor._accept(span, 0.25)  # as the worker takes it off the queue
        processor.force_flush()
        (exported,) = exporter.get_finished_spans()
        return dict(exported.attributes or {})
    finally:
        processor.shutdown()


@settings(max_examples=150, deadline=None)
@given(lone_spans(), st.one_of(st.just(Thresholds()), thresholds))
def test_the_worker_writes_on_a_lone_span_what_the_general_path_writes(
    span: ReadableSpan, limits: Thresholds
) -> None:
    annotator = TraceAnnotator(limits)

    def general_only(spans: Any, root_id: int) -> Any:  # no ``lone``: the general way
        return annotator.general(spans)

    if span.parent is not None and not span.parent.is_remote:
        return  # not a local root: held for its parent, not this path
    assert typed(_exported(annotator, span)) == typed(_exported(general_only, span))


def test_a_failing_enrichment_leaves_a_lone_span_analysed_and_is_tried_once(
    monkeypatch: Any,
) -> None:
    # Outside the test suite's strict mode an internal error is logged and the span goes on:
    # analysed from its own attributes, as the general path does, without enriching it again.
    monkeypatch.delenv("AGENTSPANS_STRICT", raising=False)
    calls = []

    class Failing(Enricher):
        __slots__ = ()

        def enrich(self, *args: Any, **kwargs: Any) -> Any:
            calls.append(args)
            raise RuntimeError("enrichment broke")

    exporter = InMemorySpanExporter()
    processor = TraceProcessor(
        [SimpleSpanProcessor(exporter)],
        Failing(default_table(), None),
        TraceAnnotator(Thresholds()),
    )
    try:
        chat = chat_span(100, 40)
        span = ReadableSpan(  # the same call, sampled, so that it is exported
            name=chat.name,
            context=SpanContext(TRACE_ID, SPAN_ID, False, TraceFlags(1)),
            attributes=chat.attributes,
            start_time=chat.start_time,
            end_time=chat.end_time,
        )
        processor._accept(span, 0.25)
        processor.force_flush()
        (exported,) = exporter.get_finished_spans()
    finally:
        processor.shutdown()
    attributes = dict(exported.attributes or {})
    assert len(calls) == 1
    assert semconv.CPU_TIME_S not in attributes  # no enrichment
    assert attributes[semconv.TRACE_TOTAL_LLM_CALLS] == 1  # the analysis all the same
    assert typed(attributes) == typed(
        {**dict(span.attributes or {}), **general(span, Thresholds())[SPAN_ID][0]}
    )
