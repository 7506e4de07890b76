"""openai's other ways to the same request: raw and streaming responses, parse, the stream
helpers and legacy completions, sync and async, over HTTP to the fake provider.

Each shape runs twice, uninstrumented and instrumented: the app must see the same thing (the
raw object's type, status, headers, the parsed body or every chunk), and the one LLM span must
carry what the server sent (tokens, response model, finish reasons) and its cost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from tests.llm.conftest import API_KEY, only_llm_span
from tests.llm.servers import (
    LATE_LAST_EVENT_S,
    OPENAI_USAGE,
    RESPONSES_USAGE,
    STRUCTURED_REPLY,
    FakeProvider,
)

from agentspans import semconv
from agentspans.pricing import default_table
from agentspans.testing import capture_spans

openai = pytest.importorskip("openai")
pydantic = pytest.importorskip("pydantic")

MESSAGES = [{"role": "user", "content": "Say hello to the test suite"}]
USAGE = {"include_usage": True}
STREAM = {"stream": True, "stream_options": USAGE}
_PROBE = openai.OpenAI(api_key="x")
HAS_RESPONSES = hasattr(_PROBE, "responses")  # 1.66+
HAS_RESPONSES_PARSE = HAS_RESPONSES and hasattr(_PROBE.responses, "parse")
HAS_CHAT_PARSE = hasattr(_PROBE.chat.completions, "parse")  # before 1.92: beta.chat.completions


class Greeting(pydantic.BaseModel):
    greeting: str


def chat_of(client: Any) -> Any:
    """Where ``parse`` and ``stream`` live: ``chat.completions`` (1.92+) or ``beta.chat``."""
    return client.chat.completions if HAS_CHAT_PARSE else client.beta.chat.completions


def seen_raw(raw: Any, body: Any) -> dict[str, Any]:
    """What the app sees of a raw response: its type, status, headers and the body it read."""
    headers = {k: v for k, v in raw.headers.items() if k.lower() != "date"}
    return {"type": type(raw), "status": raw.status_code, "headers": headers, "body": body}


def dump(value: Any) -> Any:
    if isinstance(value, list):
        return [dump(v) for v in value]
    return value.model_dump(warnings=False) if hasattr(value, "model_dump") else value


# -- the shapes: (family, sync call, async call); each returns what the app saw ----------------
Sync = Callable[[Any, str], Any]
Async = Callable[[Any, str], Awaitable[Any]]


def _raw(client: Any, model: str) -> Any:
    raw = client.chat.completions.with_raw_response.create(model=model, messages=MESSAGES)
    return seen_raw(raw, dump(raw.parse()))


async def _araw(client: Any, model: str) -> Any:
    raw = await client.chat.completions.with_raw_response.create(model=model, messages=MESSAGES)
    return seen_raw(raw, dump(raw.parse()))


def _raw_stream(client: Any, model: str) -> Any:
    raw = client.chat.completions.with_raw_response.create(model=model, messages=MESSAGES, **STREAM)
    return seen_raw(raw, dump(list(raw.parse())))


async def _araw_stream(client: Any, model: str) -> Any:
    create = client.chat.completions.with_raw_response.create
    raw = await create(model=model, messages=MESSAGES, **STREAM)
    return seen_raw(raw, dump([chunk async for chunk in raw.parse()]))


def _streaming(client: Any, model: str) -> Any:
    create = client.chat.completions.with_streaming_response.create
    with create(model=model, messages=MESSAGES) as response:
        return seen_raw(response, dump(response.parse()))


async def _astreaming(client: Any, model: str) -> Any:
    create = client.chat.completions.with_streaming_response.create
    async with create(model=model, messages=MESSAGES) as response:
        return seen_raw(response, dump(await response.parse()))


def _streaming_read(client: Any, model: str) -> Any:
    create = client.chat.completions.with_streaming_response.create
    with create(model=model, messages=MESSAGES) as response:
        return seen_raw(response, response.json())


def _streaming_stream(client: Any, model: str) -> Any:
    create = client.chat.completions.with_streaming_response.create
    with create(model=model, messages=MESSAGES, **STREAM) as response:
        return seen_raw(response, dump(list(response.parse())))


async def _astreaming_stream(client: Any, model: str) -> Any:
    create = client.chat.completions.with_streaming_response.create
    async with create(model=model, messages=MESSAGES, **STREAM) as response:
        stream = await response.parse()
        return seen_raw(response, dump([chunk async for chunk in stream]))


def _parse(client: Any, model: str) -> Any:
    return dump(chat_of(client).parse(model=model, messages=MESSAGES, response_format=Greeting))


async def _aparse(client: Any, model: str) -> Any:
    chat = chat_of(client)
    return dump(await chat.parse(model=model, messages=MESSAGES, response_format=Greeting))


def _raw_parse(client: Any, model: str) -> Any:
    parse = chat_of(client).with_raw_response.parse
    raw = parse(model=model, messages=MESSAGES, response_format=Greeting)
    return seen_raw(raw, dump(raw.parse()))


def _stream_helper(client: Any, model: str) -> Any:
    helper = chat_of(client).stream
    with helper(
        model=model, messages=MESSAGES, response_format=Greeting, stream_options=USAGE
    ) as stream:
        events = [event.type for event in stream]
        return events, dump(stream.get_final_completion())


async def _astream_helper(client: Any, model: str) -> Any:
    helper = chat_of(client).stream
    async with helper(
        model=model, messages=MESSAGES, response_format=Greeting, stream_options=USAGE
    ) as s:
        events = [event.type async for event in s]
        return events, dump(await s.get_final_completion())


def _completion(client: Any, model: str) -> Any:
    return dump(client.completions.create(model=model, prompt="Say hello"))


async def _acompletion(client: Any, model: str) -> Any:
    return dump(await client.completions.create(model=model, prompt="Say hello"))


def _completion_stream(client: Any, model: str) -> Any:
    return dump(list(client.completions.create(model=model, prompt="Say hello", **STREAM)))


async def _acompletion_stream(client: Any, model: str) -> Any:
    stream = await client.completions.create(model=model, prompt="Say hello", **STREAM)
    return dump([chunk async for chunk in stream])


def _completion_raw(client: Any, model: str) -> Any:
    raw = client.completions.with_raw_response.create(model=model, prompt="Say hello", **STREAM)
    return seen_raw(raw, dump(list(raw.parse())))


async def _acompletion_streaming(client: Any, model: str) -> Any:
    create = client.completions.with_streaming_response.create
    async with create(model=model, prompt="Say hello") as response:
        return seen_raw(response, dump(await response.parse()))


def _responses_raw(client: Any, model: str) -> Any:
    raw = client.responses.with_raw_response.create(model=model, input="Say hello")
    return seen_raw(raw, dump(raw.parse()))


async def _aresponses_raw(client: Any, model: str) -> Any:
    raw = await client.responses.with_raw_response.create(model=model, input="Say hello")
    return seen_raw(raw, dump(raw.parse()))


def _responses_streaming(client: Any, model: str) -> Any:
    create = client.responses.with_streaming_response.create
    with create(model=model, input="Say hello", stream=True) as response:
        return seen_raw(response, dump(list(response.parse())))


async def _aresponses_streaming(client: Any, model: str) -> Any:
    create = client.responses.with_streaming_response.create
    async with create(model=model, input="Say hello", stream=True) as response:
        stream = await response.parse()
        return seen_raw(response, dump([event async for event in stream]))


def _responses_stream_create(client: Any, model: str) -> Any:
    return dump(list(client.responses.create(model=model, input="Say hello", stream=True)))


def _responses_parse(client: Any, model: str) -> Any:
    return dump(client.responses.parse(model=model, input="Say hello", text_format=Greeting))


async def _aresponses_parse(client: Any, model: str) -> Any:
    parse = client.responses.parse
    return dump(await parse(model=model, input="Say hello", text_format=Greeting))


def _responses_stream_helper(client: Any, model: str) -> Any:
    with client.responses.stream(model=model, input="Say hello", text_format=Greeting) as s:
        events = [event.type for event in s]
        return events, dump(s.get_final_response())


async def _aresponses_stream_helper(client: Any, model: str) -> Any:
    async with client.responses.stream(model=model, input="Say hello", text_format=Greeting) as s:
        events = [event.type async for event in s]
        return events, dump(await s.get_final_response())


needs_responses = pytest.mark.skipif(not HAS_RESPONSES, reason="openai without the Responses API")
needs_responses_parse = pytest.mark.skipif(
    not HAS_RESPONSES_PARSE, reason="openai without responses.parse (1.92+)"
)
# family, name, call, asynchronous, marks
SHAPES: list[Any] = [
    ("chat", "with_raw_response", _raw, False, ()),
    ("chat", "with_raw_response", _araw, True, ()),
    ("chat", "with_raw_response stream", _raw_stream, False, ()),
    ("chat", "with_raw_response stream", _araw_stream, True, ()),
    ("chat", "with_streaming_response", _streaming, False, ()),
    ("chat", "with_streaming_response", _astreaming, True, ()),
    ("chat", "with_streaming_response json()", _streaming_read, False, ()),
    ("chat", "with_streaming_response stream", _streaming_stream, False, ()),
    ("chat", "with_streaming_response stream", _astreaming_stream, True, ()),
    ("chat", "parse", _parse, False, ()),
    ("chat", "parse", _aparse, True, ()),
    ("chat", "with_raw_response.parse", _raw_parse, False, ()),
    ("chat", "stream helper", _stream_helper, False, ()),
    ("chat", "stream helper", _astream_helper, True, ()),
    ("completions", "create", _completion, False, ()),
    ("completions", "create", _acompletion, True, ()),
    ("completions", "create stream", _completion_stream, False, ()),
    ("completions", "create stream", _acompletion_stream, True, ()),
    ("completions", "with_raw_response stream", _completion_raw, False, ()),
    ("completions", "with_streaming_response", _acompletion_streaming, True, ()),
    ("responses", "with_raw_response", _responses_raw, False, (needs_responses,)),
    ("responses", "with_raw_response", _aresponses_raw, True, (needs_responses,)),
    ("responses", "with_streaming_response", _responses_streaming, False, (needs_responses,)),
    ("responses", "with_streaming_response", _aresponses_streaming, True, (needs_responses,)),
    ("responses", "create stream", _responses_stream_create, False, (needs_responses,)),
    ("responses", "parse", _responses_parse, False, (needs_responses_parse,)),
    ("responses", "parse", _aresponses_parse, True, (needs_responses_parse,)),
    ("responses", "stream helper", _responses_stream_helper, False, (needs_responses_parse,)),
    ("responses", "stream helper", _aresponses_stream_helper, True, (needs_responses_parse,)),
]
MODELS = {"chat": "gpt-4o-mini", "completions": "gpt-3.5-turbo-instruct", "responses": "gpt-4o"}
# family -> (input, output, cached, reasoning, finish reasons, response id)
EXPECTED = {
    "chat": (
        OPENAI_USAGE["prompt_tokens"],
        OPENAI_USAGE["completion_tokens"],
        OPENAI_USAGE["prompt_tokens_details"]["cached_tokens"],
        OPENAI_USAGE["completion_tokens_details"]["reasoning_tokens"],
        ("stop",),
    ),
    "completions": (
        OPENAI_USAGE["prompt_tokens"],
        OPENAI_USAGE["completion_tokens"],
        OPENAI_USAGE["prompt_tokens_details"]["cached_tokens"],
        OPENAI_USAGE["completion_tokens_details"]["reasoning_tokens"],
        ("length",),
    ),
    "responses": (
        RESPONSES_USAGE["input_tokens"],
        RESPONSES_USAGE["output_tokens"],
        RESPONSES_USAGE["input_tokens_details"]["cached_tokens"],
        RESPONSES_USAGE["output_tokens_details"]["reasoning_tokens"],
        ("completed",),
    ),
}


def _params() -> list[Any]:
    return [
        pytest.param(family, call, asynchronous, id=f"{family} {name} {kind}", marks=marks)
        for family, name, call, asynchronous, marks in SHAPES
        for kind in ["async" if asynchronous else "sync"]
    ]


def run_shape(provider: FakeProvider, call: Any, asynchronous: bool, model: str) -> Any:
    if asynchronous:

        async def go() -> Any:
            client = openai.AsyncOpenAI(base_url=provider.base_url, api_key=API_KEY, max_retries=0)
            try:
                return await call(client, model)
            finally:
                await client.close()

        return asyncio.run(go())
    client = openai.OpenAI(base_url=provider.base_url, api_key=API_KEY, max_retries=0)
    try:
        return call(client, model)
    finally:
        client.close()


@pytest.mark.parametrize(("family", "call", "asynchronous"), _params())
def test_every_shape_is_one_span_with_the_servers_usage(
    provider: FakeProvider, family: str, call: Any, asynchronous: bool
) -> None:
    model = MODELS[family]
    plain = run_shape(provider, call, asynchronous, model)
    with capture_spans(metrics=False) as spans:
        traced = run_shape(provider, call, asynchronous, model)
        span = only_llm_span(spans)
    assert traced == plain  # the app sees exactly what it sees without agentspans
    attrs = span.attributes
    assert attrs is not None
    input_tokens, output_tokens, cached, reasoning, reasons = EXPECTED[family]
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == input_tokens
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == output_tokens
    assert attrs[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == cached
    assert attrs[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == reasoning
    assert semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS not in attrs  # not sent
    assert tuple(attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS]) == reasons
    assert attrs[semconv.GEN_AI_RESPONSE_MODEL] == model
    expected_cost = default_table().cost(
        model, input_tokens, output_tokens, cached, provider=attrs[semconv.GEN_AI_PROVIDER_NAME]
    )
    assert expected_cost is not None and expected_cost > 0
    assert attrs[semconv.COST_USD] == pytest.approx(expected_cost)
    operation = "text_completion" if family == "completions" else "chat"
    assert attrs[semconv.GEN_AI_OPERATION_NAME] == operation
    assert semconv.ERROR_TYPE not in attrs


def test_structured_output_is_parsed_as_without_agentspans(provider: FakeProvider) -> None:
    with capture_spans(metrics=False) as spans:
        seen = run_shape(provider, _parse, False, "gpt-4o-mini")
        only_llm_span(spans)
    assert seen["choices"][0]["message"]["parsed"] == STRUCTURED_REPLY


LATE = [
    pytest.param("chat", _streaming, False, id="chat with_streaming_response sync"),
    pytest.param("chat", _astreaming, True, id="chat with_streaming_response async"),
    pytest.param("chat", _raw_stream, False, id="chat with_raw_response stream sync"),
    pytest.param("chat", _astreaming_stream, True, id="chat with_streaming_response stream async"),
    pytest.param(
        "responses",
        _responses_streaming,
        False,
        id="responses with_streaming_response sync",
        marks=needs_responses,
    ),
]


@pytest.mark.parametrize(("family", "call", "asynchronous"), LATE)
def test_the_span_lasts_until_the_body_or_stream_ends(
    provider: FakeProvider, family: str, call: Any, asynchronous: bool
) -> None:
    with capture_spans(metrics=False) as spans:
        run_shape(provider, call, asynchronous, MODELS[family] + "+late")
        span = only_llm_span(spans)
    assert span.end_time is not None and span.start_time is not None
    assert (span.end_time - span.start_time) / 1e9 >= LATE_LAST_EVENT_S
    assert span.attributes is not None
    assert semconv.GEN_AI_USAGE_OUTPUT_TOKENS in span.attributes


def test_streaming_response_closed_unread_ends_its_span(provider: FakeProvider) -> None:
    client = openai.OpenAI(base_url=provider.base_url, api_key=API_KEY, max_retries=0)
    with capture_spans(metrics=False) as spans:
        create = client.chat.completions.with_streaming_response.create
        with create(model="gpt-4o-mini", messages=MESSAGES, **STREAM) as response:
            assert response.status_code == 200
        span = only_llm_span(spans)
    assert span.attributes is not None
    assert semconv.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes  # never read, never known
    assert span.attributes[semconv.STREAM_OUTCOME] == "closed"
    client.close()


def test_raw_response_error_is_the_same_exception(provider: FakeProvider) -> None:
    def call() -> BaseException:
        client = openai.OpenAI(base_url=provider.base_url, api_key=API_KEY, max_retries=0)
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.with_raw_response.create(
                model="gpt-4o-mini+429", messages=MESSAGES
            )
        client.close()
        return caught.value

    plain = call()
    with capture_spans(metrics=False) as spans:
        traced = call()
        span = only_llm_span(spans)
    assert type(traced) is type(plain) and traced.status_code == plain.status_code
    assert span.attributes is not None
    assert span.attributes[semconv.ERROR_TYPE] == "openai.RateLimitError"


def test_error_type_is_spelled_as_the_conventions_say(provider: FakeProvider) -> None:
    """A builtin is ``ConnectionError``; others are qualified (``openai.APIConnectionError``)."""
    from agentspans.wrappers._llm import public_error_type

    assert public_error_type(ConnectionError("down")) == "ConnectionError"
    assert public_error_type(KeyError("k")) == "KeyError"
    assert public_error_type(openai.OpenAIError("x")) == "openai.OpenAIError"
    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key=API_KEY, max_retries=0)
    with capture_spans(metrics=False) as spans:
        with pytest.raises(openai.APIConnectionError):
            client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
        span = only_llm_span(spans)
    assert span.attributes is not None
    assert span.attributes[semconv.ERROR_TYPE] == "openai.APIConnectionError"
    client.close()


def test_captured_stream_output_is_built_once_not_per_chunk(
    provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With content capture on, a stream's chunks are kept in lists and joined at the end."""
    from agentspans.wrappers import _content

    built: list[int] = []
    original = _content.chat_output

    def counting(message: Any, reason: Any) -> dict[str, Any]:
        built.append(1)
        return original(message, reason)

    monkeypatch.setattr(_content, "chat_output", counting)
    client = openai.OpenAI(base_url=provider.base_url, api_key=API_KEY, max_retries=0)
    with capture_spans(metrics=False, capture_content=True) as spans:
        for _ in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, **STREAM):
            pass
        span = only_llm_span(spans)
    client.close()
    assert span.attributes is not None
    assert "Hello from the test server." in str(span.attributes[semconv.GEN_AI_OUTPUT_MESSAGES])
    assert built == [1]


