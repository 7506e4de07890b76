"""Threaded HTTP servers on 127.0.0.1 that speak OpenAI's and Anthropic's wire formats.

One :class:`FakeProvider` answers ``/v1/chat/completions``, ``/v1/responses``, ``/v1/embeddings``,
the legacy ``/v1/completions`` (OpenAI) and ``/v1/messages`` (Anthropic), as JSON or as server-sent events when the request says
``"stream": true``. A fault is chosen per request by a ``+fault`` suffix on the model name
(``"gpt-4o-mini+429"``), so concurrent tests never share server state:

``missing_usage``  no usage anywhere (streams: no usage chunk)
``nulls``          ``null`` where ids, models, finish reasons and token counts belong
``unknown_fields`` extra fields and unknown event types everywhere
``cut_short``      the stream ends cleanly before its finish reason / end event
``truncated``      the connection drops mid-stream (chunked body left incomplete)
``429`` / ``500``  an error status with the provider's error body
``malformed``      a 200 whose JSON body is broken
``slow``           50 ms before the first chunk
``late``           the last event (or a JSON body, after its headers) held back by 500 ms
``vllm`` / ``llamacpp`` / ``ollama``  the extra fields those servers put in a chat completion
``tools<N>``       chat: unless the request's last message is a tool result, ask for N tool
                   calls (ids ``call_<request number>_<k>``) to the request's tools in turn

Every request is recorded (path, headers, JSON body) in :attr:`FakeProvider.requests`.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# What the server answers; tests compare spans with these wire values.
REPLY_WORDS = ["Hello", " from", " the", " test", " server."]
REPLY_TEXT = "".join(REPLY_WORDS)
OPENAI_USAGE = {
    "prompt_tokens": 21,
    "completion_tokens": 5,
    "total_tokens": 26,
    "prompt_tokens_details": {"cached_tokens": 8},
    "completion_tokens_details": {"reasoning_tokens": 2},
}
RESPONSES_USAGE = {
    "input_tokens": 17,
    "input_tokens_details": {"cached_tokens": 3},
    "output_tokens": 6,
    "output_tokens_details": {"reasoning_tokens": 1},
    "total_tokens": 23,
}
EMBEDDING_USAGE = {"prompt_tokens": 7, "total_tokens": 7}
ANTHROPIC_USAGE = {
    "input_tokens": 13,
    "output_tokens": 9,
    "cache_read_input_tokens": 4,
    "cache_creation_input_tokens": 2,
}
SLOW_FIRST_CHUNK_S = 0.05
LATE_LAST_EVENT_S = 0.5
# What the server answers a request for structured output (a ``json_schema`` response format).
STRUCTURED_REPLY = {"greeting": REPLY_TEXT}
# What self-hosted servers add to a chat completion (``+vllm`` etc. on the model name).
SERVER_SIGNATURES: dict[str, dict[str, Any]] = {
    "vllm": {"prompt_logprobs": None, "kv_transfer_params": None},
    "llamacpp": {"timings": {"prompt_n": 3, "predicted_n": 5}},
    "ollama": {"system_fingerprint": "fp_ollama"},
}


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any


def split_fault(model: Any) -> tuple[str, str | None]:
    if not isinstance(model, str) or "+" not in model:
        return str(model), None
    base, _, fault = model.partition("+")
    return base, fault


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- plumbing --------------------------------------------------------------------------------
    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        self.server.provider.requests.append(
            Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        body = body if isinstance(body, dict) else {}
        model, fault = split_fault(body.get("model"))
        route = {
            "/v1/chat/completions": self._chat,
            "/v1/responses": self._responses,
            "/v1/embeddings": self._embeddings,
            "/v1/completions": self._completions,
            "/v1/messages": self._messages,
        }.get(self.path.split("?")[0])
        if route is None:
            self._json(404, {"error": {"message": "no such route", "type": "not_found"}})
            return
        anthropic = self.path.startswith("/v1/messages")
        if fault in ("429", "500"):
            self._error(int(fault), anthropic, body)
            return
        if fault == "malformed":
            self._send(200, b'{"id": "x", "choices": [', "application/json")
            return
        route(body, model, fault)

    def _error(self, status: int, anthropic: bool, body: dict[str, Any]) -> None:
        kind = "rate_limit_error" if status == 429 else "api_error"
        # Like real providers, the message echoes the request and the key it came with, so the
        # tests can check that agentspans never records an error's message.
        key = self.headers.get("authorization") or self.headers.get("x-api-key") or ""
        message = f"fault injected: {status} for {json.dumps(body)[:200]} with key {key}"
        if anthropic:
            self._json(status, {"type": "error", "error": {"type": kind, "message": message}})
        else:
            self._json(status, {"error": {"message": message, "type": kind, "code": None}})

    def _send(self, status: int, data: bytes, content_type: str, late: bool = False) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.send_header("x-request-id", "req_test_1")
        self.end_headers()
        if late:
            self.wfile.flush()
            time.sleep(LATE_LAST_EVENT_S)
        self.wfile.write(data)

    def _json(self, status: int, document: Any, late: bool = False) -> None:
        self._send(status, json.dumps(document).encode(), "application/json", late)

    def _stream(self, events: Iterator[tuple[str | None, Any]], fault: str | None) -> None:
        """Send ``(event name, data)`` pairs as SSE in a chunked body."""
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("x-request-id", "req_test_1")
        self.end_headers()
        if fault == "slow":
            time.sleep(SLOW_FIRST_CHUNK_S)
        frames = list(events)
        for index, (event, data) in enumerate(frames):
            if fault == "late" and index == len(frames) - 1:
                time.sleep(LATE_LAST_EVENT_S)
            if fault == "truncated" and index == 3:
                self.wfile.write(b"5\r\ndata:")  # a chunk promised and never finished
                self.wfile.flush()
                self.close_connection = True
                # FIN, not RST: the client must see a body cut short, never a reset
                self.connection.shutdown(socket.SHUT_WR)
                return
            text = data if isinstance(data, str) else json.dumps(data)
            frame = (f"event: {event}\n" if event else "") + f"data: {text}\n\n"
            payload = frame.encode()
            self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # -- OpenAI chat completions -----------------------------------------------------------------
    def _chat(self, body: dict[str, Any], model: str, fault: str | None) -> None:
        nulls = fault == "nulls"
        usage: Any = None if nulls else OPENAI_USAGE
        if not body.get("stream"):
            document: dict[str, Any] = {
                "id": None if nulls else "chatcmpl-test-1",
                "object": "chat.completion",
                "created": 1700000000,
                "model": None if nulls else model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": _reply(body)},
                        "finish_reason": None if nulls else "stop",
                        "logprobs": None,
                    }
                ],
            }
            if fault != "missing_usage":
                document["usage"] = usage
            document.update(SERVER_SIGNATURES.get(fault or "", {}))
            calls = self._tool_calls(body, fault)
            if calls:
                document["choices"][0]["message"] = {"role": "assistant", "tool_calls": calls}
                document["choices"][0]["finish_reason"] = "tool_calls"
            if fault == "unknown_fields":
                document["surprise"] = {"nested": [1, 2]}
                document["choices"][0]["mystery"] = True
                document["usage"] = {**OPENAI_USAGE, "new_counter": 3}
            self._json(200, document, late=fault == "late")
            return
        self._stream(self._chat_chunks(body, model, fault), fault)

    # -- OpenAI legacy completions ---------------------------------------------------------------
    def _completions(self, body: dict[str, Any], model: str, fault: str | None) -> None:
        base = {
            "id": "cmpl-test-1",
            "object": "text_completion",
            "created": 1700000000,
            "model": model,
        }
        if not body.get("stream"):
            choice = {"index": 0, "text": REPLY_TEXT, "finish_reason": "length", "logprobs": None}
            document = {**base, "choices": [choice], "usage": OPENAI_USAGE}
            self._json(200, document, late=fault == "late")
            return

        def chunks() -> Iterator[tuple[str | None, Any]]:
            for word in REPLY_WORDS:
                choice = {"index": 0, "text": word, "finish_reason": None, "logprobs": None}
                yield None, {**base, "choices": [choice]}
            final = {"index": 0, "text": "", "finish_reason": "length", "logprobs": None}
            yield None, {**base, "choices": [final]}
            if (body.get("stream_options") or {}).get("include_usage"):
                yield None, {**base, "choices": [], "usage": OPENAI_USAGE}
            yield None, "[DONE]"

        self._stream(chunks(), fault)

    def _chat_chunks(
        self, body: dict[str, Any], model: str, fault: str | None
    ) -> Iterator[tuple[str | None, Any]]:
        nulls = fault == "nulls"
        base = {
            "id": None if nulls else "chatcmpl-test-2",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": None if nulls else model,
        }
        include_usage = (body.get("stream_options") or {}).get("include_usage")
        yield None, {**base, "choices": [{"index": 0, "delta": {"role": "assistant"}}]}
        calls = self._tool_calls(body, fault)
        for k, call in enumerate(calls):
            # As OpenAI streams them: the id and name first, the arguments after.
            first = {"index": k, "id": call["id"], "type": "function"}
            first["function"] = {"name": call["function"]["name"], "arguments": ""}
            yield None, {**base, "choices": [{"index": 0, "delta": {"tool_calls": [first]}}]}
            rest = {"index": k, "function": {"arguments": call["function"]["arguments"]}}
            yield None, {**base, "choices": [{"index": 0, "delta": {"tool_calls": [rest]}}]}
        if calls:
            finish = {"index": 0, "delta": {}, "finish_reason": "tool_calls"}
            yield None, {**base, "choices": [finish]}
            if include_usage:
                yield None, {**base, "choices": [], "usage": OPENAI_USAGE}
            yield None, "[DONE]"
            return
        for word in _words(body):
            chunk = {**base, "choices": [{"index": 0, "delta": {"content": word}}]}
            if fault == "unknown_fields":
                chunk["extra"] = "x"
            yield None, chunk
        if fault == "cut_short":
            return
        yield (
            None,
            {
                **base,
                "choices": [{"index": 0, "delta": {}, "finish_reason": None if nulls else "stop"}],
            },
        )
        if include_usage and fault != "missing_usage":
            yield None, {**base, "choices": [], "usage": None if nulls else OPENAI_USAGE}
        yield None, "[DONE]"

    def _tool_calls(self, body: dict[str, Any], fault: str | None) -> list[dict[str, Any]]:
        """The tool calls a ``tools<N>`` request is answered with (none after a tool result)."""
        if not fault or not fault.startswith("tools") or not fault[5:].isdigit():
            return []
        messages = body.get("messages") or [{}]
        tools = [t.get("function", {}).get("name") for t in body.get("tools") or []]
        if not tools or (isinstance(messages[-1], dict) and messages[-1].get("role") == "tool"):
            return []
        number = len(self.server.provider.requests)
        return [
            {
                "id": f"call_{number}_{k}",
                "type": "function",
                "function": {"name": tools[k % len(tools)], "arguments": json.dumps({"k": k})},
            }
            for k in range(int(fault[5:]))
        ]

    # -- OpenAI responses ------------------------------------------------------------------------
    def _response_document(
        self, model: str, fault: str | None, status: str, text: str = REPLY_TEXT
    ) -> dict[str, Any]:
        nulls = fault == "nulls"
        document: dict[str, Any] = {
            "id": None if nulls else "resp_test_1",
            "object": "response",
            "created_at": 1700000000,
            "status": None if nulls else status,
            "model": None if nulls else model,
            "output": [
                {
                    "type": "message",
                    "id": "msg_test_1",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": text, "annotations": []}],
                }
            ],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
        }
        if fault != "missing_usage" and status == "completed":
            document["usage"] = None if nulls else RESPONSES_USAGE
        return document

    def _responses(self, body: dict[str, Any], model: str, fault: str | None) -> None:
        structured = ((body.get("text") or {}).get("format") or {}).get("type") == "json_schema"
        text = json.dumps(STRUCTURED_REPLY) if structured else REPLY_TEXT
        if not body.get("stream"):
            document = self._response_document(model, fault, "completed", text)
            self._json(200, document, late=fault == "late")
            return

        def events() -> Iterator[tuple[str | None, Any]]:
            seq = 0
            created = self._response_document(model, fault, "in_progress")
            created["output"] = []
            yield (
                "response.created",
                {"type": "response.created", "response": created, "sequence_number": seq},
            )
            item = {
                "type": "message",
                "id": "msg_test_1",
                "status": "in_progress",
                "role": "assistant",
                "content": [],
            }
            seq += 1
            yield (
                "response.output_item.added",
                {
                    "type": "response.output_item.added",
                    "output_index": 0,
                    "item": item,
                    "sequence_number": seq,
                },
            )
            seq += 1
            yield (
                "response.content_part.added",
                {
                    "type": "response.content_part.added",
                    "item_id": "msg_test_1",
                    "output_index": 0,
                    "content_index": 0,
                    "part": {"type": "output_text", "text": "", "annotations": []},
                    "sequence_number": seq,
                },
            )
            for word in [text] if structured else REPLY_WORDS:
                seq += 1
                yield (
                    "response.output_text.delta",
                    {
                        "type": "response.output_text.delta",
                        "item_id": "msg_test_1",
                        "output_index": 0,
                        "content_index": 0,
                        "delta": word,
                        "sequence_number": seq,
                    },
                )
            if fault == "cut_short":
                return
            seq += 1
            yield (
                "response.completed",
                {
                    "type": "response.completed",
                    "response": self._response_document(model, fault, "completed", text),
                    "sequence_number": seq,
                },
            )

        self._stream(events(), fault)

    # -- OpenAI embeddings -----------------------------------------------------------------------
    def _embeddings(self, body: dict[str, Any], model: str, fault: str | None) -> None:
        inputs = body.get("input")
        count = len(inputs) if isinstance(inputs, list) else 1
        document: dict[str, Any] = {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": [0.25, -0.5, 0.125]}
                for i in range(count)
            ],
            "model": None if fault == "nulls" else model,
        }
        if fault != "missing_usage":
            document["usage"] = None if fault == "nulls" else EMBEDDING_USAGE
        self._json(200, document)

    # -- Anthropic messages ----------------------------------------------------------------------
    def _message_document(
        self, model: str, fault: str | None, text: str = REPLY_TEXT
    ) -> dict[str, Any]:
        nulls = fault == "nulls"
        document: dict[str, Any] = {
            "id": None if nulls else "msg_test_1",
            "type": "message",
            "role": "assistant",
            "model": None if nulls else model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": None if nulls else "end_turn",
            "stop_sequence": None,
        }
        if fault != "missing_usage":
            document["usage"] = None if nulls else ANTHROPIC_USAGE
        if fault == "unknown_fields":
            document["surprise"] = [1]
        return document

    def _messages(self, body: dict[str, Any], model: str, fault: str | None) -> None:
        # structured output: ``output_config.format`` (``output_format`` in older betas)
        asked = (body.get("output_config") or {}).get("format") or body.get("output_format")
        text = json.dumps(STRUCTURED_REPLY) if isinstance(asked, dict) else REPLY_TEXT
        if not body.get("stream"):
            document = self._message_document(model, fault, text)
            anthropic_tools = [
                {"function": {"name": t.get("name")}} for t in body.get("tools") or []
            ]
            last = (body.get("messages") or [{}])[-1]
            if isinstance(last, dict) and isinstance(last.get("content"), list):
                last = (
                    {"role": "tool"}
                    if any(
                        isinstance(b, dict) and b.get("type") == "tool_result"
                        for b in last["content"]
                    )
                    else last
                )
            calls = self._tool_calls({"tools": anthropic_tools, "messages": [last]}, fault)
            if calls:
                document["content"] = [
                    {
                        "type": "tool_use",
                        "id": c["id"].replace("call", "toolu"),
                        "name": c["function"]["name"],
                        "input": {},
                    }
                    for c in calls
                ]
                document["stop_reason"] = "tool_use"
            self._json(200, document, late=fault == "late")
            return
        nulls = fault == "nulls"

        def events() -> Iterator[tuple[str | None, Any]]:
            start = self._message_document(model, fault, text)
            start["content"] = []
            start["stop_reason"] = None
            if isinstance(start.get("usage"), dict):
                start["usage"] = {**ANTHROPIC_USAGE, "output_tokens": 1}
            yield "message_start", {"type": "message_start", "message": start}
            yield (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            yield "ping", {"type": "ping"}
            if fault == "unknown_fields":
                yield "mystery_event", {"type": "mystery_event", "x": 1}
            for word in [text] if text != REPLY_TEXT else REPLY_WORDS:
                yield (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": word},
                    },
                )
            if fault == "cut_short":
                return
            yield "content_block_stop", {"type": "content_block_stop", "index": 0}
            delta: dict[str, Any] = {
                "type": "message_delta",
                "delta": {"stop_reason": None if nulls else "end_turn", "stop_sequence": None},
            }
            if fault != "missing_usage":
                delta["usage"] = (
                    None if nulls else {"output_tokens": ANTHROPIC_USAGE["output_tokens"]}
                )
            yield "message_delta", delta
            yield "message_stop", {"type": "message_stop"}

        self._stream(events(), fault)


def _structured(body: dict[str, Any]) -> bool:
    return (body.get("response_format") or {}).get("type") == "json_schema"


def _reply(body: dict[str, Any]) -> str:
    """The reply's text: JSON matching the schema when structured output was asked for."""
    return json.dumps(STRUCTURED_REPLY) if _structured(body) else REPLY_TEXT


def _words(body: dict[str, Any]) -> list[str]:
    return [json.dumps(STRUCTURED_REPLY)] if _structured(body) else REPLY_WORDS


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # many concurrent clients connect at once

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that close a stream halfway break the pipe on purpose

    provider: FakeProvider


class FakeProvider:
    """A server on 127.0.0.1 (a free port) answering OpenAI's and Anthropic's wire formats."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.provider = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (with ``/v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root_url(self) -> str:
        """The Anthropic-style base URL (the client appends ``/v1/messages``)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
