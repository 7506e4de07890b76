"""gen_ai.provider.name from an openai client's base URL, and litellm's provider names."""

from __future__ import annotations

from typing import Any

import pytest
from tests.llm.conftest import only_llm_span

from agentspans import semconv
from agentspans.testing import CapturedSpans
from agentspans.wrappers._providers import provider_for, split_server
from agentspans.wrappers.litellm import provider_of


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://api.openai.com/v1", "openai"),
        ("https://myco.openai.azure.com/openai/deployments/x", "azure.ai.openai"),
        ("https://api.groq.com/openai/v1", "groq"),
        ("https://api.deepseek.com", "deepseek"),
        ("https://api.x.ai/v1", "x_ai"),
        ("https://api.mistral.ai/v1", "mistral_ai"),
        ("https://generativelanguage.googleapis.com/v1beta/openai/", "gcp.gemini"),
        ("http://localhost:11434/v1", "ollama"),
        ("http://127.0.0.1:1234/v1", "lm_studio"),
        ("http://vllm-0.inference.svc:8000/v1", "vllm"),
        ("http://llamacpp:8080/v1", "llama.cpp"),
        ("http://ollama.internal/v1", "ollama"),
        ("http://10.0.0.7:8000/v1", "openai"),  # unknown OpenAI-compatible server
        ("not a url", "openai"),
    ],
)
def test_openai_base_url_names_the_provider(base_url: str, expected: str) -> None:
    assert provider_for(*split_server(base_url)) == expected


def test_split_server_uses_the_scheme_port() -> None:
    assert split_server("https://api.openai.com/v1") == ("api.openai.com", 443)
    assert split_server("http://127.0.0.1:9999/v1") == ("127.0.0.1", 9999)


@pytest.mark.parametrize(
    ("model", "kwargs", "expected"),
    [
        ("anthropic/claude-x", {}, "anthropic"),
        ("bedrock/anthropic.claude", {}, "aws.bedrock"),
        ("vertex_ai/gemini-pro", {}, "gcp.vertex_ai"),
        ("gemini/gemini-2.0", {}, "gcp.gemini"),
        ("ollama_chat/llama3", {}, "ollama"),
        ("hosted_vllm/meta-llama", {"api_base": "http://gpu:8000/v1"}, "vllm"),
        ("gpt-4o-mini", {}, "openai"),
        ("openai/gpt-4o", {"api_base": "http://localhost:11434/v1"}, "ollama"),
        ("claude-3-haiku", {}, "litellm"),
        ("x", {"custom_llm_provider": "mistral"}, "mistral_ai"),
    ],
)
def test_litellm_provider_names(model: str, kwargs: dict[str, str], expected: str) -> None:
    assert provider_of(model, kwargs)[0] == expected


@pytest.mark.parametrize(
    ("server", "expected"), [("vllm", "vllm"), ("llamacpp", "llama.cpp"), ("ollama", "ollama")]
)
def test_a_compatible_server_on_a_plain_url_is_named_from_its_response(
    spans: CapturedSpans, openai_client: Any, server: str, expected: str
) -> None:
    openai_client.chat.completions.create(
        model=f"some-model+{server}", messages=[{"role": "user", "content": "hi"}]
    )
    assert only_llm_span(spans).attributes[semconv.GEN_AI_PROVIDER_NAME] == expected


def test_a_plain_compatible_server_stays_openai(spans: CapturedSpans, openai_client: Any) -> None:
    openai_client.chat.completions.create(
        model="some-model", messages=[{"role": "user", "content": "hi"}]
    )
    assert only_llm_span(spans).attributes[semconv.GEN_AI_PROVIDER_NAME] == "openai"
