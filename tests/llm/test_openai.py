"""openai through its real client, over HTTP to the fake provider: one span per call, under its agent."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode
from tests.llm.conftest import llm_spans, only_llm_span
from tests.llm.servers import (
    EMBEDDING_USAGE,
    OPENAI_USAGE,
    REPLY_TEXT,
    REPLY_WORDS,
    RESPONSES_USAGE,
    FakeProvider,
)

import agentspans
from agentspans import semconv
from agentspans.testing import CapturedSpans, capture_spans
from agentspans.wrappers import _tokens

openai = pytest.importorskip("openai")

HAS_RESPONSES = hasattr(openai.OpenAI(api_key="x"), "responses")  # the Responses API: 1.66+
needs_responses = pytest.mark.skipif(not HAS_RESPONSES, reason="openai without the Responses API")


def stream_helper(client: Any) -> Any:
    """``chat.completions.stream``; before openai 1.92 it lived under ``beta``."""
    completions = client.chat.completions
    return (
        completions.stream
        if hasattr(completions, "stream")
        else client.beta.chat.completions.stream
    )


MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Say hello to the test suite"},
]


@agentspans.agent("researcher")
def in_agent(call: Any) -> Any:
    return call()


@agentspans.agent("researcher")
async def in_async_agent(call: Any) -> Any:
    return await call()


def assert_under_agent(spans: CapturedSpans, span: Any) -> None:
    parent = spans.parent_of(span)
    assert parent is not None and parent.name == "invoke_agent researcher"
    assert span.attributes[semconv.GEN_AI_AGENT_NAME] == "researcher"


def assert_chat_usage(attrs: Any) -> None:
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == OPENAI_USAGE["prompt_tokens"]
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == OPENAI_USAGE["completion_tokens"]
    assert (
        attrs[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS]
        == OPENAI_USAGE["prompt_tokens_details"]["cached_tokens"]
    )
    assert (
        attrs[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS]
        == OPENAI_USAGE["completion_tokens_details"]["reasoning_tokens"]
    )


# -- chat completions ----------------------------------------------------------------------------
def test_chat_completion_is_one_client_span_under_its_agent(
    spans: CapturedSpans, openai_client: Any, provider: FakeProvider
) -> None:
    result = in_agent(
        lambda: openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, temperature=0.2, max_tokens=64, top_p=0.9
        )
    )
    assert result.choices[0].message.content == REPLY_TEXT
    span = only_llm_span(spans)
    attrs = span.attributes
    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    assert span.instrumentation_scope.name == "agentspans"
    assert attrs[semconv.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert attrs[semconv.SERVER_ADDRESS] == "127.0.0.1"
    assert attrs[semconv.SERVER_PORT] == provider.port
    assert attrs[semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert attrs[semconv.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert attrs[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert attrs[semconv.GEN_AI_REQUEST_TOP_P] == 0.9
    assert semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY not in attrs  # not sent, not recorded
    assert semconv.GEN_AI_REQUEST_STREAM not in attrs
    assert attrs[semconv.GEN_AI_RESPONSE_ID] == "chatcmpl-test-1"
    assert attrs[semconv.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini"
    assert tuple(attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)
    assert_chat_usage(attrs)
    assert len(attrs[semconv.REQUEST_FINGERPRINT]) == 16
    assert semconv.GEN_AI_INPUT_MESSAGES not in attrs
    assert semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK not in attrs
    assert_under_agent(spans, span)


async def test_async_chat_completion(spans: CapturedSpans, async_openai_client: Any) -> None:
    result = await in_async_agent(
        lambda: async_openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    )
    assert result.choices[0].message.content == REPLY_TEXT
    span = only_llm_span(spans)
    assert span.name == "chat gpt-4o-mini"
    assert_chat_usage(span.attributes)
    assert_under_agent(spans, span)


def test_streamed_chat_records_first_chunk_usage_and_speed(
    spans: CapturedSpans, openai_client: Any
) -> None:
    def call() -> list[Any]:
        stream = openai_client.chat.completions.create(
            model="gpt-4o-mini+slow",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
        assert isinstance(stream, openai.Stream)  # the proxy is still a Stream to the app
        return list(stream)

    chunks = in_agent(call)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == REPLY_TEXT
    span = only_llm_span(spans)
    attrs = span.attributes
    assert attrs[semconv.GEN_AI_REQUEST_STREAM] is True
    assert attrs[semconv.STREAM_OUTCOME] == "completed"
    assert attrs[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= 0.05  # the server's delay
    assert (
        attrs[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] < (span.end_time - span.start_time) / 1e9
    )
    assert attrs[semconv.OUTPUT_TOKENS_PER_SECOND] > 0
    assert tuple(attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)
    assert_chat_usage(attrs)
    assert semconv.USAGE_ESTIMATED not in attrs
    assert_under_agent(spans, span)


async def test_async_streamed_chat(spans: CapturedSpans, async_openai_client: Any) -> None:
    async def call() -> list[Any]:
        stream = await async_openai_client.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
        assert isinstance(stream, openai.AsyncStream)
        return [chunk async for chunk in stream]

    chunks = await in_async_agent(call)
    assert len(chunks) == len(REPLY_WORDS) + 3
    span = only_llm_span(spans)
    assert span.attributes[semconv.STREAM_OUTCOME] == "completed"
    assert_chat_usage(span.attributes)
    assert_under_agent(spans, span)


def _read_two(stream: Any) -> None:
    iterator = iter(stream)
    next(iterator)
    next(iterator)


def test_stream_abandoned_halfway_and_dropped_still_ends_its_span(
    spans: CapturedSpans, openai_client: Any
) -> None:
    stream = openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    )
    _read_two(stream)
    assert spans.finished() == []  # still open while the app holds the stream
    del stream
    gc.collect()
    span = only_llm_span(spans)
    assert span.attributes[semconv.STREAM_OUTCOME] == "dropped"
    assert span.end_time is not None


def test_stream_closed_halfway(spans: CapturedSpans, openai_client: Any) -> None:
    stream = openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    )
    _read_two(stream)
    stream.close()
    span = only_llm_span(spans)
    assert span.attributes[semconv.STREAM_OUTCOME] == "closed"
    assert span.status.status_code is StatusCode.UNSET


def test_stream_left_by_its_with_block(spans: CapturedSpans, openai_client: Any) -> None:
    with openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    ) as stream:
        for _ in stream:
            break
    assert only_llm_span(spans).attributes[semconv.STREAM_OUTCOME] == "closed"


async def test_async_stream_closed_halfway(spans: CapturedSpans, async_openai_client: Any) -> None:
    stream = await async_openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    )
    await stream.__anext__()
    await stream.close()
    assert only_llm_span(spans).attributes[semconv.STREAM_OUTCOME] == "closed"


def test_stream_helper_is_one_span(spans: CapturedSpans, openai_client: Any) -> None:
    def call() -> str:
        with stream_helper(openai_client)(
            model="gpt-4o-mini", messages=MESSAGES, stream_options={"include_usage": True}
        ) as stream:
            for _ in stream:
                pass
            return str(stream.get_final_completion().choices[0].message.content)

    assert in_agent(call) == REPLY_TEXT
    span = only_llm_span(spans)
    assert span.attributes[semconv.STREAM_OUTCOME] == "completed"
    assert_chat_usage(span.attributes)
    assert_under_agent(spans, span)


def test_stream_helper_left_early_closes_the_span(spans: CapturedSpans, openai_client: Any) -> None:
    with stream_helper(openai_client)(model="gpt-4o-mini", messages=MESSAGES) as stream:
        for _ in stream:
            break
    assert only_llm_span(spans).attributes[semconv.STREAM_OUTCOME] == "closed"


async def test_async_stream_helper(spans: CapturedSpans, async_openai_client: Any) -> None:
    async with stream_helper(async_openai_client)(model="gpt-4o-mini", messages=MESSAGES) as stream:
        async for _ in stream:
            pass
    span = only_llm_span(spans)
    assert span.attributes[semconv.STREAM_OUTCOME] == "completed"


# -- token estimates -----------------------------------------------------------------------------
@pytest.fixture
def byte_tokenizer() -> Any:
    """A real tiktoken encoding whose tokens are single bytes: counts are easy to know."""
    tiktoken = pytest.importorskip("tiktoken")
    encoding = tiktoken.Encoding(
        name="bytes-for-tests",
        pat_str=r"\S+|\s+",
        mergeable_ranks={bytes([i]): i for i in range(256)},
        special_tokens={},
    )
    _tokens.use_encoding(encoding)
    yield encoding
    _tokens.use_encoding(None)


def test_stream_without_usage_is_estimated_with_a_tokenizer(
    spans: CapturedSpans, openai_client: Any, byte_tokenizer: Any
) -> None:
    list(openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    attrs = only_llm_span(spans).attributes
    assert attrs[semconv.USAGE_ESTIMATED] is True
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == len(REPLY_TEXT.encode())
    prompt = "\n".join(m["content"] for m in MESSAGES)
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == len(prompt.encode())


def test_stream_without_usage_or_tokenizer_records_no_counts(
    spans: CapturedSpans, openai_client: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))  # nothing cached: no tokenizer
    monkeypatch.setattr(_tokens, "_loaded", {})
    list(openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    attrs = only_llm_span(spans).attributes
    assert semconv.GEN_AI_USAGE_OUTPUT_TOKENS not in attrs
    assert semconv.USAGE_ESTIMATED not in attrs


# -- responses and embeddings --------------------------------------------------------------------
def assert_responses_usage(attrs: Any) -> None:
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == RESPONSES_USAGE["input_tokens"]
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == RESPONSES_USAGE["output_tokens"]
    assert attrs[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 3


@needs_responses
def test_responses_create(spans: CapturedSpans, openai_client: Any) -> None:
    result = in_agent(
        lambda: openai_client.responses.create(
            model="gpt-4.1-mini", input="Say hello", instructions="Be terse", max_output_tokens=50
        )
    )
    assert result.output_text == REPLY_TEXT
    span = only_llm_span(spans)
    attrs = span.attributes
    assert span.name == "chat gpt-4.1-mini"
    assert attrs[semconv.GEN_AI_RESPONSE_ID] == "resp_test_1"
    assert attrs[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 50
    assert tuple(attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS]) == ("completed",)
    assert_responses_usage(attrs)
    assert_under_agent(spans, span)


@needs_responses
def test_responses_stream(spans: CapturedSpans, openai_client: Any) -> None:
    events = in_agent(
        lambda: list(openai_client.responses.create(model="gpt-4.1-mini", input="Hi", stream=True))
    )
    assert events[-1].type == "response.completed"
    span = only_llm_span(spans)
    attrs = span.attributes
    assert attrs[semconv.STREAM_OUTCOME] == "completed"
    assert attrs[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    assert_responses_usage(attrs)
    assert_under_agent(spans, span)


@needs_responses
async def test_async_responses_and_stream_helper(
    spans: CapturedSpans, async_openai_client: Any
) -> None:
    await async_openai_client.responses.create(model="gpt-4.1-mini", input="Hi")
    async with async_openai_client.responses.stream(model="gpt-4.1-mini", input="Hi") as stream:
        async for _ in stream:
            pass
    found = [s for s in spans.finished() if s.name == "chat gpt-4.1-mini"]
    assert len(found) == 2
    for span in found:
        assert_responses_usage(span.attributes)


def test_embeddings(spans: CapturedSpans, openai_client: Any) -> None:
    result = in_agent(
        lambda: openai_client.embeddings.create(
            model="text-embedding-3-small", input=["a", "b"], dimensions=3, encoding_format="float"
        )
    )
    assert len(result.data) == 2
    span = only_llm_span(spans)
    attrs = span.attributes
    assert span.name == "embeddings text-embedding-3-small"
    assert attrs[semconv.GEN_AI_OPERATION_NAME] == "embeddings"
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == EMBEDDING_USAGE["prompt_tokens"]
    assert attrs[semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 3
    assert tuple(attrs[semconv.GEN_AI_REQUEST_ENCODING_FORMATS]) == ("float",)
    assert semconv.GEN_AI_USAGE_OUTPUT_TOKENS not in attrs
    assert_under_agent(spans, span)


async def test_async_embeddings(spans: CapturedSpans, async_openai_client: Any) -> None:
    await async_openai_client.embeddings.create(model="text-embedding-3-small", input="a")
    assert only_llm_span(spans).name == "embeddings text-embedding-3-small"


# -- concurrency and lifecycle -------------------------------------------------------------------
async def test_concurrent_calls_each_under_their_own_agent(
    spans: CapturedSpans, async_openai_client: Any
) -> None:
    @agentspans.agent
    async def worker(n: int) -> Any:
        return await async_openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"task {n}"}]
        )

    await asyncio.gather(*(worker(n) for n in range(20)))
    chats = [s for s in spans.finished() if s.name == "chat gpt-4o-mini"]
    assert len(chats) == 20
    assert {spans.parent_of(s).context.span_id for s in chats} == {  # type: ignore[union-attr]
        s.context.span_id for s in spans.named("invoke_agent worker")
    }


def test_uninstrument_restores_the_exact_methods(openai_client: Any) -> None:
    from openai.resources.chat.completions import AsyncCompletions, Completions
    from openai.resources.embeddings import Embeddings

    classes = [Completions, AsyncCompletions, Embeddings]
    if HAS_RESPONSES:
        from openai.resources.responses import Responses

        classes.append(Responses)
    before = [vars(c)["create"] for c in classes]
    agentspans.instrument(exporter="none", resources=False, analysis=False)
    try:
        assert vars(Completions)["create"] is not before[0]
    finally:
        agentspans.uninstrument()
    after = [vars(c)["create"] for c in classes]
    assert all(a is b for a, b in zip(after, before, strict=True))


def test_untraced_when_not_instrumented(openai_client: Any) -> None:
    result = openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert result.choices[0].message.content == REPLY_TEXT


# -- content capture -----------------------------------------------------------------------------
def test_capture_on_records_content_in_the_conventions_format(openai_client: Any) -> None:
    import json

    messages = [
        *MESSAGES,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "add", "arguments": '{"a": 1}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "2"},
    ]
    with capture_spans(metrics=False, capture_content=True) as spans:
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        list(
            openai_client.chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES, stream=True
            )
        )
    plain, streamed = sorted(llm_spans(spans), key=lambda s: s.start_time or 0)
    attrs = plain.attributes
    assert json.loads(attrs[semconv.GEN_AI_SYSTEM_INSTRUCTIONS]) == [
        {"type": "text", "content": "You are terse."}
    ]
    assert json.loads(attrs[semconv.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": MESSAGES[1]["content"]}]},
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "call_1", "name": "add", "arguments": {"a": 1}}],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "call_1", "response": "2"}],
        },
    ]
    expected_output = [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": REPLY_TEXT}],
            "finish_reason": "stop",
        }
    ]
    assert json.loads(attrs[semconv.GEN_AI_OUTPUT_MESSAGES]) == expected_output
    assert json.loads(streamed.attributes[semconv.GEN_AI_OUTPUT_MESSAGES]) == expected_output


def test_unsampled_calls_behave_and_export_nothing(openai_client: Any) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    provider = TracerProvider(sampler=ALWAYS_OFF)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    agentspans.instrument(tracer_provider=provider, resources=False, metrics=False)
    try:
        result = in_agent(
            lambda: openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        )
        chunks = list(
            openai_client.chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES, stream=True
            )
        )
    finally:
        agentspans.uninstrument()
    provider.force_flush()
    assert result.choices[0].message.content == REPLY_TEXT
    assert len(chunks) == len(REPLY_WORDS) + 2  # role, words, finish
    assert exporter.get_finished_spans() == ()
