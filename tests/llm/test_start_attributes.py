"""An LLM span's start attributes set right after the SDK made it (``wrappers._start``) leave the
span exactly as passing them to ``start_span`` does, and are only set that way where neither
the sampler nor anything at the span's start could have seen them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Span, SpanLimits, SpanProcessor, TracerProvider, sampling
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import agentspans
from agentspans._runtime import RUNTIME
from agentspans._suppress import SuppressibleTracer
from agentspans.processors.pipeline import TraceProcessor
from agentspans.wrappers._start import attribute_blind_tracer, blind_sampler, start_client_span

pytest.importorskip("hypothesis")  # not in the oldest-clients environment

from hypothesis import given, settings
from hypothesis import strategies as st


class Peeking(sampling.Sampler):
    """A sampler that decides on the attributes (as a custom sampler may)."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: Any = None,
        attributes: Any = None,
        links: Sequence[Any] | None = None,
        trace_state: Any = None,
    ) -> sampling.SamplingResult:
        self.seen.append(dict(attributes or {}))
        return sampling.SamplingResult(sampling.Decision.RECORD_AND_SAMPLE, attributes)

    def get_description(self) -> str:
        return "Peeking"


class OverridingStatic(sampling.StaticSampler):
    def should_sample(self, *args: Any, **kwargs: Any) -> sampling.SamplingResult:
        return super().should_sample(*args, **kwargs)


class StartReader(SpanProcessor):
    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.seen.append(dict(span.attributes or {}))


def test_the_sdks_attribute_blind_samplers() -> None:
    for sampler in (
        sampling.ALWAYS_ON,
        sampling.ALWAYS_OFF,
        sampling.DEFAULT_ON,
        sampling.DEFAULT_OFF,
        sampling.TraceIdRatioBased(0.5),
        sampling.ParentBasedTraceIdRatio(0.25),
        sampling.ParentBased(sampling.ALWAYS_ON, local_parent_sampled=sampling.ALWAYS_OFF),
    ):
        assert blind_sampler(sampler), sampler
    for sampler in (
        Peeking(),
        sampling.ParentBased(Peeking()),
        sampling.ParentBased(sampling.ALWAYS_ON, remote_parent_sampled=Peeking()),
        # (it records a span the root dropped, without the attributes the root dropped)
        sampling.AlwaysRecordSampler(sampling.ALWAYS_OFF),
        OverridingStatic(sampling.Decision.RECORD_AND_SAMPLE),
        None,
    ):
        assert not blind_sampler(sampler), sampler


@contextmanager
def instrumented(
    sampler: sampling.Sampler | None = None,
    limits: SpanLimits | None = None,
    processors: Sequence[SpanProcessor] = (),
) -> Iterator[InMemorySpanExporter]:
    provider = TracerProvider(sampler=sampler, span_limits=limits)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    for processor in processors:
        provider.add_span_processor(processor)
    agentspans.instrument(
        tracer_provider=provider,
        exporter="none",
        libraries="openai",  # (the other integrations' start hooks read attributes)
        resources=False,
        metrics=False,
        analysis=False,
    )
    try:
        yield exporter
    finally:
        agentspans.uninstrument()


def _tracer() -> Any:
    runtime = RUNTIME.current
    assert runtime is not None
    return runtime.tracer


_KEYS = st.sampled_from(["gen_ai.request.model", "a", "b", "server.port", "k", ""])
_VALUES = (
    st.text(max_size=8)
    | st.integers()
    | st.floats(allow_nan=False)
    | st.booleans()
    | st.tuples(st.text(max_size=3))
    | st.lists(st.text(max_size=3), max_size=3)
    | st.lists(st.integers(), max_size=2)
    | st.none()
)
_LIMITS = st.sampled_from(
    [None, SpanLimits(max_span_attributes=3), SpanLimits(max_span_attribute_length=4)]
)


def _state(span: Any) -> tuple[Any, ...]:
    attributes = getattr(span, "attributes", None) or {}
    return (
        type(span),
        span.is_recording(),
        span.name if hasattr(span, "name") else None,
        list(attributes.items()),
        [type(v) for v in attributes.values()],
        getattr(span, "dropped_attributes", None),
    )


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(_KEYS, _VALUES, max_size=6), _LIMITS, st.booleans())
def test_the_span_is_the_same_either_way(
    attributes: dict[str, Any], limits: SpanLimits | None, sampled: bool
) -> None:
    sampler = sampling.DEFAULT_ON if sampled else sampling.ALWAYS_OFF
    with instrumented(sampler, limits):
        tracer = _tracer()
        assert attribute_blind_tracer(tracer, Context()) is not None
        context = Context()
        fast = start_client_span(tracer, "chat m", context, attributes)
        slow = tracer.start_span(
            "chat m", context=context, kind=SpanKind.CLIENT, attributes=attributes
        )
        assert _state(fast) == _state(slow)
        fast.end()
        slow.end()


