"""Dependency evidence on real client spans: the tool-call ids a response asked for, the tool
results and message count a request carried, recorded without any content."""

from __future__ import annotations

from typing import Any

import pytest
from tests.llm.conftest import API_KEY, only_llm_span
from tests.llm.servers import FakeProvider

from agentspans import semconv
from agentspans.testing import CapturedSpans

TOOLS = [
    {
        "type": "function",
        "function": {"name": name, "parameters": {"type": "object", "properties": {}}},
    }
    for name in ("weather", "news")
]


def attributes(spans: CapturedSpans) -> dict[str, Any]:
    return dict(only_llm_span(spans).attributes or {})


def test_chat_response_ids_and_request_results(
    spans: CapturedSpans, openai_client: Any, provider: FakeProvider
) -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "weather and news?"}]
    response = openai_client.chat.completions.create(
        model="gpt-4o-mini+tools3", messages=messages, tools=TOOLS
    )
    asked = [call.id for call in response.choices[0].message.tool_calls]
    assert len(asked) == 3
    first = attributes(spans)
    assert list(first[semconv.RESPONSE_TOOL_CALL_IDS]) == asked
    assert first[semconv.REQUEST_MESSAGE_COUNT] == 1
    assert semconv.REQUEST_TOOL_RESULT_IDS not in first
    spans.clear()

    messages.append(response.choices[0].message.model_dump(exclude_none=True))
    messages += [{"role": "tool", "tool_call_id": i, "content": "SECRET-RESULT"} for i in asked]
    openai_client.chat.completions.create(
        model="gpt-4o-mini+tools3", messages=messages, tools=TOOLS
    )
    second = attributes(spans)
    assert list(second[semconv.REQUEST_TOOL_RESULT_IDS]) == asked
    assert second[semconv.REQUEST_MESSAGE_COUNT] == 5
    assert semconv.RESPONSE_TOOL_CALL_IDS not in second  # it answered with text
    # Ids only: no tool result or argument text is on the span.
    assert "SECRET-RESULT" not in repr(second) and '"k"' not in repr(second)


def test_streamed_chat_records_the_ids_from_the_deltas(
    spans: CapturedSpans, openai_client: Any
) -> None:
    stream = openai_client.chat.completions.create(
        model="gpt-4o-mini+tools2",
        messages=[{"role": "user", "content": "go"}],
        tools=TOOLS,
        stream=True,
    )
    ids = {d.id for chunk in stream for d in (chunk.choices[0].delta.tool_calls or []) if d.id}
    recorded = attributes(spans)[semconv.RESPONSE_TOOL_CALL_IDS]
    assert len(recorded) == 2 and set(recorded) == ids


def test_anthropic_tool_use_and_tool_result(spans: CapturedSpans, provider: FakeProvider) -> None:
    anthropic = pytest.importorskip("anthropic")
    client = anthropic.Anthropic(base_url=provider.root_url, api_key=API_KEY, max_retries=0)
    tools = [{"name": "weather", "input_schema": {"type": "object", "properties": {}}}]
    message = client.messages.create(
        model="claude-3-5-haiku-latest+tools2",
        max_tokens=50,
        messages=[{"role": "user", "content": "weather?"}],
        tools=tools,
    )
    asked = [block.id for block in message.content if block.type == "tool_use"]
    assert len(asked) == 2
    assert list(attributes(spans)[semconv.RESPONSE_TOOL_CALL_IDS]) == asked
    spans.clear()
    results = [{"type": "tool_result", "tool_use_id": i, "content": "sunny"} for i in asked]
    client.messages.create(
        model="claude-3-5-haiku-latest+tools2",
        max_tokens=50,
        messages=[
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": [b.model_dump() for b in message.content]},
            {"role": "user", "content": results},
        ],
        tools=tools,
    )
    carried = attributes(spans)
    assert list(carried[semconv.REQUEST_TOOL_RESULT_IDS]) == asked
    assert carried[semconv.REQUEST_MESSAGE_COUNT] == 3
    client.close()


def test_responses_and_stream_event_shapes() -> None:
    """The Responses API's and Anthropic's stream shapes, as the SDKs parse them (dicts here:
    the reader takes models and dicts alike); malformed values are ignored, never raised on."""
    from agentspans.wrappers._evidence import (
        add_chunk_tool_call_ids,
        request_evidence,
        response_tool_call_ids,
    )

    response = {
        "output": [
            {"type": "reasoning", "id": "rs_1"},
            {"type": "function_call", "call_id": "call_a", "name": "weather"},
            {"type": "function_call", "call_id": "call_b", "name": "news"},
        ]
    }
    assert response_tool_call_ids(response) == ["call_a", "call_b"]
    items = [
        {"role": "user", "content": "hi"},
        {"type": "function_call", "call_id": "call_a"},
        {"type": "function_call_output", "call_id": "call_a", "output": "sunny"},
    ]
    assert request_evidence(items) == {
        semconv.REQUEST_MESSAGE_COUNT: 3,
        semconv.REQUEST_TOOL_RESULT_IDS: ["call_a"],
    }
    assert request_evidence("just text") == {semconv.REQUEST_MESSAGE_COUNT: 1}
    assert request_evidence(None) == {}
    ids: list[str] = []
    for event in (
        {"type": "response.output_item.added", "item": {"type": "function_call", "call_id": "x"}},
        {"type": "content_block_start", "content_block": {"type": "tool_use", "id": "toolu_1"}},
        {"type": "content_block_start", "content_block": {"type": "text"}},
        {"type": "response.completed", "response": response},
        {"choices": [{"delta": {"tool_calls": [{"id": None}, {"id": 3}, "junk"]}}]},
        {"type": "response.output_item.added", "item": None},
    ):
        add_chunk_tool_call_ids(event, ids)
    assert ids == ["x", "toolu_1", "call_a", "call_b"]
