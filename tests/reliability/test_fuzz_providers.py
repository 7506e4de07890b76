"""Property-based fuzzing of the provider responses agentspans reads, through the real openai
and anthropic clients over HTTP, streams included: whatever the server sends, the app sees
exactly what it sees without agentspans, and no internal error is raised (the suite runs with
AGENTSPANS_STRICT=1, so one would surface as a different outcome) or logged.

Example counts are modest (``max_examples``) so the run stays bounded.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.llm.faults import Outcome

from agentspans.testing import capture_spans

EXAMPLES = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class _Canned(ThreadingHTTPServer):
    """Answers every POST with the body the test set last (JSON, or SSE events)."""

    daemon_threads = True

    def __init__(self) -> None:
        self.body = b"{}"
        self.content_type = "application/json"

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(handler) -> None:
                handler.rfile.read(int(handler.headers.get("content-length") or 0))
                handler.send_response(200)
                handler.send_header("content-type", self.content_type)
                handler.send_header("content-length", str(len(self.body)))
                handler.end_headers()
                handler.wfile.write(self.body)

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer(
        self, document: Any = None, events: list[tuple[str | None, Any]] | None = None
    ) -> None:
        if events is None:
            self.body, self.content_type = json.dumps(document).encode(), "application/json"
            return
        frames = []
        for name, data in events:
            text = data if isinstance(data, str) else json.dumps(data)
            frames.append((f"event: {name}\n" if name else "") + f"data: {text}\n\n")
        # an event name with a lone surrogate cannot go on the wire as such: "?" instead
        self.body, self.content_type = "".join(frames).encode(errors="replace"), "text/event-stream"


@pytest.fixture(scope="module")
def server() -> Iterator[_Canned]:
    canned = _Canned()
    yield canned
    canned.shutdown()


# -- what a provider may send ---------------------------------------------------------------------
# Text includes lone surrogates (JSON can carry "\ud800"), control characters and long strings.
text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "\ud800", "stop", "length", "tool_calls", "end_turn", "x" * 5000]),
)
count = st.one_of(
    st.none(),
    st.integers(min_value=-5, max_value=10**9),
    st.just("12"),
    st.floats(allow_nan=False, max_value=1e9, min_value=-1),
)
maybe = lambda strategy: st.one_of(st.none(), strategy)  # noqa: E731
junk = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), text),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(text, children, max_size=3)
    ),
    max_leaves=6,
)
openai_usage = maybe(
    st.fixed_dictionaries(
        {},
        optional={
            "prompt_tokens": count,
            "completion_tokens": count,
            "total_tokens": count,
            "prompt_tokens_details": maybe(
                st.fixed_dictionaries({}, optional={"cached_tokens": count})
            ),
            "completion_tokens_details": maybe(
                st.fixed_dictionaries({}, optional={"reasoning_tokens": count})
            ),
            "surprise": junk,
        },
    )
)
chat_message = st.fixed_dictionaries(
    {"role": st.just("assistant")},
    optional={"content": maybe(text), "refusal": maybe(text), "extra": junk},
)
chat_completion = st.fixed_dictionaries(
    {
        "id": maybe(text),
        "object": st.just("chat.completion"),
        "created": st.integers(min_value=0, max_value=2**31),
        "model": maybe(text),
        "choices": st.lists(
            st.fixed_dictionaries(
                {"index": st.integers(0, 3), "message": chat_message, "finish_reason": maybe(text)},
                optional={"logprobs": st.none()},
            ),
            max_size=3,
        ),
    },
    optional={"usage": openai_usage, "system_fingerprint": maybe(text), "x_extra": junk},
)
chat_chunk = st.fixed_dictionaries(
    {
        "id": maybe(text),
        "object": st.just("chat.completion.chunk"),
        "created": st.integers(min_value=0, max_value=2**31),
        "model": maybe(text),
        "choices": st.lists(
            st.fixed_dictionaries(
                {
                    "index": st.integers(0, 2),
                    "delta": st.fixed_dictionaries(
                        {}, optional={"role": st.just("assistant"), "content": maybe(text)}
                    ),
                },
                optional={"finish_reason": maybe(text)},
            ),
            max_size=2,
        ),
    },
    optional={"usage": openai_usage},
)
anthropic_usage = maybe(
    st.fixed_dictionaries(
        {},
        optional={
            "input_tokens": count,
            "output_tokens": count,
            "cache_read_input_tokens": count,
            "cache_creation_input_tokens": count,
        },
    )
)
anthropic_block = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": text}),
    st.fixed_dictionaries({"type": text, "x": junk}),
)
anthropic_message = st.fixed_dictionaries(
    {
        "id": maybe(text),
        "type": st.just("message"),
        "role": st.just("assistant"),
        "model": maybe(text),
        "content": st.lists(anthropic_block, max_size=3),
        "stop_reason": maybe(text),
        "stop_sequence": maybe(text),
    },
    optional={"usage": anthropic_usage, "surprise": junk},
)
anthropic_event = st.one_of(
    st.fixed_dictionaries({"type": st.just("message_start"), "message": anthropic_message}),
    st.fixed_dictionaries(
        {
            "type": st.just("content_block_start"),
            "index": st.integers(0, 2),
            "content_block": anthropic_block,
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("content_block_delta"),
            "index": st.integers(0, 2),
            "delta": st.fixed_dictionaries({"type": st.just("text_delta"), "text": text}),
        }
    ),
    st.fixed_dictionaries({"type": st.just("content_block_stop"), "index": st.integers(0, 2)}),
    st.fixed_dictionaries(
        {
            "type": st.just("message_delta"),
            "delta": st.fixed_dictionaries({}, optional={"stop_reason": maybe(text)}),
            "usage": anthropic_usage,
        }
    ),
    st.fixed_dictionaries({"type": st.just("message_stop")}),
    st.fixed_dictionaries({"type": text, "x": junk}),
)


# -- the property ---------------------------------------------------------------------------------
def _same_with_and_without(call: Callable[[], Any], caplog: pytest.LogCaptureFixture) -> None:
    bare = Outcome.of(call)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="agentspans"), capture_spans() as spans:
        traced = Outcome.of(call)
        finished = spans.finished()
    assert traced.value == bare.value
    assert traced.error_type == bare.error_type
    assert traced.error_text == bare.error_text
    assert not [r for r in caplog.records if "internal error" in r.getMessage()]
    assert finished  # the call was traced


def _openai(server: _Canned) -> Any:
    openai = pytest.importorskip("openai")
    return openai.OpenAI(base_url=server.root + "/v1", api_key="sk-fuzz", max_retries=0)


def _anthropic(server: _Canned) -> Any:
    anthropic = pytest.importorskip("anthropic")
    return anthropic.Anthropic(base_url=server.root, api_key="sk-fuzz", max_retries=0)


MESSAGES = [{"role": "user", "content": "hi"}]


@EXAMPLES
@given(document=chat_completion)
def test_openai_chat_completions(
    server: _Canned, caplog: pytest.LogCaptureFixture, document: Any
) -> None:
    client = _openai(server)
    server.answer(document)
    _same_with_and_without(
        lambda: client.chat.completions.create(model="m", messages=MESSAGES), caplog
    )


@EXAMPLES
@given(chunks=st.lists(chat_chunk, max_size=6), done=st.booleans())
def test_openai_chat_streams(
    server: _Canned, caplog: pytest.LogCaptureFixture, chunks: Any, done: bool
) -> None:
    client = _openai(server)
    server.answer(events=[(None, chunk) for chunk in chunks] + ([(None, "[DONE]")] if done else []))

    def call() -> Any:
        return list(client.chat.completions.create(model="m", messages=MESSAGES, stream=True))

    _same_with_and_without(call, caplog)


@EXAMPLES
@given(document=anthropic_message)
def test_anthropic_messages(
    server: _Canned, caplog: pytest.LogCaptureFixture, document: Any
) -> None:
    client = _anthropic(server)
    server.answer(document)
    _same_with_and_without(
        lambda: client.messages.create(model="m", max_tokens=8, messages=MESSAGES), caplog
    )


@EXAMPLES
@given(events=st.lists(anthropic_event, max_size=6))
def test_anthropic_streams(server: _Canned, caplog: pytest.LogCaptureFixture, events: Any) -> None:
    client = _anthropic(server)
    server.answer(
        events=[
            (event.get("type") if isinstance(event.get("type"), str) else None, event)
            for event in events
        ]
    )

    def call() -> Any:
        return list(client.messages.create(model="m", max_tokens=8, messages=MESSAGES, stream=True))

    _same_with_and_without(call, caplog)
