"""What links the steps of an agent loop, recorded without any content.

A model response that asks for tool calls names them by id; the tool span that executes one
carries that id as ``gen_ai.tool.call.id`` (set by the framework integrations, which know it);
the next request carries each tool's result back under the same id. Those ids, and the number
of messages a request sends, let the analysis tell a chain of dependent steps (model -> the tool
it asked for -> the model reading its result) from calls that could have run together. No
message text, argument or result is read beyond the ids.

One reader for every client's shapes, since they differ only in field names:

- requests: OpenAI chat ``{"role": "tool", "tool_call_id": ...}``; Anthropic content blocks
  ``{"type": "tool_result", "tool_use_id": ...}``; OpenAI Responses input items
  ``{"type": "function_call_output", "call_id": ...}``;
- responses: OpenAI chat ``choices[].message.tool_calls[].id``; Responses output items
  ``{"type": "function_call", "call_id": ...}``; Anthropic content blocks
  ``{"type": "tool_use", "id": ...}``; and the streaming chunks or events carrying the same.

Every accessor tolerates malformed objects: nothing here raises into the application.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.util.types import AttributeValue

from agentspans import semconv
from agentspans.wrappers._fields import as_str, field_of, items_of, reader_of

# A request's or response's ids beyond this many are not recorded (attribute size limits).
MAX_IDS = 128


def request_evidence(messages: Any) -> dict[str, AttributeValue]:
    """The message count and the tool-result ids a request's ``messages`` (or Responses
    ``input``) carry back. A plain-string input is one message."""
    if isinstance(messages, str):
        return {semconv.REQUEST_MESSAGE_COUNT: 1}
    if not isinstance(messages, (list, tuple)):
        return {}
    ids: list[str] = []
    for message in messages:
        read = message.get if type(message) is dict else reader_of(message, _MESSAGE_FIELDS)
        if read("role") == "tool":
            _add(ids, as_str(read("tool_call_id")))
        elif read("type") == "function_call_output":
            _add(ids, as_str(read("call_id")))
        content = read("content")
        if isinstance(content, (list, tuple)):
            for block in content:
                if field_of(block, "type") == "tool_result":
                    _add(ids, as_str(field_of(block, "tool_use_id")))
    out: dict[str, AttributeValue] = {semconv.REQUEST_MESSAGE_COUNT: len(messages)}
    if ids:
        out[semconv.REQUEST_TOOL_RESULT_IDS] = ids
    return out


_MESSAGE_FIELDS = ("role", "type", "content", "tool_call_id", "call_id")
_RESPONSE_FIELDS = ("choices", "output", "content")


def response_tool_call_ids(response: Any) -> list[str]:
    """The tool calls a (non-streamed) response asked for, by id, in the order it gave them."""
    ids: list[str] = []
    read = reader_of(response, _RESPONSE_FIELDS)
    for choice in items_of(read("choices")):
        add_message_tool_call_ids(field_of(choice, "message"), ids)
    add_item_tool_call_ids(read("output"), read("content"), ids)
    return ids


def add_message_tool_call_ids(message: Any, ids: list[str]) -> None:
    """Add the ids of a chat choice's ``message.tool_calls`` to ``ids``."""
    tool_calls = field_of(message, "tool_calls")
    if tool_calls is not None:
        for call in items_of(tool_calls):
            _add(ids, as_str(field_of(call, "id")))


def add_item_tool_call_ids(output: Any, content: Any, ids: list[str]) -> None:
    """Add the ids of a response's Responses ``output`` items and Anthropic ``content`` blocks
    (a response's ``output`` and ``content`` fields) to ``ids``, after the choices' ones."""
    for item in items_of(output):
        if field_of(item, "type") == "function_call":
            _add(ids, as_str(field_of(item, "call_id")))
    for block in items_of(content):
        if field_of(block, "type") == "tool_use":
            _add(ids, as_str(field_of(block, "id")))


def add_chunk_tool_call_ids(chunk: Any, ids: list[str]) -> None:
    """Add the tool-call ids a stream chunk (or event) announces to ``ids``.

    OpenAI chat streams give a call's id on its first delta; Anthropic streams in
    ``content_block_start``; Responses streams in ``response.output_item.added`` and again in
    the completed response.
    """
    choices = field_of(chunk, "choices")
    if choices:
        for choice in items_of(choices):
            for call in items_of(field_of(field_of(choice, "delta"), "tool_calls")):
                _add(ids, as_str(field_of(call, "id")))
        return
    kind = field_of(chunk, "type")
    if kind == "content_block_start":
        block = field_of(chunk, "content_block")
        if field_of(block, "type") == "tool_use":
            _add(ids, as_str(field_of(block, "id")))
    elif kind in ("response.output_item.added", "response.output_item.done"):
        item = field_of(chunk, "item")
        if field_of(item, "type") == "function_call":
            _add(ids, as_str(field_of(item, "call_id")))
    elif kind == "response.completed":
        for found in response_tool_call_ids(field_of(chunk, "response")):
            _add(ids, found)


def _add(ids: list[str], found: str | None) -> None:
    if found is not None and found not in ids and len(ids) < MAX_IDS:
        ids.append(found)
