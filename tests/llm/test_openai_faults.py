"""Every provider fault reaches the app exactly as without agentspans; the span says what happened."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry.trace import StatusCode
from tests.llm.conftest import llm_spans
from tests.llm.faults import FAULTS, Outcome, async_outcome

from agentspans import semconv
from agentspans.testing import capture_spans

openai = pytest.importorskip("openai")

MESSAGES = [{"role": "user", "content": "Tell me about faults"}]

SyncCall = Callable[[Any, str], Any]
SYNC_CALLS: dict[str, SyncCall] = {
    "chat": lambda c, m: c.chat.completions.create(model=m, messages=MESSAGES),
    "chat_stream": lambda c, m: list(
        c.chat.completions.create(
            model=m, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    ),
    "responses": lambda c, m: c.responses.create(model=m, input="hi"),
    "responses_stream": lambda c, m: list(c.responses.create(model=m, input="hi", stream=True)),
    "embeddings": lambda c, m: c.embeddings.create(model=m, input="hi"),
}


async def _async_chat_stream(client: Any, model: str) -> list[Any]:
    stream = await client.chat.completions.create(
        model=model, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    return [chunk async for chunk in stream]


ASYNC_CALLS: dict[str, Callable[[Any, str], Any]] = {
    "async_chat": lambda c, m: c.chat.completions.create(model=m, messages=MESSAGES),
    "async_chat_stream": _async_chat_stream,
}


HAS_RESPONSES = hasattr(openai.OpenAI(api_key="x"), "responses")
if not HAS_RESPONSES:  # openai before 1.66
    SYNC_CALLS = {k: v for k, v in SYNC_CALLS.items() if not k.startswith("responses")}


def _client(provider: Any, asynchronous: bool = False) -> Any:
    cls = openai.AsyncOpenAI if asynchronous else openai.OpenAI
    return cls(base_url=provider.base_url, api_key="sk-test", max_retries=0)


def check_span(span: Any, fault: str, outcome: Outcome) -> None:
    attrs = span.attributes
    if outcome.error_type is not None:
        assert span.status.status_code is StatusCode.ERROR
        assert attrs[semconv.ERROR_TYPE].split(".")[-1] == outcome.error_type.__name__
        assert span.status.description == attrs[semconv.ERROR_TYPE]  # no message: may echo keys
        # no exception event carrying the message either (findings may add their own events)
        assert not [e for e in span.events if e.name == "exception"]
        if outcome.status_code is not None and fault in ("429", "500"):
            assert attrs[semconv.HTTP_RESPONSE_STATUS_CODE] == int(fault)
        return
    assert span.status.status_code is StatusCode.UNSET
    # no usage received: none recorded, unless a tokenizer estimated it (and said so)
    if fault in ("missing_usage", "nulls") and semconv.USAGE_ESTIMATED not in attrs:
        assert semconv.GEN_AI_USAGE_INPUT_TOKENS not in attrs
    if fault == "nulls":
        assert semconv.GEN_AI_RESPONSE_ID not in attrs
        assert semconv.GEN_AI_RESPONSE_MODEL not in attrs
    if fault == "cut_short" and semconv.STREAM_OUTCOME in attrs:
        assert attrs[semconv.STREAM_OUTCOME] == "truncated"
    if fault == "unknown_fields":
        assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] > 0


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("kind", sorted(SYNC_CALLS))
def test_sync_fault_is_transparent(provider: Any, kind: str, fault: str) -> None:
    call = SYNC_CALLS[kind]
    model = f"gpt-4o-mini+{fault}"
    with _client(provider) as client:
        plain = Outcome.of(lambda: call(client, model))
    with capture_spans(metrics=False) as spans, _client(provider) as client:
        traced = Outcome.of(lambda: call(client, model))
    assert traced == plain
    (span,) = llm_spans(spans)
    check_span(span, fault, traced)


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("kind", sorted(ASYNC_CALLS))
async def test_async_fault_is_transparent(provider: Any, kind: str, fault: str) -> None:
    call = ASYNC_CALLS[kind]
    model = f"gpt-4o-mini+{fault}"
    plain = await async_outcome(lambda: call(_client(provider, True), model))
    with capture_spans(metrics=False) as spans:
        traced = await async_outcome(lambda: call(_client(provider, True), model))
    assert traced == plain
    (span,) = llm_spans(spans)
    check_span(span, fault, traced)
