"""A 127.0.0.1 OpenAI Responses server that plays a script: function calls, handoffs, answers.

Built on tests/llm/servers.py's plumbing (same handler, same SSE framing, every request logged).
Which agent is asking is read from the request's ``instructions`` (``"You are Billing. ..."``);
how far that agent has got is the number of its own tool results in the request's ``input``
(call ids are ``call_{agent}_{step}_{n}``), so the server keeps no conversation state and
concurrent runs never share any. Each response's usage is different and is logged beside the
request, so tests can compare the spans' tokens with exactly what the server returned.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.llm.servers import FakeProvider, Recorded, _Handler, _Server

MODEL = "gpt-4o-mini"  # priced in the bundled table


@dataclass(frozen=True)
class Call:
    """The model asks for a function (a tool, or a handoff's ``transfer_to_*``)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Say:
    text: str


Step = tuple[Call | Say, ...]


@dataclass
class Served:
    """One request and the usage the server answered it with."""

    request: Recorded
    input_tokens: int
    output_tokens: int


class _ScriptHandler(_Handler):
    server: _ScriptServer

    def _responses(self, body: dict[str, Any], model: str, fault: str | None) -> None:
        provider = self.server.provider
        assert isinstance(provider, ScriptedResponses)
        agent, step_index, outputs = provider.next_step(body)
        with provider.lock:
            number = len(provider.served)
            input_tokens, output_tokens = 100 + 7 * number, 11 + number
            provider.served.append(Served(provider.requests[-1], input_tokens, output_tokens))
        items = _items(outputs, agent, step_index)
        document = {
            "id": f"resp_{agent}_{step_index}_{number}",
            "object": "response",
            "created_at": 1700000000,
            "status": "completed",
            "model": model,
            "output": items,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": {
                "input_tokens": input_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": output_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": input_tokens + output_tokens,
            },
        }
        if not body.get("stream"):
            self._json(200, document)
            return
        self._stream(_events(document), fault)


def _items(outputs: Step, agent: str, step_index: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for n, output in enumerate(outputs):
        if isinstance(output, Call):
            items.append(
                {
                    "type": "function_call",
                    "id": f"fc_{agent}_{step_index}_{n}",
                    "call_id": f"call_{agent}_{step_index}_{n}",
                    "name": output.name,
                    "arguments": json.dumps(output.arguments),
                    "status": "completed",
                }
            )
        else:
            items.append(
                {
                    "type": "message",
                    "id": f"msg_{agent}_{step_index}_{n}",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": output.text, "annotations": []}],
                }
            )
    return items


def _events(document: dict[str, Any]) -> Iterator[tuple[str | None, Any]]:
    """The Responses stream of ``document``: created, each item added/deltas/done, completed."""
    seq = iter(range(1_000_000))
    created = {**document, "status": "in_progress", "output": [], "usage": None}
    yield (
        "response.created",
        {"type": "response.created", "response": created, "sequence_number": next(seq)},
    )
    for index, item in enumerate(document["output"]):
        started = dict(item, status="in_progress")
        if item["type"] == "function_call":
            started["arguments"] = ""
        else:
            started["content"] = []
        yield (
            "response.output_item.added",
            {
                "type": "response.output_item.added",
                "output_index": index,
                "item": started,
                "sequence_number": next(seq),
            },
        )
        if item["type"] == "function_call":
            yield (
                "response.function_call_arguments.delta",
                {
                    "type": "response.function_call_arguments.delta",
                    "item_id": item["id"],
                    "output_index": index,
                    "delta": item["arguments"],
                    "sequence_number": next(seq),
                },
            )
            yield (
                "response.function_call_arguments.done",
                {
                    "type": "response.function_call_arguments.done",
                    "item_id": item["id"],
                    "output_index": index,
                    "name": item["name"],
                    "arguments": item["arguments"],
                    "sequence_number": next(seq),
                },
            )
        else:
            text = item["content"][0]["text"]
            part = {"type": "output_text", "text": "", "annotations": []}
            yield (
                "response.content_part.added",
                {
                    "type": "response.content_part.added",
                    "item_id": item["id"],
                    "output_index": index,
                    "content_index": 0,
                    "part": part,
                    "sequence_number": next(seq),
                },
            )
            for word in re.findall(r"\S+\s*", text):
                yield (
                    "response.output_text.delta",
                    {
                        "type": "response.output_text.delta",
                        "item_id": item["id"],
                        "output_index": index,
                        "content_index": 0,
                        "delta": word,
                        "logprobs": [],
                        "sequence_number": next(seq),
                    },
                )
            yield (
                "response.output_text.done",
                {
                    "type": "response.output_text.done",
                    "item_id": item["id"],
                    "output_index": index,
                    "content_index": 0,
                    "text": text,
                    "logprobs": [],
                    "sequence_number": next(seq),
                },
            )
        yield (
            "response.output_item.done",
            {
                "type": "response.output_item.done",
                "output_index": index,
                "item": item,
                "sequence_number": next(seq),
            },
        )
    yield (
        "response.completed",
        {"type": "response.completed", "response": document, "sequence_number": next(seq)},
    )


class _ScriptServer(_Server):
    provider: FakeProvider


_AGENT = re.compile(r"You are (\w+)\.")


class ScriptedResponses(FakeProvider):
    """A FakeProvider whose ``/v1/responses`` plays ``script``: agent name -> its steps."""

    def __init__(self, script: dict[str, list[Step]]) -> None:
        self.requests: list[Recorded] = []
        self.served: list[Served] = []
        self.script = script
        self.lock = threading.Lock()
        self._server = _ScriptServer(("127.0.0.1", 0), _ScriptHandler)
        self._server.provider = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def next_step(self, body: dict[str, Any]) -> tuple[str, int, Step]:
        match = _AGENT.search(str(body.get("instructions") or ""))
        agent = match.group(1) if match else "Unknown"
        own = f"call_{agent}_"
        done = {
            item.get("call_id", "").rsplit("_", 1)[0]
            for item in body.get("input") or []
            if isinstance(item, dict)
            and item.get("type") == "function_call_output"
            and str(item.get("call_id", "")).startswith(own)
        }
        steps = self.script.get(agent) or [(Say(f"{agent} has nothing to say."),)]
        index = min(len(done), len(steps) - 1)
        return agent, index, steps[index]

    def responses_served(self) -> list[Served]:
        return [s for s in self.served if s.request.path.startswith("/v1/responses")]
