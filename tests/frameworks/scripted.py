"""A scripted OpenAI-compatible chat server on 127.0.0.1 for the framework tests.

Framework apps need answers that depend on the request (call this tool, route to that worker,
answer in this JSON schema), so each test passes a *script*: a function from the request body
to a :class:`Reply`. The server speaks the chat completions wire format, as JSON or as
server-sent events (text and tool-call deltas, then a usage chunk when
``stream_options.include_usage`` asks for one), and logs every request it receives with the
usage it returned, so a test compares the spans with what really went over the wire.

The plumbing (threaded server, SSE framing) is tests/llm/servers.py's.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.llm.servers import FakeProvider, Recorded, _Handler, _Server

MODEL = "gpt-4o-mini"  # priced in the bundled table, so every LLM span gets a cost


@dataclass
class Reply:
    """What the model says: text, or tool calls as (name, arguments) pairs."""

    content: str | None = None
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class Served:
    """One request the server answered: its body, and the usage it returned (None: none sent)."""

    body: dict[str, Any]
    usage: dict[str, int] | None


Script = Callable[[dict[str, Any]], Reply]


def usage_for(body: dict[str, Any], reply: Reply) -> dict[str, int]:
    """Token counts that differ per request, so a miscount cannot hide behind a constant."""
    messages = body.get("messages") or []
    prompt = 11 + 7 * len(messages) + 5 * len(body.get("tools") or [])
    completion = 2 + len((reply.content or "").split()) + 9 * len(reply.tool_calls)
    return {"prompt_tokens": prompt, "completion_tokens": completion}


class _ScriptedHandler(_Handler):
    server: _ScriptedServer

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path.split("?")[0] != "/v1/chat/completions":
            self._json(404, {"error": {"message": "no such route", "type": "not_found"}})
            return
        owner = self.server.owner
        reply = owner.script(body)
        usage = usage_for(body, reply)
        wants_usage = not body.get("stream") or bool(
            (body.get("stream_options") or {}).get("include_usage")
        )
        with owner.lock:
            index = len(owner.served)
            owner.served.append(Served(body, usage if wants_usage else None))
            owner.requests.append(Recorded(self.path, dict(self.headers.items()), body))
        response_id = f"chatcmpl-scripted-{index}"
        if body.get("stream"):
            self._stream(self._chunks(response_id, reply, usage, wants_usage), None)
        else:
            self._json(200, self._document(response_id, reply, usage))

    def _tool_calls(self, reply: Reply, index: int) -> list[dict[str, Any]]:
        return [
            {
                "index": n,
                "id": f"call_{index}_{n}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
            for n, (name, arguments) in enumerate(reply.tool_calls)
        ]

    def _document(self, response_id: str, reply: Reply, usage: dict[str, int]) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        calls = self._tool_calls(reply, int(response_id.rsplit("-", 1)[1]))
        if calls:
            message["tool_calls"] = [{k: v for k, v in c.items() if k != "index"} for c in calls]
        return {
            "id": response_id,
            "object": "chat.completion",
            "created": 1700000000,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if calls else "stop",
                    "logprobs": None,
                }
            ],
            "usage": {**usage, "total_tokens": sum(usage.values())},
        }

    def _chunks(
        self, response_id: str, reply: Reply, usage: dict[str, int], wants_usage: bool
    ) -> Iterator[tuple[str | None, Any]]:
        base = {
            "id": response_id,
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": MODEL,
        }
        yield None, {**base, "choices": [{"index": 0, "delta": {"role": "assistant"}}]}
        for word in (reply.content or "").split(" ") if reply.content else []:
            yield None, {**base, "choices": [{"index": 0, "delta": {"content": word + " "}}]}
        calls = self._tool_calls(reply, int(response_id.rsplit("-", 1)[1]))
        for call in calls:
            yield None, {**base, "choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}
        reason = "tool_calls" if calls else "stop"
        yield None, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]}
        if wants_usage:
            yield (
                None,
                {**base, "choices": [], "usage": {**usage, "total_tokens": sum(usage.values())}},
            )
        yield None, "[DONE]"


class _ScriptedServer(_Server):
    owner: ScriptedProvider


class ScriptedProvider(FakeProvider):
    """A chat completions server whose answers come from ``script``; logs what it served."""

    def __init__(self, script: Script) -> None:
        self.requests: list[Recorded] = []
        self.served: list[Served] = []
        self.script = script
        self.lock = threading.Lock()
        self._server = _ScriptedServer(("127.0.0.1", 0), _ScriptedHandler)
        self._server.owner = self
        self._server.provider = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def tokens_served(self) -> int:
        """Input plus output tokens of every response that reported usage."""
        return sum(sum(s.usage.values()) for s in self.served if s.usage is not None)


# -- helpers for scripts -------------------------------------------------------------------------
def last_message(body: dict[str, Any]) -> dict[str, Any]:
    messages = body.get("messages") or [{}]
    return dict(messages[-1])


def tool_names(body: dict[str, Any]) -> list[str]:
    return [t.get("function", {}).get("name", "") for t in body.get("tools") or []]


def system_text(body: dict[str, Any]) -> str:
    return " ".join(
        str(m.get("content")) for m in body.get("messages") or [] if m.get("role") == "system"
    )
