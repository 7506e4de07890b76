"""Cost and metrics of calls made through agentspans' own wrappers: real openai and anthropic
clients over HTTP to a 127.0.0.1 server speaking their wire formats (tests/llm/servers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from tests.cost.conftest import table_price
from tests.llm.servers import ANTHROPIC_USAGE, EMBEDDING_USAGE, OPENAI_USAGE, FakeProvider

import agentspans
from agentspans import semconv
from agentspans.testing import capture_spans

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")
KEY = "sk-test-cost-0000"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeProvider]:
    provider = FakeProvider().start()
    yield provider
    provider.stop()


def _per_million(tokens: int, price: float) -> float:
    return tokens * price / 1e6


def test_three_models_through_the_wrappers(server: FakeProvider) -> None:
    reader = InMemoryMetricReader()
    with capture_spans(
        libraries=["openai", "anthropic"], meter_provider=MeterProvider(metric_readers=[reader])
    ) as spans:
        oa = openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0)
        an = anthropic.Anthropic(base_url=server.root_url, api_key=KEY, max_retries=0)
        with agentspans.agent_span("researcher"):
            oa.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
            )
            oa.embeddings.create(model="text-embedding-3-small", input="hi")
            an.messages.create(
                model="claude-haiku-4-5",
                max_tokens=50,
                messages=[{"role": "user", "content": "hi"}],
            )
        oa.close()
        an.close()
        finished = spans.finished()
    llm = {
        s.attributes[semconv.GEN_AI_REQUEST_MODEL]: s.attributes
        for s in finished
        if s.attributes
        and s.attributes.get(semconv.GEN_AI_OPERATION_NAME) in semconv.LLM_OPERATIONS
    }
    assert set(llm) == {"gpt-4o-mini", "text-embedding-3-small", "claude-haiku-4-5"}

    # OpenAI: prompt_tokens includes the cached ones, billed at the cached price.
    gpt = table_price("gpt-4o-mini")
    cached = OPENAI_USAGE["prompt_tokens_details"]["cached_tokens"]
    expected_gpt = (
        _per_million(OPENAI_USAGE["prompt_tokens"] - cached, gpt["input"])
        + _per_million(cached, gpt["cached_input"])
        + _per_million(OPENAI_USAGE["completion_tokens"], gpt["output"])
    )
    assert llm["gpt-4o-mini"][semconv.COST_USD] == pytest.approx(expected_gpt, rel=1e-9)

    embed = table_price("text-embedding-3-small")
    expected_embed = _per_million(EMBEDDING_USAGE["prompt_tokens"], embed["input"])
    assert llm["text-embedding-3-small"][semconv.COST_USD] == pytest.approx(expected_embed)

    # Anthropic reports input without the cache; the span's input_tokens adds both cache counts
    # (the GenAI rule), and each part is billed at its own price.
    claude = table_price("claude-haiku-4-5")
    attributes = llm["claude-haiku-4-5"]
    assert attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == (
        ANTHROPIC_USAGE["input_tokens"]
        + ANTHROPIC_USAGE["cache_read_input_tokens"]
        + ANTHROPIC_USAGE["cache_creation_input_tokens"]
    )
    expected_claude = (
        _per_million(ANTHROPIC_USAGE["input_tokens"], claude["input"])
        + _per_million(ANTHROPIC_USAGE["cache_read_input_tokens"], claude["cached_input"])
        + _per_million(ANTHROPIC_USAGE["cache_creation_input_tokens"], claude["cache_write_input"])
        + _per_million(ANTHROPIC_USAGE["output_tokens"], claude["output"])
    )
    assert attributes[semconv.COST_USD] == pytest.approx(expected_claude, rel=1e-9)

    (root,) = [s for s in finished if s.parent is None]
    total = expected_gpt + expected_embed + expected_claude
    assert (root.attributes or {})[semconv.TRACE_TOTAL_COST_USD] == pytest.approx(total)

    data = reader.get_metrics_data()
    assert data is not None
    cost: dict[Any, float] = {}
    tokens: dict[Any, int] = {}
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for point in metric.data.data_points:
                    a = dict(point.attributes or {})
                    if metric.name == semconv.METRIC_COST:
                        assert a["gen_ai.agent.name"] == "researcher"
                        cost[a["gen_ai.request.model"]] = point.value
                    elif metric.name == semconv.METRIC_TOKEN_USAGE:
                        tokens[(a["gen_ai.request.model"], a["gen_ai.token.type"])] = point.sum
    assert sum(cost.values()) == pytest.approx(total)
    assert tokens[("claude-haiku-4-5", "input")] == attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS]
    assert tokens[("gpt-4o-mini", "output")] == OPENAI_USAGE["completion_tokens"]
