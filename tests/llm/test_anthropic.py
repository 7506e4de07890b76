"""anthropic through its real client: one span per call, whether the SDK emits its own or not."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode
from tests.llm.conftest import API_KEY, llm_spans, only_llm_span
from tests.llm.faults import FAULTS, Outcome
from tests.llm.servers import ANTHROPIC_USAGE, REPLY_TEXT, FakeProvider

import agentspans
from agentspans import semconv
from agentspans.testing import CapturedSpans, capture_spans
from agentspans.wrappers import anthropic as anthropic_wrapper

anthropic = pytest.importorskip("anthropic")

NATIVE = anthropic_wrapper._has_native_spans()
MESSAGES = [{"role": "user", "content": "Say hello, Claude"}]
KW: dict[str, Any] = {"model": "claude-test-4", "max_tokens": 64, "messages": MESSAGES}
INPUT_TOTAL = (
    ANTHROPIC_USAGE["input_tokens"]
    + ANTHROPIC_USAGE["cache_read_input_tokens"]
    + ANTHROPIC_USAGE["cache_creation_input_tokens"]
)


@agentspans.agent("writer")
def in_agent(call: Any) -> Any:
    return call()


@agentspans.agent("writer")
async def in_async_agent(call: Any) -> Any:
    return await call()


def _client(provider: FakeProvider, spans: CapturedSpans | None, asynchronous: bool = False) -> Any:
    """A client whose native spans (if its SDK has them) go to ``spans``'s provider, or nowhere."""
    options: dict[str, Any] = {}
    if NATIVE:
        options["open_telemetry"] = (
            {"tracer_provider": spans.provider} if spans is not None else {"traces": False}
        )
    cls = anthropic.AsyncAnthropic if asynchronous else anthropic.Anthropic
    return cls(base_url=provider.root_url, api_key=API_KEY, max_retries=0, **options)


