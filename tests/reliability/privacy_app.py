"""An app whose provider calls fail through its own agent and tool spans: run by test_privacy_scan.

The fake provider's errors echo the request and the key (as some gateways do). The app lets
them propagate through ``@agentspans.agent`` / ``tool_span`` and wraps them in its own
exceptions in the usual shapes, then catches them at the top. Every log line goes to stderr
(agentspans' and OpenTelemetry's loggers at DEBUG). Usage:
``python -m tests.reliability.privacy_app PROMPT API_KEY LIBRARIES``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from tests.llm.servers import FakeProvider

import agentspans


class AppError(Exception):
    pass


def _calls(server: FakeProvider, prompt: str, key: str, libraries: list[str]) -> list[Any]:
    messages = [{"role": "user", "content": prompt}]
    calls: list[Callable[[str], Any]] = []
    if "openai" in libraries:
        import openai

        client = openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0)
        calls.append(lambda model: client.chat.completions.create(model=model, messages=messages))
    if "anthropic" in libraries:
        import anthropic

        aclient = anthropic.Anthropic(base_url=server.root_url, api_key=key, max_retries=0)
        calls.append(
            lambda model: aclient.messages.create(
                model=model.replace("gpt-4o-mini", "claude-test-4"),
                max_tokens=16,
                messages=messages,
            )
        )
    if "litellm" in libraries:
        import litellm

        calls.append(
            lambda model: litellm.completion(
                model=f"openai/{model}",
                api_base=server.base_url,
                api_key=key,
                messages=messages,
                num_retries=0,
            )
        )
    return calls


@agentspans.agent("privacy-agent")
def step(call: Callable[[str], Any], model: str, how: str) -> Any:
    with agentspans.tool_span("llm-step"):
        try:
            return call(model)
        except Exception as exc:
            if how == "bare":
                raise
            if how == "from":
                raise AppError("the LLM step failed") from exc
            raise AppError(f"the LLM step failed: {exc}")  # noqa: B904 (keeps __context__)


def main(prompt: str, key: str, libraries: list[str]) -> None:
    server = FakeProvider().start()
    try:
        with agentspans.workflow_span("privacy"):
            for call in _calls(server, prompt, key, libraries):
                step(call, "gpt-4o-mini", "bare")  # a success: the prompt went out
                for fault in ("429", "500"):
                    for how in ("bare", "from", "message"):
                        try:
                            step(call, f"gpt-4o-mini+{fault}", how)
                        except Exception as exc:
                            print("app caught", type(exc).__name__, file=sys.stdout)
    finally:
        server.stop()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    for name in ("agentspans", "opentelemetry"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    agentspans.instrument()
    main(sys.argv[1], sys.argv[2], sys.argv[3].split(","))
    agentspans.uninstrument()
