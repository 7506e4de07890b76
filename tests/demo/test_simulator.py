"""The demo's LLM simulator speaks the OpenAI wire format to the real openai client."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import openai
import pytest
from openai import OpenAI

from agentspans.demo.simulator import LLMSimulator

MESSAGES = [{"role": "user", "content": "Say something about revenue."}]


@pytest.fixture
def sim() -> Iterator[LLMSimulator]:
    with LLMSimulator(seed=3, speed=50) as running:
        yield running


def _client(sim: LLMSimulator) -> OpenAI:
    return OpenAI(base_url=sim.base_url, api_key="unused", max_retries=0)


def test_chat_completion_has_usage_and_a_dated_model(sim: LLMSimulator) -> None:
    with _client(sim) as client:
        reply = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert reply.model == "gpt-4o-2024-08-06"
    assert reply.choices[0].finish_reason == "stop"
    text = reply.choices[0].message.content or ""
    assert reply.usage is not None
    assert reply.usage.completion_tokens == len(text.split()) > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_max_tokens_truncates_with_finish_reason_length(sim: LLMSimulator) -> None:
    with _client(sim) as client:
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=5)
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None and reply.usage.completion_tokens == 5


def test_stream_sends_content_then_usage_when_asked(sim: LLMSimulator) -> None:
    with _client(sim) as client:
        chunks = list(
            client.chat.completions.create(
                model="gpt-4o-mini",
                messages=MESSAGES,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        plain = list(
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
        )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and all(f is None for f in finishes[:-1])
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.completion_tokens == len(text.split())
    assert all(c.usage is None for c in plain)


def test_identical_requests_get_fixed_draws_across_runs() -> None:
    def answers(seed: int) -> list[str]:
        with LLMSimulator(seed=seed, speed=50) as running, _client(running) as client:
            return [
                client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
                .choices[0]
                .message.content
                or ""
                for _ in range(2)
            ]

    first, again, other = answers(1), answers(1), answers(2)
    assert first == again
    assert first[0] != first[1]  # the repeat is a fresh draw, but the same one every run
    assert first != other


def test_embeddings(sim: LLMSimulator) -> None:
    with _client(sim) as client:
        result = client.embeddings.create(model="text-embedding-3-small", input=["a", "bb"])
    assert [item.index for item in result.data] == [0, 1]
    assert all(len(item.embedding) == 16 for item in result.data)
    assert result.usage.prompt_tokens == 2


def test_unknown_path_is_an_openai_style_404(sim: LLMSimulator) -> None:
    with _client(sim) as client, pytest.raises(openai.NotFoundError) as raised:
        client.models.retrieve("gpt-4o")
    assert raised.value.status_code == 404


def test_bad_json_is_a_400(sim: LLMSimulator) -> None:
    request = urllib.request.Request(
        sim.base_url + "/chat/completions", data=b"{not json", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=5)
    assert raised.value.code == 400
    assert "not JSON" in json.loads(raised.value.read())["error"]["message"]


def test_stop_frees_the_port() -> None:
    running = LLMSimulator().start()
    url = running.base_url
    running.stop()
    with pytest.raises(RuntimeError):
        _ = running.base_url
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/chat/completions", data=b"{}", timeout=2)
