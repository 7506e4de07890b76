"""Adversarial traces: roots that never end, huge traces, huge spans, deep trees, a slow export.

Memory stays under the documented bound (spans held <= ``max_spans_held``) and every span is
either delivered or counted in ``TraceProcessor.overflow`` (and its metrics).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

import agentspans
from agentspans import semconv
from agentspans.processors.pipeline import TraceProcessor


class _Counting(SpanExporter):
    def __init__(self, per_batch_s: float = 0.0) -> None:
        self.count = 0
        self.per_batch_s = per_batch_s
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.per_batch_s:
            time.sleep(self.per_batch_s)
        with self._lock:
            self.count += len(spans)
        return SpanExportResult.SUCCESS


@contextlib.contextmanager
def _instrumented(
    processor: object, **options: object
) -> Iterator[tuple[TracerProvider, TraceProcessor, InMemoryMetricReader]]:
    provider = TracerProvider()
    provider.add_span_processor(processor)  # type: ignore[arg-type]
    reader = InMemoryMetricReader()
    instrumentation = agentspans.instrument(
        tracer_provider=provider,
        resources=False,
        meter_provider=MeterProvider(metric_readers=[reader]),
        **options,  # type: ignore[arg-type]
    )
    assert instrumentation.processor is not None
    try:
        yield provider, instrumentation.processor, reader
    finally:
        agentspans.uninstrument()


def _metric(reader: InMemoryMetricReader, name: str) -> dict[str, int]:
    data = reader.get_metrics_data()
    found: dict[str, int] = {}
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    for point in metric.data.data_points:
                        found[str(point.attributes[semconv.OVERFLOW_REASON])] = int(point.value)
    return found


def test_roots_that_never_end_are_capped_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    exporter = InMemorySpanExporter()
    cap, traces, per_trace = 2_000, 300, 20
    with _instrumented(SimpleSpanProcessor(exporter), max_spans_held=cap) as (
        provider,
        processor,
        reader,
    ):
        tracer = provider.get_tracer("t")
        roots = []
        for _ in range(traces):
            root = tracer.start_span("never ends")
            roots.append(root)
            context = trace.set_span_in_context(root)
            for _ in range(per_trace):
                tracer.start_span("child", context=context).end()
            processor._process()
            assert processor._held_count <= cap
        held = processor._held_count
        unanalysed = _metric(reader, semconv.METRIC_SPANS_UNANALYSED)
    produced = traces * per_trace
    assert processor.overflow.spans_held == produced - held
    assert unanalysed["spans_held"] == produced - held
    assert len(exporter.get_finished_spans()) == produced  # the rest went out at uninstrument
    warnings = [r for r in caplog.records if "spans_held" in r.getMessage()]
    assert len(warnings) == 1


def _one_trace(provider: TracerProvider, total: int) -> None:
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("root"):
        for _ in range(total - 1):
            tracer.start_span("leaf").end()


def test_a_large_trace_released_at_once_is_fed_at_the_exporters_pace() -> None:
    # 20k spans released in one burst into a 512-span queue (benchmarks/soak.py runs 200k).
    exporter = _Counting(per_batch_s=0.002)
    batch = BatchSpanProcessor(
        exporter, max_queue_size=512, max_export_batch_size=128, schedule_delay_millis=20
    )
    total = 20_000
    with _instrumented(batch, max_spans_per_trace=25_000) as (provider, processor, reader):
        _one_trace(provider, total)
        provider.force_flush()
        dropped = _metric(reader, semconv.METRIC_SPANS_DROPPED)
    assert exporter.count == total
    assert processor.overflow.export_queue == 0 == dropped.get("export_queue", 0)


class _Stuck(_Counting):
    """A backend that answers nothing until released."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.release.wait(30)
        return super().export(spans)