def test_content_is_capped_in_utf8_bytes_at_a_character_boundary() -> None:
    from agentspans.wrappers._content import MAX_BYTES, cap, to_json

    assert cap("short") == "short"
    wide = "€" * MAX_BYTES  # 3 bytes each
    capped = cap(wide)
    assert len(capped.encode()) <= MAX_BYTES
    assert capped.endswith("…") and set(capped[:-1]) == {"€"}
    assert len(to_json(["x" * (2 * MAX_BYTES)]).encode()) <= MAX_BYTES


def _outcome(call: Any) -> Any:
    try:
        return ("ok", call())
    except Exception as exc:  # the app's view of a failure: its type and status
        return ("raised", type(exc), getattr(exc, "status_code", None))


@pytest.mark.parametrize("fault", ["nulls", "missing_usage", "malformed", "unknown_fields", "500"])
@pytest.mark.parametrize("call", [_raw, _streaming, _raw_stream, _streaming_stream])
def test_faulty_bodies_reach_the_app_as_without_agentspans(
    provider: FakeProvider, fault: str, call: Any
) -> None:
    model = f"gpt-4o-mini+{fault}"
    plain = _outcome(lambda: run_shape(provider, call, False, model))
    with capture_spans(metrics=False) as spans:
        traced = _outcome(lambda: run_shape(provider, call, False, model))
        span = only_llm_span(spans)
    assert traced == plain
    attrs = span.attributes
    assert attrs is not None
    # none sent, none recorded (a stream read to its end may be counted by a tokenizer, and
    # says so)
    if fault in ("nulls", "missing_usage", "malformed", "500") and not attrs.get(
        semconv.USAGE_ESTIMATED
    ):
        assert semconv.GEN_AI_USAGE_INPUT_TOKENS not in attrs
    if fault in ("nulls", "malformed", "500"):
        assert semconv.GEN_AI_RESPONSE_MODEL not in attrs


def test_a_method_agentspans_does_not_trace_behaves_as_without_it(provider: FakeProvider) -> None:
    """``models.with_raw_response.list`` is no LLM call: untouched, no span, same outcome."""

    def call() -> Any:
        client = openai.OpenAI(base_url=provider.base_url, api_key=API_KEY, max_retries=0)
        try:
            return _outcome(lambda: seen_raw(raw := client.models.with_raw_response.list(), raw))
        finally:
            client.close()

    plain = call()
    with capture_spans(metrics=False) as spans:
        traced = call()
        assert not [s for s in spans.finished() if s.name.startswith(("chat", "embeddings"))]
    assert traced[:2] == plain[:2]
