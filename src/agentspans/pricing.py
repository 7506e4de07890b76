"""USD cost of an LLM call from its token counts.

The bundled table (``data/prices.json``) lists providers' standard-tier prices per million tokens;
``instrument(prices=...)`` or ``AGENTSPANS_PRICES_FILE`` extend or override it. A model the table
does not know gets no cost at all — never a guessed one.

Token semantics follow the GenAI conventions: ``gen_ai.usage.input_tokens`` includes cached
tokens, so the uncached part is ``input - cache_read - cache_creation``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

_PRICE_FIELDS = ("input", "output", "cached_input", "cache_write_input")
_DATE_SUFFIX = re.compile(r"(-\d{4}-\d{2}-\d{2}|-\d{8}|@\d{8}|-latest)$")
_PER_TOKEN = 1e-6  # the table is per million tokens

# Self-hosted servers bill nobody per token: their calls get no cost rather than a made-up one.
LOCAL_PROVIDERS = frozenset({"vllm", "ollama", "llama.cpp", "lm_studio", "localai", "tgi"})


@dataclass(frozen=True, slots=True)
class Price:
    input: float
    output: float
    cached_input: float | None = None
    cache_write_input: float | None = None
    context_window: int | None = None
    provider: str | None = None


def _check_entry(model: str, entry: Any) -> Price:
    if not isinstance(entry, Mapping):
        raise ValueError(f"price of {model!r} must be a mapping with 'input' and 'output'")
    unknown = set(entry) - {*_PRICE_FIELDS, "context_window", "provider"}
    if unknown:
        raise ValueError(
            f"price of {model!r} has unknown field(s) {sorted(unknown)}; "
            f"accepted: {', '.join(_PRICE_FIELDS)}, context_window, provider"
        )
    values: dict[str, float] = {}
    for field in _PRICE_FIELDS:
        if field not in entry:
            continue
        value = entry[field]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"price {model!r}.{field} must be a number >= 0 (USD per 1M tokens)")
        values[field] = float(value)
    if "input" not in values or "output" not in values:
        raise ValueError(f"price of {model!r} needs both 'input' and 'output' (USD per 1M tokens)")
    window = entry.get("context_window")
    if window is not None and (
        isinstance(window, bool) or not isinstance(window, int) or window <= 0
    ):
        raise ValueError(f"price {model!r}.context_window must be a positive integer")
    provider = entry.get("provider")
    return Price(
        input=values["input"],
        output=values["output"],
        cached_input=values.get("cached_input"),
        cache_write_input=values.get("cache_write_input"),
        context_window=window,
        provider=provider if isinstance(provider, str) else None,
    )


def validate_overrides(overrides: Any) -> dict[str, dict[str, float]]:
    """Check user-given prices; raise ValueError naming the model and field at fault."""
    if not isinstance(overrides, Mapping):
        raise ValueError("expected a mapping of model name to {'input': ..., 'output': ...}")
    result: dict[str, dict[str, float]] = {}
    for model, entry in overrides.items():
        if not isinstance(model, str) or not model:
            raise ValueError(f"model names must be non-empty strings, got {model!r}")
        _check_entry(model, entry)
        result[model.lower()] = dict(entry)
    return result


def _normalise_model(model: str) -> str:
    model = model.strip().lower()
    if "/" in model:  # litellm and routers prefix the provider: "openai/gpt-4o"
        model = model.rsplit("/", 1)[1]
    return model


class PriceTable:
    """Prices by model name, with date-suffix and longest-prefix matching."""

    def __init__(self, models: Mapping[str, Price], as_of: str | None = None) -> None:
        self._models = dict(models)
        self._by_length = sorted(self._models, key=len, reverse=True)
        self._cache: dict[str, tuple[str, Price] | None] = {}
        self.as_of = as_of

    @classmethod
    def from_document(cls, document: Mapping[str, Any], source: str) -> PriceTable:
        models = document.get("models") if isinstance(document, Mapping) else None
        if not isinstance(models, Mapping):
            raise ValueError(f"{source}: expected an object with a 'models' mapping")
        try:
            parsed = {
                str(name).lower(): _check_entry(str(name), entry) for name, entry in models.items()
            }
        except ValueError as exc:
            raise ValueError(f"{source}: {exc}") from None
        as_of = document.get("as_of")
        return cls(parsed, as_of if isinstance(as_of, str) else None)

    @classmethod
    def from_file(cls, path: str | Path) -> PriceTable:
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: cannot read prices: {exc}") from None
        return cls.from_document(document, str(path))

    def merged(self, overrides: Mapping[str, Mapping[str, Any]] | PriceTable) -> PriceTable:
        extra = (
            overrides._models
            if isinstance(overrides, PriceTable)
            else {name.lower(): _check_entry(name, entry) for name, entry in overrides.items()}
        )
        return PriceTable({**self._models, **extra}, self.as_of)

    def lookup(self, model: str) -> tuple[str, Price] | None:
        """The table entry for ``model``: exact, then without a date suffix, then longest prefix."""
        cached = self._cache.get(model, False)
        if cached is not False:
            return cached  # type: ignore[return-value]
        found = self._find(model)
        if len(self._cache) < 4096:
            self._cache[model] = found
        return found

    def _find(self, model: str) -> tuple[str, Price] | None:
        name = _normalise_model(model)
        for candidate in (name, _DATE_SUFFIX.sub("", name)):
            price = self._models.get(candidate)
            if price is not None:
                return candidate, price
        for key in self._by_length:
            if name.startswith(key) and name[len(key) : len(key) + 1] in ("-", ":", ".", "@", ""):
                return key, self._models[key]
        return None

    def cost(
        self,
        model: str,
        input_tokens: int,
        output_tokens: int,
        cache_read_tokens: int = 0,
        cache_creation_tokens: int = 0,
        provider: str | None = None,
    ) -> float | None:
        """USD for one call, or None when the model (or a self-hosted provider) has no price."""
        if provider in LOCAL_PROVIDERS:
            return None
        found = self.lookup(model)
        if found is None:
            return None
        price = found[1]
        cached_price = price.cached_input if price.cached_input is not None else price.input
        write_price = (
            price.cache_write_input if price.cache_write_input is not None else price.input
        )
        uncached = max(input_tokens - cache_read_tokens - cache_creation_tokens, 0)
        total = (
            uncached * price.input
            + cache_read_tokens * cached_price
            + cache_creation_tokens * write_price
            + output_tokens * price.output
        )
        return total * _PER_TOKEN

    def context_window(self, model: str) -> int | None:
        found = self.lookup(model)
        return found[1].context_window if found else None


@lru_cache(maxsize=1)
def default_table() -> PriceTable:
    text = resources.files("agentspans").joinpath("data/prices.json").read_text(encoding="utf-8")
    return PriceTable.from_document(json.loads(text), "agentspans/data/prices.json")


def build_table(overrides: Mapping[str, Mapping[str, Any]], prices_file: str | None) -> PriceTable:
    table = default_table()
    if prices_file:
        table = table.merged(PriceTable.from_file(prices_file))
    if overrides:
        table = table.merged(overrides)
    return table
