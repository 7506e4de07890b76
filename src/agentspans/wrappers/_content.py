"""Prompt and completion content in the GenAI conventions' JSON format (capture on only).

``gen_ai.input.messages`` / ``gen_ai.output.messages`` are JSON arrays of
``{"role": ..., "parts": [...]}`` with ``text``, ``tool_call`` and ``tool_call_response`` parts;
``gen_ai.system_instructions`` is an array of parts. Nothing in this module runs unless the user
switched content capture on.
"""

from __future__ import annotations

import json
from typing import Any

from agentspans.wrappers._fields import field_of, items_of

# What one content attribute may hold, in UTF-8 bytes (docs/llm.md: 64 KiB).
MAX_BYTES = 65_536
_MARK = "…"


def to_json(value: Any) -> str:
    """Compact JSON, cut at ``MAX_BYTES`` of UTF-8 so one prompt cannot blow the span limits."""
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    return cap(text)


def cap(text: str, limit: int = MAX_BYTES) -> str:
    """``text`` if its UTF-8 fits in ``limit`` bytes, else its longest prefix that does with
    the mark, never splitting a character."""
    if len(text) * 4 <= limit:  # the common case, without encoding: 4 bytes a character at most
        return text
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    room = limit - len(_MARK.encode())
    # errors="ignore" drops the partial character a byte cut may leave at the end
    return data[:room].decode("utf-8", "ignore") + _MARK


def _arguments(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _text_parts(content: Any) -> list[dict[str, Any]]:
    """Parts of an OpenAI/Anthropic ``content``: a string, or a list of typed blocks."""
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts: list[dict[str, Any]] = []
    for block in items_of(content):
        kind = field_of(block, "type")
        if kind in ("text", "input_text", "output_text"):
            parts.append({"type": "text", "content": field_of(block, "text")})
        elif kind == "tool_use":
            parts.append(
                {
                    "type": "tool_call",
                    "id": field_of(block, "id"),
                    "name": field_of(block, "name"),
                    "arguments": field_of(block, "input"),
                }
            )
        elif kind == "tool_result":
            parts.append(
                {
                    "type": "tool_call_response",
                    "id": field_of(block, "tool_use_id"),
                    "response": field_of(block, "content"),
                }
            )
        elif kind is not None:
            parts.append({"type": str(kind)})
    return parts


def _tool_call_parts(tool_calls: Any) -> list[dict[str, Any]]:
    parts = []
    for call in items_of(tool_calls):
        function = field_of(call, "function")
        parts.append(
            {
                "type": "tool_call",
                "id": field_of(call, "id"),
                "name": field_of(function, "name"),
                "arguments": _arguments(field_of(function, "arguments")),
            }
        )
    return parts


def chat_messages(messages: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """OpenAI chat ``messages`` as (input messages, system instructions)."""
    out: list[dict[str, Any]] = []
    system: list[dict[str, Any]] = []
    for message in items_of(messages):
        role = field_of(message, "role")
        content = field_of(message, "content")
        if role in ("system", "developer"):
            system.extend(_text_parts(content))
            continue
        if role == "tool":
            parts: list[dict[str, Any]] = [
                {
                    "type": "tool_call_response",
                    "id": field_of(message, "tool_call_id"),
                    "response": content,
                }
            ]
        else:
            parts = _text_parts(content) + _tool_call_parts(field_of(message, "tool_calls"))
        out.append({"role": role, "parts": parts})
    return out, system


def chat_output(message: Any, finish_reason: Any) -> dict[str, Any]:
    parts = _text_parts(field_of(message, "content")) + _tool_call_parts(
        field_of(message, "tool_calls")
    )
    return {
        "role": field_of(message, "role") or "assistant",
        "parts": parts,
        "finish_reason": finish_reason,
    }


def anthropic_messages(messages: Any, system: Any) -> tuple[list[dict[str, Any]], list[Any]]:
    out = [
        {"role": field_of(m, "role"), "parts": _text_parts(field_of(m, "content"))}
        for m in items_of(messages)
    ]
    return out, _text_parts(system) if system is not None else []


def anthropic_output(content: Any, stop_reason: Any) -> dict[str, Any]:
    return {"role": "assistant", "parts": _text_parts(content), "finish_reason": stop_reason}


def responses_input(value: Any, instructions: Any) -> tuple[list[dict[str, Any]], list[Any]]:
    """Responses API ``input`` (a string or a list of items) and ``instructions``."""
    system = _text_parts(instructions) if isinstance(instructions, str) else []
    if isinstance(value, str):
        return [{"role": "user", "parts": _text_parts(value)}], system
    out = []
    for item in items_of(value):
        role = field_of(item, "role")
        if role in ("system", "developer"):
            system.extend(_text_parts(field_of(item, "content")))
        elif role is not None:
            out.append({"role": role, "parts": _text_parts(field_of(item, "content"))})
        elif field_of(item, "type") == "function_call_output":
            out.append(
                {
                    "role": "tool",
                    "parts": [
                        {
                            "type": "tool_call_response",
                            "id": field_of(item, "call_id"),
                            "response": field_of(item, "output"),
                        }
                    ],
                }
            )
    return out, system


def responses_output(output: Any, finish_reason: Any) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for item in items_of(output):
        kind = field_of(item, "type")
        if kind == "message":
            parts.extend(_text_parts(field_of(item, "content")))
        elif kind == "function_call":
            parts.append(
                {
                    "type": "tool_call",
                    "id": field_of(item, "call_id"),
                    "name": field_of(item, "name"),
                    "arguments": _arguments(field_of(item, "arguments")),
                }
            )
    return [{"role": "assistant", "parts": parts, "finish_reason": finish_reason}]