def test_a_stuck_backend_makes_the_queue_drop_and_every_drop_is_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exporter = _Stuck()
    batch = BatchSpanProcessor(
        exporter, max_queue_size=512, max_export_batch_size=128, schedule_delay_millis=20
    )
    total = 5_000
    with _instrumented(batch) as (provider, processor, reader):
        _one_trace(provider, total)
        processor._process()  # the worker's pass: waits 2 s for the stuck queue, then drops
        dropped = _metric(reader, semconv.METRIC_SPANS_DROPPED)
        exporter.release.set()
        provider.force_flush()
    assert processor.overflow.export_queue > 0
    assert dropped["export_queue"] == processor.overflow.export_queue
    assert exporter.count + processor.overflow.export_queue == total
    assert sum("export queue is full" in r.getMessage() for r in caplog.records) == 1
    assert not [r for r in caplog.records if r.getMessage().startswith("Queue full")]


def test_ten_thousand_attributes_keep_their_dropped_count() -> None:
    exporter = InMemorySpanExporter()
    with _instrumented(SimpleSpanProcessor(exporter)) as (provider, _, _reader):
        with agentspans.agent_span("wide") as span:
            for index in range(10_000):
                span.set_attribute(f"key.{index}", index)
        provider.force_flush()
    (wide,) = exporter.get_finished_spans()
    kept = [key for key in (wide.attributes or {}) if key.startswith("key.")]
    # the SDK's limit (128) applies to the live span; the count survives the rebuild
    assert wide.dropped_attributes >= 10_000 - 128
    assert len(kept) <= 128


def test_depth_2000_is_analysed_without_error() -> None:
    exporter = InMemorySpanExporter()
    with _instrumented(SimpleSpanProcessor(exporter)) as (provider, _, _reader):
        with contextlib.ExitStack() as stack:
            for level in range(2_000):
                stack.enter_context(agentspans.agent_span(f"level-{level}"))
        provider.force_flush()
    spans = exporter.get_finished_spans()
    assert len(spans) == 2_000
    (root,) = [span for span in spans if span.parent is None]
    assert root.attributes is not None
    assert semconv.TRACE_DURATION_MS in root.attributes  # the analysis ran on the whole tree
    on_path = [s for s in spans if (s.attributes or {}).get(semconv.CRITICAL_PATH_ON_PATH)]
    assert len(on_path) == 2_000


class _QuietSampler(Sampler):
    """Records every span but samples (exports) only those not named ``quiet``."""

    def should_sample(self, *args: object, **kwargs: object) -> SamplingResult:
        name = args[2] if len(args) > 2 else kwargs.get("name")
        return SamplingResult(
            Decision.RECORD_ONLY if name == "quiet" else Decision.RECORD_AND_SAMPLE
        )

    def get_description(self) -> str:
        return "quiet"


class _PerSpan(BatchSpanProcessor):
    """A batch processor of a type of its own: handed spans one by one through ``on_end``."""


def test_spans_handed_in_bulk_reach_each_processor_as_one_by_one_would() -> None:
    # The SDK's own batch processors are fed in bulk (their queue, as on_end would: sampled
    # spans only, in order); a subclass, a simple processor get every span through on_end.
    bulk, one_by_one, simple = (
        InMemorySpanExporter(),
        InMemorySpanExporter(),
        InMemorySpanExporter(),
    )
    provider = TracerProvider(sampler=_QuietSampler())
    for processor in (
        BatchSpanProcessor(bulk, max_queue_size=16, max_export_batch_size=4),
        _PerSpan(one_by_one, max_queue_size=16, max_export_batch_size=4),
        SimpleSpanProcessor(simple),
    ):
        provider.add_span_processor(processor)
    agentspans.instrument(tracer_provider=provider, resources=False, metrics=False)
    try:
        tracer = provider.get_tracer("test")
        with tracer.start_as_current_span("invoke_agent a"):
            for i in range(60):
                with tracer.start_as_current_span("quiet" if i % 7 == 3 else f"tool {i}"):
                    pass
        provider.force_flush()
    finally:
        agentspans.uninstrument()
    simple_ids = [s.context.span_id for s in simple.get_finished_spans() if s.name != "quiet"]
    assert len(simple_ids) == 61 - len(range(3, 60, 7))
    for exporter in (bulk, one_by_one):
        assert sorted(s.context.span_id for s in exporter.get_finished_spans()) == sorted(
            simple_ids
        )
