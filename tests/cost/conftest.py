"""Helpers for the cost tests: the bundled table read as plain JSON, and spans made with a plain
OpenTelemetry tracer (as another instrumentation would make them)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib import resources
from typing import Any

from opentelemetry.trace import Tracer

TABLE: dict[str, Any] = json.loads(
    resources.files("agentspans").joinpath("data/prices.json").read_text(encoding="utf-8")
)


def table_price(model: str) -> dict[str, Any]:
    """The bundled table's entry, read from the shipped file (not through agentspans)."""
    return dict(TABLE["models"][model])


def expected_cost(
    entry: Mapping[str, Any],
    input_tokens: int,
    output_tokens: int,
    cache_read: int = 0,
    cache_write: int = 0,
) -> float:
    """USD by the documented rule: uncached input, cache reads, cache writes, output."""
    rates = dict(entry)
    for tier in entry.get("tiers", ()):
        if input_tokens > tier["above"]:
            rates = {**entry, **tier}
    uncached = input_tokens - cache_read - cache_write
    return (
        uncached * rates["input"]
        + cache_read * rates.get("cached_input", rates["input"])
        + cache_write * rates.get("cache_write_input", rates["input"])
        + output_tokens * rates["output"]
    ) / 1e6


@contextmanager
def llm_span(tracer: Tracer, model: str, **attributes: Any) -> Iterator[None]:
    """A chat span as the contrib OpenAI instrumentation would write it."""
    base = {"gen_ai.operation.name": "chat", "gen_ai.request.model": model}
    with tracer.start_as_current_span(f"chat {model}", attributes={**base, **attributes}):
        yield
