"""``field_of`` reads provider objects exactly as ``getattr`` / ``dict.get`` would, including
through its per-type shortcuts (Mapping types remembered, pydantic models read from their
``__dict__`` and extras)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pytest
from openai.types.chat import ChatCompletion
from pydantic import BaseModel, PrivateAttr

from agentspans.wrappers._fields import field_of, reader_of

COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "finish_reason": "tool_calls",
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "f", "arguments": "{}"},
                    }
                ],
            },
        }
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
}

NAMES = (
    "id", "model", "choices", "usage", "message", "tool_calls", "content", "output", "kv",
    "finish_reason", "prompt_tokens", "model_extra", "copy", "mro", "__class__", "_secret",
)  # fmt: skip


class WithPrivate(BaseModel):
    visible: int = 1
    _secret: str = PrivateAttr(default="hidden")

    @property
    def computed(self) -> str:
        return "from a property"


def _objects() -> list[Any]:
    plain = ChatCompletion.model_validate(COMPLETION)
    extra = ChatCompletion.model_validate({**COMPLETION, "output": [{"x": 1}], "kv": 3})
    choice = extra.choices[0]
    return [plain, extra, choice, choice.message, extra.usage, WithPrivate()]


@pytest.mark.parametrize("index", range(6))
def test_models_read_as_getattr_reads_them(index: int) -> None:
    obj = _objects()[index]
    for name in (*NAMES, "visible", "computed"):
        for _ in range(2):  # the second read goes through what the first one remembered
            assert field_of(obj, name) == getattr(obj, name, None), name


def test_mappings_read_as_get() -> None:
    for mapping in ({"id": "a"}, OrderedDict(id="a")):
        for _ in range(2):
            assert field_of(mapping, "id") == "a"
            assert field_of(mapping, "output") is None


@pytest.mark.parametrize("index", range(6))
def test_reader_of_reads_as_field_of(index: int) -> None:
    obj = _objects()[index]
    names = (*NAMES, "visible", "computed")
    for _ in range(2):  # the second time through what the first one remembered
        read = reader_of(obj, names)
        for name in names:
            assert read(name) == field_of(obj, name), name


def test_reader_of_mappings_and_others() -> None:
    for value in ({"id": "a"}, OrderedDict(id="a"), None, "text", 3, object()):
        read = reader_of(value, ("id", "output"))
        assert read("id") == field_of(value, "id")
        assert read("output") is None
