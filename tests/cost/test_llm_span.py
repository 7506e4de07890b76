"""The one reader of LLM spans: every convention's names give the same call, counts are range
checked, and what enrichment prices is exactly what the analysis counts."""

from __future__ import annotations

from typing import Any

import pytest

from agentspans import semconv
from agentspans.analysis import analyze
from agentspans.analysis.model import SpanRecord
from agentspans.llm_span import MAX_COUNT, LlmCall, read_llm_call
from agentspans.pricing import default_table
from agentspans.processors.enrich import Enricher

# One chat call (gpt-4o-mini: 100 in, 20 of them cached, 30 out, 5 reasoning) as each writes it.
WRITERS: dict[str, dict[str, Any]] = {
    "agentspans": {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.usage.input_tokens": 100,
        "gen_ai.usage.output_tokens": 30,
        "gen_ai.usage.cache_read.input_tokens": 20,
        "gen_ai.usage.reasoning.output_tokens": 5,
    },
    "older GenAI names": {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.usage.prompt_tokens": 100,
        "gen_ai.usage.completion_tokens": 30,
        "gen_ai.usage.cache_read_input_tokens": 20,
        "gen_ai.usage.reasoning_tokens": 5,
    },
    "OpenLLMetry": {
        "llm.request.type": "chat",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.usage.prompt_tokens": 100,
        "gen_ai.usage.completion_tokens": 30,
        "llm.usage.total_tokens": 130,
        "gen_ai.usage.cache_read_input_tokens": 20,
        "gen_ai.usage.reasoning_tokens": 5,
    },
    "OpenInference": {
        "openinference.span.kind": "LLM",
        "llm.provider": "openai",
        "llm.model_name": "gpt-4o-mini-2024-07-18",
        "llm.token_count.prompt": 100,
        "llm.token_count.completion": 30,
        "llm.token_count.total": 130,
        "llm.token_count.prompt_details.cache_read": 20,
        "llm.token_count.completion_details.reasoning": 5,
    },
}


@pytest.mark.parametrize("writer", WRITERS)
def test_every_writer_reads_as_the_same_call(writer: str) -> None:
    call = read_llm_call(WRITERS[writer])
    assert call == LlmCall(
        operation="chat",
        model="gpt-4o-mini-2024-07-18",
        provider="openai",
        input_tokens=100,
        output_tokens=30,
        cache_read_tokens=20,
        cache_creation_tokens=None,
        reasoning_tokens=5,
        cost_usd=None,
        error_type=None,
    )


def _record(i: int, attributes: dict[str, Any]) -> SpanRecord:
    return SpanRecord(
        trace_id="ab" * 16,
        span_id=f"{i + 1:016x}",
        parent_id=None if i == 0 else f"{1:016x}",
        name="span",
        start_ns=1_000_000_000 + i,
        end_ns=2_000_000_000,
        attributes=attributes,
    )


@pytest.mark.parametrize("writer", WRITERS)
def test_priced_exactly_when_counted(writer: str) -> None:
    attributes = WRITERS[writer]
    enriched = Enricher(default_table(), None).attributes_for(attributes, 0, 10**9, None)
    expected = default_table().cost("gpt-4o-mini-2024-07-18", 100, 30, 20, 0, "openai")
    assert enriched[semconv.COST_USD] == pytest.approx(expected)
    root = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "a"}
    (analysis,) = analyze([_record(0, root), _record(1, {**attributes, **enriched})])
    assert analysis.totals.llm_calls == 1
    assert analysis.totals.priced_calls == 1
    assert (analysis.totals.input_tokens, analysis.totals.output_tokens) == (100, 30)
    assert analysis.totals.cost_usd == pytest.approx(expected)


def test_not_an_llm_span() -> None:
    for attributes in (
        {},
        {"gen_ai.operation.name": "execute_tool", "gen_ai.usage.input_tokens": 3},
        {"gen_ai.operation.name": {"not": "hashable"}},
        {"openinference.span.kind": "TOOL", "llm.token_count.prompt": 3},
        {"llm.request.type": "rerank"},
        {"gen_ai.usage.input_tokens": 3},  # tokens alone do not make an LLM call
    ):
        assert read_llm_call(attributes) is None
        enriched = Enricher(default_table(), None).attributes_for(attributes, 0, 10**9, None)
        assert semconv.COST_USD not in enriched


@pytest.mark.parametrize(
    "value", [-1, True, "12", 1e400, float("nan"), 2.5, MAX_COUNT + 1, 10**30, [1], None]
)
def test_impossible_counts_are_dropped(value: Any) -> None:
    attributes = {**WRITERS["agentspans"], "gen_ai.usage.input_tokens": value}
    call = read_llm_call(attributes)
    assert call is not None and call.input_tokens is None
    enriched = Enricher(default_table(), None).attributes_for(attributes, 0, 10**9, None)
    cost = enriched.get(semconv.COST_USD)
    assert cost is None or (isinstance(cost, float) and 0 <= cost < 1)


def test_whole_floats_from_json_are_counts() -> None:
    call = read_llm_call({**WRITERS["agentspans"], "gen_ai.usage.input_tokens": 100.0})
    assert call is not None and call.input_tokens == 100


def test_cache_creation_is_priced_at_the_write_rate() -> None:
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-3-5-haiku",
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 10,
        "gen_ai.usage.cache_read.input_tokens": 200,
        "gen_ai.usage.cache_creation.input_tokens": 300,
    }
    price = default_table().lookup("claude-3-5-haiku", "anthropic")
    assert price is not None
    rates = price[1]
    assert rates.cached_input is not None and rates.cache_write_input is not None
    expected = (
        500 * rates.input + 200 * rates.cached_input + 300 * rates.cache_write_input
    ) / 1e6 + 10 * rates.output / 1e6
    enriched = Enricher(default_table(), None).attributes_for(attributes, 0, 10**9, None)
    assert enriched[semconv.COST_USD] == pytest.approx(expected)
