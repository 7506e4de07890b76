"""Fixtures for the LLM client tests: one fake provider server per session, real clients."""

from __future__ import annotations

import os

# litellm fetches a price list from GitHub at import unless told not to; no network in tests.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from tests.llm.servers import FakeProvider

from agentspans import semconv
from agentspans.testing import CapturedSpans, capture_spans

API_KEY = "sk-test-SECRET-4f9a1c"  # must never appear in anything exported


@pytest.fixture
def spans() -> Iterator[CapturedSpans]:
    """The suite's fixture without OTel metrics: their OTLP exporter would retry at teardown."""
    with capture_spans(metrics=False) as captured:
        yield captured


@pytest.fixture(scope="session")
def provider() -> Iterator[FakeProvider]:
    server = FakeProvider().start()
    yield server
    server.stop()


@pytest.fixture
def openai_client(provider: FakeProvider) -> Any:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=provider.base_url, api_key=API_KEY, max_retries=0)
    yield client
    client.close()


@pytest.fixture
def async_openai_client(provider: FakeProvider) -> Any:
    openai = pytest.importorskip("openai")
    return openai.AsyncOpenAI(base_url=provider.base_url, api_key=API_KEY, max_retries=0)


def llm_spans(spans: CapturedSpans) -> list[ReadableSpan]:
    """The finished spans of LLM calls (chat, embeddings, ...), whoever emitted them."""
    return [
        s
        for s in spans.finished()
        if (s.attributes or {}).get(semconv.GEN_AI_OPERATION_NAME) in semconv.LLM_OPERATIONS
    ]


def only_llm_span(spans: CapturedSpans) -> ReadableSpan:
    found = llm_spans(spans)
    assert len(found) == 1, [s.name for s in found]
    return found[0]
