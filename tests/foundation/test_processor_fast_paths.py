"""The trace processor skips the downstream processors' empty ``on_start`` / ``_on_ending``:
decided once per assignment of ``downstream``, and every processor that does something there is
still called, with the same arguments, whenever it was added."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Span, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agentspans
from agentspans.processors.pipeline import TraceProcessor, _does_nothing
from agentspans.testing import CapturedSpans, capture_spans


class Recording(SpanProcessor):
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.calls.append(("on_start", (span.name, parent_context)))

    def _on_ending(self, span: Span) -> None:
        self.calls.append(("_on_ending", span.name))

    def on_end(self, span: Any) -> None:
        self.calls.append(("on_end", span.name))


class EndingOnly(SpanProcessor):
    """Only ``_on_ending`` does something; ``on_start`` is the base class's."""

    def __init__(self) -> None:
        self.ended: list[str] = []

    def _on_ending(self, span: Span) -> None:
        self.ended.append(span.name)


class WithoutOnEnding:
    """A duck-typed processor of an older SDK: no ``_on_ending`` at all."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.started.append(span.name)

    def on_end(self, span: Any) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


class Docstring(SpanProcessor):
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Nothing but a docstring."""


class Returns(SpanProcessor):
    def _on_ending(self, span: Span) -> Any:
        return 1


def test_the_sdk_processors_do_nothing_at_start_and_ending() -> None:
    for processor in (
        BatchSpanProcessor(InMemorySpanExporter()),
        SimpleSpanProcessor(InMemorySpanExporter()),
        SpanProcessor(),
        Docstring(),
    ):
        assert _does_nothing(processor, "on_start")
        assert _does_nothing(processor, "_on_ending")
    assert not _does_nothing(SimpleSpanProcessor(InMemorySpanExporter()), "on_end")


def test_anything_else_is_taken_to_do_something() -> None:
    assert not _does_nothing(Recording(), "on_start")
    assert not _does_nothing(Recording(), "_on_ending")
    assert not _does_nothing(Returns(), "_on_ending")
    assert not _does_nothing(WithoutOnEnding(), "_on_ending")  # type: ignore[arg-type]
    patched = BatchSpanProcessor(InMemorySpanExporter())
    patched.on_start = lambda span, parent_context=None: None  # type: ignore[method-assign]
    assert not _does_nothing(patched, "on_start")

    class Callable_:
        def __call__(self, span: Span) -> None:
            pass

    class ObjectMethod(SpanProcessor):
        _on_ending = Callable_()  # type: ignore[assignment]

    assert not _does_nothing(ObjectMethod(), "_on_ending")

    class Intercepting(SpanProcessor):
        def __getattribute__(self, name: str) -> Any:
            return object.__getattribute__(self, name)

    assert not _does_nothing(Intercepting(), "on_start")


@pytest.fixture
def captured() -> Iterator[CapturedSpans]:
    with capture_spans(analysis=False, resources=False, metrics=False) as spans:
        yield spans


def _processor(spans: CapturedSpans) -> TraceProcessor:
    (found,) = [
        p
        for p in spans.provider._active_span_processor._span_processors
        if isinstance(p, TraceProcessor)
    ]
    return found


def test_processors_that_act_at_start_or_ending_are_called(captured: CapturedSpans) -> None:
    processor = _processor(captured)
    recording, ending, duck = Recording(), EndingOnly(), WithoutOnEnding()
    # Added after instrument(), as capture_spans and uninstrument() reassign it.
    processor.downstream = (*processor.downstream, recording, ending, duck)  # type: ignore[arg-type]
    assert processor.downstream[-3:] == (recording, ending, duck)
    parent = trace.set_span_in_context(trace.INVALID_SPAN)
    with agentspans.agent_span("outer"):
        pass
    span = trace.get_tracer("t", tracer_provider=captured.provider).start_span(
        "plain", context=parent
    )
    span.end()
    names = [(kind, value) for kind, value in recording.calls if kind != "on_end"]
    assert names == [
        ("on_start", ("invoke_agent outer", names[0][1][1])),
        ("_on_ending", "invoke_agent outer"),
        ("on_start", ("plain", parent)),
        ("_on_ending", "plain"),
    ]
    assert ending.ended == ["invoke_agent outer", "plain"]
    assert duck.started == ["invoke_agent outer", "plain"]
    processor.downstream = tuple(p for p in processor.downstream if p is not recording)
    with agentspans.agent_span("after"):
        pass
    assert [c for c in recording.calls if c[0] == "on_start"][-1][1][0] == "plain"
    assert ending.ended[-1] == "invoke_agent after"


def test_the_skipped_lists_follow_every_assignment(captured: CapturedSpans) -> None:
    processor = _processor(captured)
    batch = BatchSpanProcessor(InMemorySpanExporter())
    recording = Recording()
    before = processor.downstream
    try:
        processor.downstream = [batch, recording]  # any sequence, kept as a tuple
        assert processor.downstream == (batch, recording)
        assert processor._starting == (recording,)
        assert processor._ending == (recording,)
        processor.downstream = (batch,)
        assert processor._starting == () and processor._ending == ()
    finally:
        processor.downstream = before
        batch.shutdown()
