"""A small app run as a subprocess by test_privacy: every LLM call type, then exit.

It instruments the way a user would (``agentspans.instrument()``, options from the environment),
so what it exports is exactly what a deployment would export. Usage:
``python -m tests.llm.privacy_app PROMPT API_KEY``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from tests.llm.servers import FakeProvider

import agentspans


def _swallow(call: Any) -> None:
    try:
        call()
    except Exception as exc:  # the app handles provider errors; we only want them traced
        print("app caught", type(exc).__name__)


def _openai(server: FakeProvider, prompt: str, key: str) -> None:
    import openai

    client = openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0)
    messages = [{"role": "user", "content": prompt}]
    client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    list(client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True))
    if hasattr(client, "responses"):  # openai 1.66+
        client.responses.create(model="gpt-4.1-mini", input=prompt)
    client.embeddings.create(model="text-embedding-3-small", input=prompt)
    _swallow(lambda: client.chat.completions.create(model="gpt-4o-mini+429", messages=messages))
    _swallow(lambda: client.chat.completions.create(model="gpt-4o-mini+500", messages=messages))

    async def run_async() -> None:
        aclient = openai.AsyncOpenAI(base_url=server.base_url, api_key=key, max_retries=0)
        await aclient.chat.completions.create(model="gpt-4o-mini", messages=messages)

    asyncio.run(run_async())


def _anthropic(server: FakeProvider, prompt: str, key: str) -> None:
    import anthropic

    client = anthropic.Anthropic(base_url=server.root_url, api_key=key, max_retries=0)
    messages = [{"role": "user", "content": prompt}]
    client.messages.create(model="claude-test-4", max_tokens=32, messages=messages)
    with client.messages.stream(model="claude-test-4", max_tokens=32, messages=messages) as s:
        s.until_done()
    _swallow(
        lambda: client.messages.create(model="claude-test-4+429", max_tokens=32, messages=messages)
    )


def _litellm(server: FakeProvider, prompt: str, key: str) -> None:
    import litellm

    messages = [{"role": "user", "content": prompt}]
    litellm.completion(
        model="openai/gpt-4o-mini", api_base=server.base_url, api_key=key, messages=messages
    )


@agentspans.agent("privacy-agent")
def main(prompt: str, key: str, libraries: list[str]) -> None:
    server = FakeProvider().start()
    try:
        for name in libraries:
            {"openai": _openai, "anthropic": _anthropic, "litellm": _litellm}[name](
                server, prompt, key
            )
    finally:
        server.stop()


if __name__ == "__main__":
    agentspans.instrument()
    main(sys.argv[1], sys.argv[2], os.environ.get("PRIVACY_LIBRARIES", "openai").split(","))
    agentspans.uninstrument()
