"""Cost on LLM spans: tokens x the bundled table's prices, overrides, files, unknown models."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from tests.cost.conftest import TABLE, expected_cost, llm_span, table_price

import agentspans
from agentspans import semconv
from agentspans.pricing import PriceTable, Usage, default_table
from agentspans.testing import CapturedSpans, capture_spans

OTHER = "opentelemetry.instrumentation.other"


def _by_model(spans: CapturedSpans) -> dict[str, ReadableSpan]:
    return {
        str(s.attributes[semconv.GEN_AI_REQUEST_MODEL]): s
        for s in spans.finished()
        if s.attributes and semconv.GEN_AI_REQUEST_MODEL in s.attributes
    }


def test_three_models_cost_tokens_times_table_prices_and_root_sums_them(
    spans: CapturedSpans,
) -> None:
    tracer = spans.provider.get_tracer(OTHER)
    calls = {
        # model as sent: (table entry, provider, input, output, cache read, cache write)
        "gpt-4o-2024-08-06": ("gpt-4o-2024-08-06", "openai", 12_000, 800, 4_000, 0),
        "claude-sonnet-4-5": ("claude-sonnet-4-5", "anthropic", 9_000, 1_500, 3_000, 2_000),
        "gemini-2.5-pro": ("gemini-2.5-pro", "gcp.vertex_ai", 250_000, 2_000, 0, 0),
    }
    with tracer.start_as_current_span(
        "invoke_agent coordinator",
        attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "coordinator"},
    ):
        for model, (_, provider, i, o, read, write) in calls.items():
            with llm_span(
                tracer,
                model,
                **{
                    "gen_ai.provider.name": provider,
                    "gen_ai.usage.input_tokens": i,
                    "gen_ai.usage.output_tokens": o,
                    "gen_ai.usage.cache_read.input_tokens": read,
                    "gen_ai.usage.cache_creation.input_tokens": write,
                },
            ):
                pass
    by_model = _by_model(spans)
    costs = []
    for model, (entry, _, i, o, read, write) in calls.items():
        attributes = by_model[model].attributes or {}
        price = table_price(entry)
        assert price["input"] > 0 and price["output"] > 0
        assert attributes[semconv.COST_USD] == pytest.approx(
            expected_cost(price, i, o, read, write), rel=1e-9
        )
        assert attributes[semconv.PRICE_SOURCE] == "bundled"
        assert attributes[semconv.PRICE_MODEL] == entry
        assert semconv.COST_UNKNOWN not in attributes
        costs.append(attributes[semconv.COST_USD])
    # 250k input tokens is above gemini-2.5-pro's long-context threshold: the tier applies.
    gemini = table_price("gemini-2.5-pro")
    assert gemini["tiers"] and gemini["tiers"][0]["above"] < 250_000
    assert costs[2] > (250_000 * gemini["input"] + 2_000 * gemini["output"]) / 1e6
    (root,) = spans.roots()
    root_attributes = root.attributes or {}
    assert root_attributes[semconv.TRACE_TOTAL_COST_USD] == pytest.approx(sum(costs), rel=1e-9)
    assert root_attributes[semconv.ROLLUP_COST_USD] == pytest.approx(sum(costs), rel=1e-9)


def test_unknown_model_gets_no_cost_a_flag_and_exactly_one_warning(
    spans: CapturedSpans, caplog: pytest.LogCaptureFixture
) -> None:
    tracer = spans.provider.get_tracer(OTHER)
    caplog.set_level(logging.WARNING, logger="agentspans")
    with tracer.start_as_current_span("workflow"):
        for _ in range(3):
            with llm_span(
                tracer,
                "acme-private-llm-7",
                **{"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5},
            ):
                pass
    unknown = [s for s in spans.finished() if s.name == "chat acme-private-llm-7"]
    assert len(unknown) == 3
    for span in unknown:
        attributes = span.attributes or {}
        assert semconv.COST_USD not in attributes
        assert attributes[semconv.COST_UNKNOWN] is True
        assert attributes[semconv.PRICE_SOURCE] == "unknown"
    warnings = [r for r in caplog.records if "acme-private-llm-7" in r.getMessage()]
    assert len(warnings) == 1
    assert "prices=" in warnings[0].getMessage()


def test_tokens_without_a_model_name_are_unknown_too(spans: CapturedSpans) -> None:
    tracer = spans.provider.get_tracer(OTHER)
    attributes = {"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 10}
    with tracer.start_as_current_span("chat", attributes=attributes):
        pass
    enriched = spans.one("chat").attributes or {}
    assert semconv.COST_USD not in enriched
    assert enriched[semconv.COST_UNKNOWN] is True


def test_self_hosted_provider_gets_no_cost_and_says_why(
    spans: CapturedSpans, caplog: pytest.LogCaptureFixture
) -> None:
    tracer = spans.provider.get_tracer(OTHER)
    with llm_span(
        tracer,
        "gpt-4o",  # even a priced name: a local vLLM server bills nobody
        **{
            "gen_ai.provider.name": "vllm",
            "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.output_tokens": 10,
        },
    ):
        pass
    attributes = spans.one("chat gpt-4o").attributes or {}
    assert semconv.COST_USD not in attributes
    assert attributes[semconv.PRICE_SOURCE] == "self_hosted"
    assert semconv.COST_UNKNOWN not in attributes
    assert not [r for r in caplog.records if "no price" in r.getMessage()]


def test_openllmetry_style_span_is_priced() -> None:
    """Older convention names: llm.request.type, gen_ai.system, prompt/completion tokens."""
    with capture_spans() as spans:
        tracer = spans.provider.get_tracer("opentelemetry.instrumentation.openai")
        attributes = {
            "llm.request.type": "chat",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.prompt_tokens": 2_000,
            "gen_ai.usage.completion_tokens": 300,
        }
        with tracer.start_as_current_span("openai.chat", attributes=attributes):
            pass
        span_attributes = spans.one("openai.chat").attributes or {}
    assert span_attributes[semconv.COST_USD] == pytest.approx(
        expected_cost(table_price("gpt-4o-mini"), 2_000, 300), rel=1e-9
    )


def test_context_window_share_is_input_over_the_tables_window(spans: CapturedSpans) -> None:
    tracer = spans.provider.get_tracer(OTHER)
    with llm_span(
        tracer, "gpt-4o", **{"gen_ai.usage.input_tokens": 96_000, "gen_ai.usage.output_tokens": 1}
    ):
        pass
    with llm_span(tracer, "acme-unknown", **{"gen_ai.usage.input_tokens": 10}):
        pass
    known = spans.one("chat gpt-4o").attributes or {}
    window = table_price("gpt-4o")["context_window"]
    assert known[semconv.REQUEST_CONTEXT_WINDOW] == window
    assert known[semconv.CONTEXT_WINDOW_SHARE] == pytest.approx(96_000 / window, abs=1e-4)
    unknown = spans.one("chat acme-unknown").attributes or {}
    assert semconv.REQUEST_CONTEXT_WINDOW not in unknown
    assert semconv.CONTEXT_WINDOW_SHARE not in unknown


def test_overrides_add_models_and_win_over_the_table() -> None:
    prices = {
        "acme-ft-1": {"input": 3.0, "output": 12.0, "context_window": 32_000},
        "gpt-4o": {"input": 1.0, "output": 2.0},
    }
    with capture_spans(prices=prices) as spans:
        tracer = spans.provider.get_tracer(OTHER)
        for model in ("acme-ft-1", "gpt-4o"):
            with llm_span(
                tracer,
                model,
                **{"gen_ai.usage.input_tokens": 1_000, "gen_ai.usage.output_tokens": 100},
            ):
                pass
        by_model = _by_model(spans)
    for model, entry in prices.items():
        attributes = by_model[model].attributes or {}
        assert attributes[semconv.COST_USD] == pytest.approx(expected_cost(entry, 1_000, 100))
        assert attributes[semconv.PRICE_SOURCE] == "override"
    assert (by_model["acme-ft-1"].attributes or {})[semconv.CONTEXT_WINDOW_SHARE] == pytest.approx(
        1_000 / 32_000, abs=1e-4
    )


def test_prices_file_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = {"input": 0.5, "output": 1.5, "cached_input": 0.05}
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"models": {"acme-ft-2": entry}}))
    monkeypatch.setenv("AGENTSPANS_PRICES_FILE", str(path))
    with capture_spans() as spans:
        tracer = spans.provider.get_tracer(OTHER)
        with llm_span(
            tracer,
            "acme-ft-2",
            **{
                "gen_ai.usage.input_tokens": 4_000,
                "gen_ai.usage.output_tokens": 100,
                "gen_ai.usage.cache_read.input_tokens": 1_000,
            },
        ):
            pass
        attributes = spans.one("chat acme-ft-2").attributes or {}
    assert attributes[semconv.COST_USD] == pytest.approx(expected_cost(entry, 4_000, 100, 1_000))
    assert attributes[semconv.PRICE_SOURCE] == "prices_file"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "cannot read prices"),
        ('{"prices": {}}', "expected an object with a 'models' mapping"),
        ('{"models": {"m": {"input": 1}}}', "needs both 'input' and 'output'"),
        ('{"models": {"m": {"input": -1, "output": 1}}}', "'m'.input must be a number >= 0"),
        (
            '{"models": {"m": {"input": 1, "output": 1, "colour": 1}}}',
            "unknown field(s) ['colour']",
        ),
        (
            '{"models": {"m": {"input": 1, "output": 1, "context_window": 0}}}',
            "context_window must be a positive integer",
        ),
        (
            '{"models": {"m": {"input": 1, "output": 1, "tiers": [{"input": 2, "output": 2}]}}}',
            "tiers[0].above must be a positive integer",
        ),
    ],
)
def test_bad_prices_file_is_a_config_error_naming_file_and_problem(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "bad-prices.json"
    path.write_text(content)
    with pytest.raises(agentspans.ConfigError) as raised:
        agentspans.instrument(prices_file=path, exporter="none", resources=False)
    message = str(raised.value)
    assert str(path) in message
    assert problem in message
    assert "\n" not in message
    assert agentspans.instrumentation() is None


def test_missing_prices_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    with pytest.raises(agentspans.ConfigError, match=r"absent\.json: cannot read prices"):
        agentspans.instrument(prices_file=path, exporter="none", resources=False)


def test_bad_override_is_a_config_error() -> None:
    with pytest.raises(agentspans.ConfigError, match=r"prices=.*'m'.output"):
        agentspans.instrument(prices={"m": {"input": 1, "output": "free"}}, exporter="none")


@pytest.mark.parametrize(
    ("model", "provider", "entry"),
    [
        ("GPT-4o", None, "gpt-4o"),  # case
        ("openrouter/openai/gpt-4o", None, "gpt-4o"),  # router prefixes
        ("claude-sonnet-4-5-20991231", None, "claude-sonnet-4-5"),  # date suffix
        ("gpt-4o-mini-acme-finetune", None, "gpt-4o-mini"),  # longest prefix
        ("gpt-4o", "azure.ai.openai", "azure/gpt-4o"),  # provider-qualified entry first
        ("claude-3-5-haiku", None, "claude-3-5-haiku"),  # from the supplement
    ],
)
def test_lookup_rules(model: str, provider: str | None, entry: str) -> None:
    found = default_table().lookup(model, provider)
    assert found is not None and found[0] == entry
    assert entry in TABLE["models"]


def test_no_prefix_match_inside_a_word() -> None:
    table = PriceTable.from_document({"models": {"o1": {"input": 1, "output": 1}}}, "test")
    assert table.lookup("o1-mini") is not None
    assert table.lookup("o1x") is None
    assert table.cost("o1x", 10, 10) is None


def test_cached_input_falls_back_to_the_input_price() -> None:
    table = PriceTable.from_document({"models": {"m": {"input": 2.0, "output": 4.0}}}, "test")
    quote = table.quote("m", Usage(1_000, 10, cache_read_tokens=400))
    assert quote.usd == pytest.approx((600 * 2.0 + 400 * 2.0 + 10 * 4.0) / 1e6)


def test_bundled_table_is_large_dated_and_attributed() -> None:
    models = TABLE["models"]
    assert len(models) > 2_000
    assert sum("context_window" in entry for entry in models.values()) > 2_000
    assert TABLE["as_of"] and "LiteLLM" in TABLE["source"] and "MIT" in TABLE["license"]
    assert len(default_table()) == len(models)


SELLERS = {
    "models": {
        "mistral/acme-large": {"input": 2.0, "output": 6.0, "provider": "mistral"},
        "azure_ai/acme-large": {"input": 2.0, "output": 6.0, "provider": "azure_ai"},
        "groq/acme/open-120b": {"input": 0.15, "output": 0.6, "provider": "groq"},
        "together_ai/acme/open-120b": {"input": 0.9, "output": 0.9, "provider": "together_ai"},
    }
}


def test_bare_name_listed_only_by_sellers() -> None:
    table = PriceTable.from_document(SELLERS, "test")
    # Every seller charges the same: that price, whoever sells it.
    found = table.lookup("acme-large")
    assert found is not None and found[1].input == 2.0
    # Sellers disagree: the span's provider picks its own listing...
    groq = table.lookup("open-120b", "groq")
    assert groq is not None and groq[0] == "groq/acme/open-120b"
    # ...and without one (or with another seller) there is no price rather than a guess.
    assert table.lookup("open-120b") is None
    assert table.lookup("open-120b", "fireworks_ai") is None
