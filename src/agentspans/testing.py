"""Capture agentspans' spans in your own tests.

    from agentspans.testing import capture_spans

    def test_my_agent():
        with capture_spans() as spans:
            run_my_agent()
        (root,) = spans.roots()
        assert [s.name for s in spans.children(root)] == ["invoke_agent research"]

``capture_spans`` instruments with a private SDK ``TracerProvider`` and an in-memory exporter
(nothing leaves the process) and uninstruments on exit; inside an app that is instrumented
already it taps the running instrumentation instead and leaves it as it was. Spans come back
after the trace processor has enriched and analysed them, exactly as an exporter would receive
them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

__all__ = ["CapturedSpans", "capture_spans"]


class CapturedSpans:
    """The spans one ``capture_spans`` block produced, with small helpers to walk the tree."""

    def __init__(self, provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
        self.provider = provider
        self.exporter = exporter

    def finished(self) -> list[ReadableSpan]:
        """Every span that has ended, after flushing the trace processor."""
        self.provider.force_flush()
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.finished() if span.name == name]

    def one(self, name: str) -> ReadableSpan:
        found = self.named(name)
        if len(found) != 1:
            raise AssertionError(f"expected one span named {name!r}, found {len(found)}")
        return found[0]

    def roots(self) -> list[ReadableSpan]:
        return [span for span in self.finished() if span.parent is None]

    def children(self, parent: ReadableSpan) -> list[ReadableSpan]:
        assert parent.context is not None
        parent_id = parent.context.span_id
        return sorted(
            (s for s in self.finished() if s.parent is not None and s.parent.span_id == parent_id),
            key=lambda s: s.start_time or 0,
        )

    def parent_of(self, span: ReadableSpan) -> ReadableSpan | None:
        if span.parent is None:
            return None
        for candidate in self.finished():
            if candidate.context is not None and candidate.context.span_id == span.parent.span_id:
                return candidate
        return None

    def clear(self) -> None:
        self.provider.force_flush()
        self.exporter.clear()


@contextmanager
def capture_spans(**instrument_options: Any) -> Iterator[CapturedSpans]:
    """Instrument into an in-memory exporter for the duration of the block.

    Inside an app that is instrumented already, the block's spans are captured from the running
    instrumentation (its options apply; ``instrument_options`` must then be empty) and the app
    stays instrumented as it was afterwards.
    """
    import agentspans

    current = agentspans.instrumentation()
    if current is not None:
        with _capture_from(current, instrument_options) as captured:
            yield captured
        return
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrument_options.setdefault("resources", False)
    agentspans.instrument(tracer_provider=provider, **instrument_options)
    try:
        yield CapturedSpans(provider, exporter)
    finally:
        agentspans.uninstrument()


@contextmanager
def _capture_from(current: Any, instrument_options: dict[str, Any]) -> Iterator[CapturedSpans]:
    processor = current.processor
    if instrument_options:
        raise RuntimeError(
            "agentspans.testing.capture_spans(...): the app is instrumented already, so options "
            f"({', '.join(sorted(instrument_options))}) cannot apply; call it without options, "
            "or uninstrument() first"
        )
    if processor is None:
        raise RuntimeError(
            "agentspans.testing.capture_spans(): the app's tracer provider is not the "
            "OpenTelemetry SDK's, so finished spans cannot be captured"
        )
    exporter = InMemorySpanExporter()
    tap = SimpleSpanProcessor(exporter)
    processor.downstream = (*processor.downstream, tap)
    try:
        yield CapturedSpans(current.provider, exporter)
    finally:
        processor.force_flush()
        processor.downstream = tuple(p for p in processor.downstream if p is not tap)