def test_a_suppressed_context_gets_no_span() -> None:
    from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, set_value

    with instrumented():
        suppressed = set_value(_SUPPRESS_INSTRUMENTATION_KEY, True, Context())
        assert start_client_span(_tracer(), "chat m", suppressed, {"a": 1}) is trace.INVALID_SPAN


def _openai_call() -> None:
    import httpx
    import openai

    body = {
        "id": "c1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "x"}}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    client = openai.OpenAI(
        api_key="sk-test", max_retries=0, http_client=httpx.Client(transport=transport)
    )
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], temperature=0.5
    )


def _request_attributes(seen: Mapping[str, Any]) -> None:
    assert seen["gen_ai.request.model"] == "gpt-4o-mini"
    assert seen["gen_ai.request.temperature"] == 0.5
    assert "agentspans.request.fingerprint" in seen


def test_a_sampler_that_could_look_sees_the_attributes() -> None:
    peeking = Peeking()
    with instrumented(peeking):
        assert attribute_blind_tracer(_tracer(), Context()) is None
        _openai_call()
    (seen,) = peeking.seen
    _request_attributes(seen)


def test_a_processor_reading_at_start_sees_the_attributes() -> None:
    reader = StartReader()
    with instrumented(processors=[reader]):
        assert attribute_blind_tracer(_tracer(), Context()) is None
        _openai_call()
    (seen,) = reader.seen
    _request_attributes(seen)


def test_a_processor_added_beside_ours_sees_the_attributes() -> None:
    reader = StartReader()
    with instrumented():
        provider = trace.get_tracer_provider()
        runtime_tracer = _tracer()
        assert attribute_blind_tracer(runtime_tracer, Context()) is not None
        sdk_provider: Any = runtime_tracer.inner.span_processor
        sdk_provider.add_span_processor(reader)  # the app adds one after instrument()
        assert attribute_blind_tracer(runtime_tracer, Context()) is None
        _openai_call()
        assert provider is not None
    (seen,) = reader.seen
    _request_attributes(seen)


def test_a_start_hook_sees_the_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []
    with instrumented():
        runtime_tracer = _tracer()
        (processor,) = runtime_tracer.inner.span_processor._span_processors
        assert isinstance(processor, TraceProcessor)
        hook = lambda span, context: seen.append(dict(span.attributes or {}))  # noqa: E731
        monkeypatch.setattr(processor, "_start_hooks", (hook,))
        processor.downstream = processor.downstream  # recomputed on assignment
        assert attribute_blind_tracer(runtime_tracer, Context()) is None
        _openai_call()
    (attributes,) = seen
    _request_attributes(attributes)


def test_only_our_tracer_over_the_sdks_is_taken() -> None:
    with instrumented():
        tracer = _tracer()
        assert isinstance(tracer, SuppressibleTracer)
        assert attribute_blind_tracer(tracer.inner, Context()) is None
        assert attribute_blind_tracer(SuppressibleTracer(trace.NoOpTracer()), Context()) is None


def test_an_openai_call_records_the_same_span_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    from agentspans.wrappers import _start

    def recorded() -> list[tuple[str, Any]]:
        with instrumented() as exporter:
            _openai_call()
            provider: Any = _tracer().inner.span_processor
            provider.force_flush()
            (span,) = exporter.get_finished_spans()
            assert span.name == "chat gpt-4o-mini"
            return [
                (key, value)
                for key, value in (span.attributes or {}).items()
                if "cpu" not in key and "duration" not in key
            ]

    fast = recorded()
    monkeypatch.setattr(_start, "attribute_blind_tracer", lambda tracer, context: None)
    slow = recorded()
    assert fast == slow
    assert "gen_ai.request.model" in dict(fast)


def test_the_integrations_hooks_look_only_inside_their_calls() -> None:
    from opentelemetry.context import set_value

    from agentspans.wrappers import _native, langchain, openai_agents

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    agentspans.instrument(  # every integration, their start hooks included
        tracer_provider=provider, exporter="none", resources=False, metrics=False, analysis=False
    )
    try:
        tracer = _tracer()
        (processor,) = tracer.inner.span_processor._span_processors
        assert len(processor._start_hooks) >= 3
        assert not processor.sees_start_attributes
        assert attribute_blind_tracer(tracer, Context()) is not None
        for key in (_native._PENDING_KEY, langchain._LLM_RUN_KEY, openai_agents._LLM_SLOT_KEY):
            assert key in processor.start_context_keys
            assert attribute_blind_tracer(tracer, set_value(key, object(), Context())) is None
    finally:
        agentspans.uninstrument()


def test_an_sdk_keeping_its_processors_otherwise_starts_as_before() -> None:
    with instrumented():
        tracer = _tracer()
        multi = tracer.inner.span_processor
        kept = multi._span_processors
        try:
            del multi._span_processors  # an SDK version without the tuple
            assert attribute_blind_tracer(tracer, Context()) is None
            multi._span_processors = list(kept)  # or with something else in its place
            assert attribute_blind_tracer(tracer, Context()) is None
        finally:
            multi._span_processors = kept
        assert attribute_blind_tracer(tracer, Context()) is not None