@pytest.fixture(params=["native", "own"] if NATIVE else ["own"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def client_for(provider: FakeProvider, spans: CapturedSpans, mode: str) -> Any:
    """Make clients for the mode: native spans into the test's provider, or switched off."""

    def make(asynchronous: bool = False) -> Any:
        return _client(provider, spans if mode == "native" else None, asynchronous)

    return make


def check_call_span(spans: CapturedSpans, mode: str, *, streamed: bool) -> Any:
    span = only_llm_span(spans)
    attrs = span.attributes
    assert span.kind is SpanKind.CLIENT
    if mode == "native":
        assert span.instrumentation_scope.name.startswith("com.anthropic.sdk.python")
        assert span.name == "anthropic.messages.create"
    else:
        assert span.instrumentation_scope.name == "agentspans"
        assert span.name == "chat claude-test-4"
    assert attrs[semconv.GEN_AI_PROVIDER_NAME] == "anthropic"
    assert attrs[semconv.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[semconv.GEN_AI_REQUEST_MODEL] == "claude-test-4"
    assert attrs[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert attrs[semconv.GEN_AI_RESPONSE_ID] == "msg_test_1"
    assert attrs[semconv.GEN_AI_RESPONSE_MODEL] == "claude-test-4"
    assert tuple(attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS]) == ("end_turn",)
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == INPUT_TOTAL
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == ANTHROPIC_USAGE["output_tokens"]
    assert attrs[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 4
    assert attrs[semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == 2
    assert len(attrs[semconv.REQUEST_FINGERPRINT]) == 16
    assert attrs[semconv.GEN_AI_AGENT_NAME] == "writer"
    if streamed:
        assert attrs[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    parent = spans.parent_of(span)
    assert parent is not None and parent.name == "invoke_agent writer"
    return span


def test_messages_create(spans: CapturedSpans, client_for: Any, mode: str) -> None:
    client = client_for()
    message = in_agent(
        lambda: client.messages.create(
            **KW, stop_sequences=["END"], extra_body={"temperature": 0.3, "top_k": 5}
        )
    )
    assert message.content[0].text == REPLY_TEXT
    span = check_call_span(spans, mode, streamed=False)
    assert span.attributes[semconv.GEN_AI_REQUEST_TEMPERATURE] == 0.3
    assert span.attributes[semconv.GEN_AI_REQUEST_TOP_K] == 5
    assert tuple(span.attributes[semconv.GEN_AI_REQUEST_STOP_SEQUENCES]) == ("END",)


async def test_async_messages_create(spans: CapturedSpans, client_for: Any, mode: str) -> None:
    client = client_for(asynchronous=True)
    message = await in_async_agent(lambda: client.messages.create(**KW))
    assert message.content[0].text == REPLY_TEXT
    check_call_span(spans, mode, streamed=False)


def test_create_stream_true(spans: CapturedSpans, client_for: Any, mode: str) -> None:
    client = client_for()
    events = in_agent(lambda: list(client.messages.create(**KW, stream=True)))
    assert events[-1].type == "message_stop"
    check_call_span(spans, mode, streamed=True)


async def test_async_create_stream_true(spans: CapturedSpans, client_for: Any, mode: str) -> None:
    client = client_for(asynchronous=True)

    async def call() -> list[Any]:
        return [event async for event in await client.messages.create(**KW, stream=True)]

    events = await in_async_agent(call)
    assert events[-1].type == "message_stop"
    check_call_span(spans, mode, streamed=True)


def test_stream_helper(spans: CapturedSpans, client_for: Any, mode: str) -> None:
    client = client_for()

    def call() -> str:
        with client.messages.stream(**KW) as stream:
            return "".join(stream.text_stream)

    assert in_agent(call) == REPLY_TEXT
    check_call_span(spans, mode, streamed=mode == "native")


def test_stream_helper_iterated(spans: CapturedSpans, client_for: Any, mode: str) -> None:
    client = client_for()

    def call() -> Any:
        with client.messages.stream(**KW) as stream:
            for _ in stream:
                pass
            return stream.get_final_message()

    assert in_agent(call).content[0].text == REPLY_TEXT
    check_call_span(spans, mode, streamed=True)


async def test_async_stream_helper(spans: CapturedSpans, client_for: Any, mode: str) -> None:
    client = client_for(asynchronous=True)

    async def call() -> Any:
        async with client.messages.stream(**KW) as stream:
            async for _ in stream:
                pass
            return await stream.get_final_message()

    assert (await in_async_agent(call)).content[0].text == REPLY_TEXT
    check_call_span(spans, mode, streamed=True)


def test_stream_abandoned_and_dropped_ends_its_span(spans: CapturedSpans, client_for: Any) -> None:
    client = client_for()
    stream = client.messages.create(**KW, stream=True)
    iterator = iter(stream)
    next(iterator)
    next(iterator)
    del stream, iterator
    gc.collect()
    span = only_llm_span(spans)
    assert span.end_time is not None


def test_error_is_recorded_once(spans: CapturedSpans, client_for: Any) -> None:
    client = client_for()
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(**{**KW, "model": "claude-test-4+429"})
    span = only_llm_span(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE]
    assert span.attributes["http.response.status_code"] == 429
    assert API_KEY not in str(span.attributes) and "fault injected" not in str(span.status)


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("streamed", [False, True])
def test_faults_are_transparent(provider: FakeProvider, fault: str, streamed: bool) -> None:
    kwargs = {**KW, "model": f"claude-test-4+{fault}", "stream": streamed}

    def call(client: Any) -> Any:
        result = client.messages.create(**kwargs)
        return list(result) if streamed else result

    plain = Outcome.of(lambda: call(_client(provider, None)))
    with capture_spans(metrics=False) as spans:
        traced = Outcome.of(lambda: call(_client(provider, spans)))
    assert traced == plain
    assert len(llm_spans(spans)) == 1


@pytest.fixture
def without_native(monkeypatch: pytest.MonkeyPatch) -> None:
    """Behave as with an SDK older than native spans (the wrapper's own span, live context)."""
    monkeypatch.setattr(anthropic_wrapper, "_has_native_spans", lambda: False)


def test_older_sdks_get_our_span_around_the_call(
    without_native: None, provider: FakeProvider
) -> None:
    with capture_spans(metrics=False) as spans:
        client = _client(provider, None)
        in_agent(lambda: client.messages.create(**KW))
        in_agent(lambda: list(client.messages.create(**KW, stream=True)))
        with client.messages.stream(**KW) as stream:
            stream.until_done()
    chats = llm_spans(spans)
    assert [s.name for s in chats] == ["chat claude-test-4"] * 3
    for span in chats:
        assert span.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == INPUT_TOTAL
        assert tuple(span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS]) == ("end_turn",)
