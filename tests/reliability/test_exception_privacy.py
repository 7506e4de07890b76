"""Exceptions recorded on agent and tool spans never carry what providers echo back.

The fake provider's error bodies echo the request (the prompt) and the key it came with, as some
gateways and local servers do; the real openai and anthropic clients put that text in their
exception messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.llm.servers import FakeProvider

import agentspans
from agentspans import semconv
from agentspans._redact import scrub
from agentspans.testing import CapturedSpans, capture_spans

PROMPT = "the secret prompt about purple elephants 7f3e"
API_KEY = "sk-test-SECRET-key-0c41d"


class AppError(Exception):
    """The app's own exception around a provider's."""


@pytest.fixture(scope="module")
def server() -> Iterator[FakeProvider]:
    provider = FakeProvider().start()
    yield provider
    provider.stop()


def _openai_call(server: FakeProvider) -> Any:
    import openai

    client = openai.OpenAI(base_url=server.base_url, api_key=API_KEY, max_retries=0)
    return client.chat.completions.create(
        model="gpt-4o-mini+500", messages=[{"role": "user", "content": PROMPT}]
    )


def _anthropic_call(server: FakeProvider) -> Any:
    import anthropic

    client = anthropic.Anthropic(base_url=server.root_url, api_key=API_KEY, max_retries=0)
    return client.messages.create(
        model="claude-test-4+429", max_tokens=8, messages=[{"role": "user", "content": PROMPT}]
    )


def _litellm_call(server: FakeProvider) -> Any:
    litellm = pytest.importorskip("litellm")
    return litellm.completion(
        model="openai/gpt-4o-mini+500",
        api_base=server.base_url,
        api_key=API_KEY,
        messages=[{"role": "user", "content": PROMPT}],
        num_retries=0,
    )


CALLS = {"openai": _openai_call, "anthropic": _anthropic_call, "litellm": _litellm_call}


def _wrapping(how: str, call: Any, server: FakeProvider) -> None:
    """The app's code around the provider call, in the shapes apps write it."""
    try:
        call(server)
    except Exception as exc:
        if how == "bare":
            raise
        if how == "from":
            raise AppError("the LLM step failed") from exc
        if how == "message":
            raise AppError(f"the LLM step failed: {exc}") from None
        raise AppError(f"the LLM step failed: {exc}")  # noqa: B904 (the implicit __context__)


def _exported_text(spans: CapturedSpans) -> str:
    parts: list[str] = []
    for span in spans.finished():
        parts.append(span.name)
        parts.append(repr(dict(span.attributes or {})))
        parts.append(repr(span.status.description))
        for event in span.events:
            parts.append(repr(dict(event.attributes or {})))
    return "\n".join(parts)


@pytest.mark.parametrize("library", sorted(CALLS))
@pytest.mark.parametrize("how", ["bare", "from", "message", "context"])
def test_capture_off_records_type_and_frames_only(
    server: FakeProvider, library: str, how: str
) -> None:
    if library != "litellm":
        pytest.importorskip(library)
    with capture_spans() as spans:

        @agentspans.agent("planner")
        def plan() -> None:
            with agentspans.tool_span("lookup"):
                _wrapping(how, CALLS[library], server)

        with pytest.raises(Exception) as raised:
            plan()
        # the app still sees the provider's full message: we only keep it off the spans
        assert "fault injected" in str(raised.value) or "fault injected" in str(
            raised.value.__cause__ or raised.value.__context__
        )
        agent = spans.one("invoke_agent planner")
        text = _exported_text(spans)
    for secret in (PROMPT, "purple elephants", API_KEY, "SECRET-key", "fault injected"):
        assert secret not in text
    (event,) = [e for e in agent.events if e.name == "exception"]
    attributes = dict(event.attributes or {})
    assert attributes["exception.type"].endswith(type(raised.value).__name__)
    assert "exception.message" not in attributes
    assert "in plan" in str(attributes["exception.stacktrace"])  # the frames are kept
    assert agent.attributes is not None
    assert agent.attributes[semconv.ERROR_TYPE] == attributes["exception.type"]


def test_capture_on_keeps_the_message_but_never_the_key(server: FakeProvider) -> None:
    pytest.importorskip("openai")
    with capture_spans(capture_content=True) as spans:
        with pytest.raises(AppError), agentspans.agent_span("planner"):
            _wrapping("message", _openai_call, server)
        text = _exported_text(spans)
    assert "fault injected" in text
    assert API_KEY not in text and "SECRET-key" not in text


def test_app_exceptions_keep_their_message_with_secrets_removed(spans: CapturedSpans) -> None:
    with pytest.raises(ValueError), agentspans.agent_span("planner"):
        raise ValueError(f"bad plan step 3 (api_key={API_KEY}, Authorization: Bearer abc.def)")
    (event,) = spans.one("invoke_agent planner").events
    message = str((event.attributes or {})["exception.message"])
    assert message.startswith("bad plan step 3")
    assert API_KEY not in message and "abc.def" not in message


def test_scrub_removes_keys_tokens_and_env_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYGATEWAY_API_KEY", "plainsecretvalue42")
    text = scrub(
        'key sk-ant-api03-abcdefgh, {"authorization": "Basic dXNlcjpwYXNz"}, '
        "x-api-key: k123456789, token plainsecretvalue42, Bearer eyJhbGciOi"
    )
    for secret in ("sk-ant", "dXNlcjpwYXNz", "k123456789", "plainsecretvalue42", "eyJhbGciOi"):
        assert secret not in text
