"""The openai chat reader's one pass over a response gives what the separate readers gave: the
tool-call ids ``_evidence.response_tool_call_ids`` reads (same ids, same order), and the usage
of the field-by-field reading it replaced; for pydantic models, dicts and malformed shapes."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.chat import ChatCompletion
from openai.types.completion_usage import CompletionUsage

from agentspans.wrappers._evidence import response_tool_call_ids
from agentspans.wrappers._fields import as_int, field_of
from agentspans.wrappers._llm import Usage
from agentspans.wrappers.litellm import CompletionReader, EmbeddingReader
from agentspans.wrappers.openai import CHAT_READER, chat_usage

pytest.importorskip("hypothesis")  # not in the oldest-clients environment

from hypothesis import given, settings
from hypothesis import strategies as st


def reference_usage(usage: Any) -> Usage:
    """``chat_usage`` as it was: one ``field_of`` per field, keyword arguments."""
    return Usage(
        input_tokens=as_int(field_of(usage, "prompt_tokens")),
        output_tokens=as_int(field_of(usage, "completion_tokens")),
        cache_read_tokens=as_int(
            field_of(field_of(usage, "prompt_tokens_details"), "cached_tokens")
        ),
        reasoning_tokens=as_int(
            field_of(field_of(usage, "completion_tokens_details"), "reasoning_tokens")
        ),
    )


ids = st.one_of(st.none(), st.text(max_size=4), st.integers(), st.just(""))
counts = st.one_of(st.none(), st.integers(-2, 50), st.booleans(), st.text(max_size=2))
calls = st.lists(
    st.one_of(
        st.fixed_dictionaries({"id": ids, "type": st.just("function")}),
        st.none(),
        st.integers(),
    ),
    max_size=4,
)
messages = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"role": st.just("assistant")},
        optional={"tool_calls": st.one_of(calls, st.none(), st.text(max_size=2))},
    ),
    st.text(max_size=3),
)
choices = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {"message": messages},
            optional={"finish_reason": st.one_of(st.none(), st.sampled_from(["stop", "", 3]))},
        ),
        st.none(),
    ),
    max_size=3,
)
items = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {"type": st.sampled_from(["function_call", "tool_use", "text"])},
            optional={"call_id": ids, "id": ids},
        ),
        st.none(),
    ),
    max_size=3,
)
details = st.one_of(
    st.none(),
    st.fixed_dictionaries({}, optional={"cached_tokens": counts, "reasoning_tokens": counts}),
    st.integers(),
)
usages = st.one_of(
    st.none(),
    st.integers(),
    st.fixed_dictionaries(
        {},
        optional={
            "prompt_tokens": counts,
            "completion_tokens": counts,
            "prompt_tokens_details": details,
            "completion_tokens_details": details,
        },
    ),
)
responses = st.fixed_dictionaries(
    {},
    optional={
        "id": ids,
        "model": ids,
        "choices": st.one_of(choices, st.none(), st.text(max_size=2)),
        "output": items,
        "content": items,
        "usage": usages,
    },
)


def _summaries_agree(response: Any) -> None:
    for capture in (False, True):
        summary = CHAT_READER.summarise(response, capture)
        assert summary is not None
        assert summary.tool_call_ids == response_tool_call_ids(response)
    usage = field_of(response, "usage")
    assert chat_usage(usage) == reference_usage(usage)


@settings(max_examples=300)
@given(responses)
def test_dict_responses(response: dict[str, Any]) -> None:
    _summaries_agree(response)


@settings(max_examples=100)
@given(
    st.lists(st.text(min_size=1, max_size=5), max_size=3),
    st.sampled_from(["stop", "tool_calls", "length"]),
    st.booleans(),
    items,
)
def test_chat_completion_models(
    call_ids: list[str], reason: str, with_details: bool, extra_output: list[Any]
) -> None:
    usage: dict[str, Any] = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    if with_details:
        usage["prompt_tokens_details"] = {"cached_tokens": 2}
        usage["completion_tokens_details"] = {"reasoning_tokens": 1}
    tool_calls = [
        {"id": i, "type": "function", "function": {"name": "f", "arguments": "{}"}}
        for i in call_ids
    ]
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "finish_reason": reason,
                "message": {"role": "assistant", "content": "x", "tool_calls": tool_calls or None},
            }
        ],
        "usage": usage,
    }
    _summaries_agree(ChatCompletion.model_validate(body))
    # Unknown fields are kept as extras: an ``output`` / ``content`` there is read too.
    _summaries_agree(ChatCompletion.model_validate({**body, "output": extra_output}))
    _summaries_agree(ChatCompletion.model_validate({**body, "content": extra_output}))
    _summaries_agree(CompletionUsage.model_validate(usage))


def test_the_readers_say_whether_they_read_the_ids() -> None:
    assert CHAT_READER.reads_tool_call_ids
    assert CompletionReader(asynchronous=False).reads_tool_call_ids
    assert not EmbeddingReader(asynchronous=False).reads_tool_call_ids
