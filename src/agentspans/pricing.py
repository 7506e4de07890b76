"""USD cost of an LLM call from its token counts.

The bundled table (``data/prices.json``, generated offline by ``scripts/update_prices.py`` from
LiteLLM's price table) lists standard-tier prices per million tokens and each model's input
context window; ``AGENTSPANS_PRICES_FILE`` / ``instrument(prices_file=...)`` and
``instrument(prices=...)`` extend or override it. A model the table does not know gets no cost at
all — never a guessed one — and a self-hosted provider's call gets none either.

Token semantics follow the GenAI conventions: ``gen_ai.usage.input_tokens`` includes cached
tokens, so the uncached part is ``input - cache_read - cache_creation``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

_PRICE_FIELDS = ("input", "output", "cached_input", "cache_write_input")
_ENTRY_FIELDS = frozenset({*_PRICE_FIELDS, "context_window", "provider", "tiers"})
_DATE_SUFFIX = re.compile(r"(-\d{4}-\d{2}-\d{2}|-\d{8}|@\d{8}|-latest)$")
_PREFIX_SEPARATORS = ("-", ":", ".", "@", "")
_PER_TOKEN = 1e-6  # the table is per million tokens
_LOOKUP_CACHE_SIZE = 4096

# Self-hosted servers bill nobody per token: their calls get no cost rather than a made-up one.
LOCAL_PROVIDERS = frozenset(
    {
        "vllm",
        "hosted_vllm",
        "ollama",
        "llama.cpp",
        "llama_cpp",
        "llamafile",
        "lm_studio",
        "lmstudio",
        "localai",
        "tgi",
        "sglang",
        "xinference",
    }
)

# gen_ai.provider.name values whose table entries carry a different prefix (LiteLLM's names).
_PROVIDER_PREFIXES = {
    "azure.ai.openai": "azure",
    "azure.ai.inference": "azure_ai",
    "aws.bedrock": "bedrock",
    "gcp.vertex_ai": "vertex_ai",
    "gcp.gemini": "gemini",
    "gcp.gen_ai": "gemini",
    "mistral_ai": "mistral",
    "x_ai": "xai",
    "ibm.watsonx.ai": "watsonx",
}

# Where a price came from, written as agentspans.cost.price_source.
SOURCE_BUNDLED = "bundled"
SOURCE_FILE = "prices_file"
SOURCE_OVERRIDE = "override"
# Why there is no cost.
SOURCE_UNKNOWN = "unknown"
SOURCE_SELF_HOSTED = "self_hosted"


@dataclass(frozen=True, slots=True)
class Tier:
    """Prices that replace the base ones when a request's input exceeds ``above`` tokens."""

    above: int
    input: float
    output: float
    cached_input: float | None = None
    cache_write_input: float | None = None


@dataclass(frozen=True, slots=True)
class Price:
    input: float
    output: float
    cached_input: float | None = None
    cache_write_input: float | None = None
    context_window: int | None = None
    provider: str | None = None
    tiers: tuple[Tier, ...] = ()
    source: str = SOURCE_BUNDLED

    def usd(self, usage: Usage) -> float:
        """The cost of ``usage`` at these prices (the long-context tier when one applies)."""
        input_tokens, output_tokens, cache_read, cache_creation = usage
        rates: Price | Tier = self
        for tier in self.tiers:  # ascending thresholds: the last one exceeded wins
            if input_tokens > tier.above:
                rates = tier
        total = max(input_tokens - cache_read - cache_creation, 0) * rates.input
        # Cached and cache-write input: the tier's rate, else the base one, else plain input
        # (summed in this order always: a term of zero tokens adds exactly nothing).
        if cache_read:
            cached = rates.cached_input
            if cached is None:
                cached = rates.input if self.cached_input is None else self.cached_input
            total += cache_read * cached
        if cache_creation:
            write = rates.cache_write_input
            if write is None:
                write = rates.input if self.cache_write_input is None else self.cache_write_input
            total += cache_creation * write
        total += output_tokens * rates.output
        return total * _PER_TOKEN


class Usage(NamedTuple):
    """Token counts of one call, with GenAI-convention semantics (input includes cached)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0


class Quote(NamedTuple):
    """The outcome of pricing one call: a cost, or the reason there is none."""

    usd: float | None
    source: str
    matched: str | None = None


def _number(model: str, field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"price {model!r}.{field} must be a number >= 0 (USD per 1M tokens)")
    return float(value)


def _positive_int(model: str, field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"price {model!r}.{field} must be a positive integer (tokens)")
    return value


def _prices_of(model: str, entry: Mapping[str, Any], where: str) -> dict[str, float]:
    values = {
        field: _number(model, f"{where}{field}", entry[field])
        for field in _PRICE_FIELDS
        if field in entry
    }
    if "input" not in values or "output" not in values:
        raise ValueError(
            f"price of {model!r}{' ' + where.rstrip('.') if where else ''} needs both 'input' "
            "and 'output' (USD per 1M tokens)"
        )
    return values


def _tiers(model: str, raw: Any) -> tuple[Tier, ...]:
    if not isinstance(raw, list):
        raise ValueError(f"price {model!r}.tiers must be a list of {{'above': tokens, ...}}")
    tiers = []
    for index, tier in enumerate(raw):
        where = f"tiers[{index}]."
        if not isinstance(tier, Mapping) or set(tier) - {*_PRICE_FIELDS, "above"}:
            raise ValueError(
                f"price {model!r}.tiers[{index}] must be a mapping of 'above' and "
                f"{', '.join(_PRICE_FIELDS)}"
            )
        above = _positive_int(model, f"{where}above", tier.get("above"))
        tiers.append(Tier(above=above, **_prices_of(model, tier, where)))
    return tuple(sorted(tiers, key=lambda tier: tier.above))


def _check_entry(model: str, entry: Any, source: str = SOURCE_BUNDLED) -> Price:
    if not isinstance(entry, Mapping):
        raise ValueError(f"price of {model!r} must be a mapping with 'input' and 'output'")
    unknown = set(entry) - _ENTRY_FIELDS
    if unknown:
        raise ValueError(
            f"price of {model!r} has unknown field(s) {sorted(unknown)}; "
            f"accepted: {', '.join(sorted(_ENTRY_FIELDS))}"
        )
    window = entry.get("context_window")
    provider = entry.get("provider")
    if provider is not None and not isinstance(provider, str):
        raise ValueError(f"price {model!r}.provider must be a string")
    return Price(
        **_prices_of(model, entry, ""),
        context_window=None if window is None else _positive_int(model, "context_window", window),
        provider=provider,
        tiers=_tiers(model, entry["tiers"]) if "tiers" in entry else (),
        source=source,
    )


def validate_overrides(overrides: Any) -> dict[str, dict[str, Any]]:
    """Check user-given prices; raise ValueError naming the model and field at fault."""
    if not isinstance(overrides, Mapping):
        raise ValueError("expected a mapping of model name to {'input': ..., 'output': ...}")
    result: dict[str, dict[str, Any]] = {}
    for model, entry in overrides.items():
        if not isinstance(model, str) or not model.strip():
            raise ValueError(f"model names must be non-empty strings, got {model!r}")
        _check_entry(model, entry)
        result[model.strip().lower()] = dict(entry)
    return result


def _candidates(model: str, provider: str | None) -> list[str]:
    """Names to try, most specific first: provider-qualified, as given, then without prefixes."""
    name = model.strip().lower()
    names = []
    if provider and "/" not in name:
        names.append(f"{_PROVIDER_PREFIXES.get(provider, provider)}/{name}")
    names.append(name)
    while "/" in name:  # routers prefix the provider: "openrouter/openai/gpt-4o"
        name = name.split("/", 1)[1]
        names.append(name)
    return names


class PriceTable:
    """Prices by model name: exact, provider prefix, date suffix and longest-prefix matching.

    A table may be *lazy*: built from a loader that runs on its first lookup (the bundled table
    is 3,600 models, about 2 MiB parsed and tens of milliseconds to check, and most processes
    price one or two models, from the worker thread, long after ``instrument()`` returned).
    """

    def __init__(
        self,
        models: Mapping[str, Price] | None = None,
        as_of: str | None = None,
        *,
        loader: Callable[[], PriceTable] | None = None,
    ) -> None:
        self._cache: dict[tuple[str, str | None], tuple[str, Price] | None] = {}
        self._as_of = as_of
        self._loader = loader
        self._load_lock = threading.Lock()
        self._models: dict[str, Price] = {}
        self._by_length: list[str] = []
        self._sellers: dict[str, list[tuple[str, Price]]] = {}
        if loader is None:
            self._index(models or {})

    def _index(self, models: Mapping[str, Price]) -> None:
        self._models = dict(models)
        self._by_length = sorted(self._models, key=len, reverse=True)
        # Names listed only with a seller's prefix ("mistral/mistral-large-latest",
        # "groq/openai/gpt-oss-120b"), by their last segment, for calls that send the bare name.
        sellers: dict[str, list[tuple[str, Price]]] = {}
        for key, price in self._models.items():
            bare = key.rsplit("/", 1)[-1]
            if bare != key and bare not in self._models:
                sellers.setdefault(bare, []).append((key, price))
        self._sellers = sellers

    def _loaded(self) -> dict[str, Price]:
        """The models, loading them first if this table is lazy (once, whichever thread asks)."""
        if self._loader is not None:
            with self._load_lock:
                loader = self._loader
                if loader is not None:
                    table = loader()
                    self._index(table._loaded())
                    self._as_of = self._as_of or table.as_of
                    self._loader = None
        return self._models

    @property
    def as_of(self) -> str | None:
        self._loaded()
        return self._as_of

    def __len__(self) -> int:
        return len(self._loaded())

    @classmethod
    def from_document(
        cls, document: Mapping[str, Any], origin: str, source: str = SOURCE_BUNDLED
    ) -> PriceTable:
        """A table from ``{"models": {...}}``; ValueError names ``origin`` and the problem."""
        models = document.get("models") if isinstance(document, Mapping) else None
        if not isinstance(models, Mapping):
            raise ValueError(f"{origin}: expected an object with a 'models' mapping")
        try:
            parsed = {
                str(name).strip().lower(): _check_entry(str(name), entry, source)
                for name, entry in models.items()
            }
        except ValueError as exc:
            raise ValueError(f"{origin}: {exc}") from None
        as_of = document.get("as_of")
        return cls(parsed, as_of if isinstance(as_of, str) else None)

    @classmethod
    def from_file(cls, path: str | Path) -> PriceTable:
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: cannot read prices: {exc}") from None
        return cls.from_document(document, str(path), SOURCE_FILE)

    def merged(self, overrides: Mapping[str, Mapping[str, Any]] | PriceTable) -> PriceTable:
        """This table with ``overrides`` winning; a mapping counts as ``instrument(prices=)``."""
        extra = (
            overrides._loaded()
            if isinstance(overrides, PriceTable)
            else {
                name.strip().lower(): _check_entry(name, entry, SOURCE_OVERRIDE)
                for name, entry in overrides.items()
            }
        )
        if self._loader is None:
            return PriceTable({**self._models, **extra}, self._as_of)
        # Still lazy: the overrides were checked above; the table under them loads when used.
        return PriceTable(loader=lambda: PriceTable({**self._loaded(), **extra}, self.as_of))

    def lookup(self, model: str, provider: str | None = None) -> tuple[str, Price] | None:
        """The matching table entry and its name, or None."""
        key = (model, provider)
        cached = self._cache.get(key, False)
        if cached is not False:
            return cached  # type: ignore[return-value]
        found = self._find(model, provider)
        if len(self._cache) < _LOOKUP_CACHE_SIZE:
            self._cache[key] = found
        return found

    def _find(self, model: str, provider: str | None) -> tuple[str, Price] | None:
        self._loaded()
        names = _candidates(model, provider)
        for name in names:
            for candidate in (name, _DATE_SUFFIX.sub("", name)):
                price = self._models.get(candidate)
                if price is not None:
                    return candidate, price
        bare = names[-1]
        for candidate in (bare, _DATE_SUFFIX.sub("", bare)):
            found = self._only_seller(candidate, provider)
            if found is not None:
                return found
        for name in names:
            for key in self._by_length:
                if name.startswith(key) and name[len(key) : len(key) + 1] in _PREFIX_SEPARATORS:
                    return key, self._models[key]
        return None

    def _only_seller(self, bare: str, provider: str | None) -> tuple[str, Price] | None:
        """The entry for a bare name listed only under sellers' prefixes: the span's provider's
        own listing, else the listing when every seller charges the same. Sellers that charge
        differently, with none of them the span's provider, give no price: it would be a guess."""
        sellers = self._sellers.get(bare, [])
        if provider is not None:
            prefix = _PROVIDER_PREFIXES.get(provider, provider)
            own = [s for s in sellers if s[0].startswith(prefix + "/") or s[1].provider == prefix]
            if own:
                sellers = own
        rates = {
            (p.input, p.output, p.cached_input, p.cache_write_input, p.tiers) for _, p in sellers
        }
        return min(sellers, key=lambda seller: seller[0]) if len(rates) == 1 else None

    def quote(self, model: str, usage: Usage, provider: str | None = None) -> Quote:
        """The cost of one call, or why there is none (``unknown`` model, ``self_hosted``)."""
        found = None if provider in LOCAL_PROVIDERS else self.lookup(model, provider)
        return quote_found(found, usage, provider)

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
        usage = Usage(input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens)
        return self.quote(model, usage, provider).usd

    def context_window(self, model: str, provider: str | None = None) -> int | None:
        found = self.lookup(model, provider)
        return found[1].context_window if found else None


def quote_found(found: tuple[str, Price] | None, usage: Usage, provider: str | None) -> Quote:
    """:meth:`PriceTable.quote` given what :meth:`PriceTable.lookup` found for the call's model
    (enrichment looks it up once for the context window and the cost)."""
    if provider in LOCAL_PROVIDERS:
        return Quote(None, SOURCE_SELF_HOSTED)
    if found is None:
        return Quote(None, SOURCE_UNKNOWN)
    name, price = found
    # tuple.__new__: the named tuple's own __new__ is Python-level (one quote per LLM span).
    return tuple.__new__(Quote, (price.usd(usage), price.source, name))


def _bundled() -> PriceTable:
    text = resources.files("agentspans").joinpath("data/prices.json").read_text(encoding="utf-8")
    return PriceTable.from_document(json.loads(text), "agentspans/data/prices.json")


@lru_cache(maxsize=1)
def default_table() -> PriceTable:
    """The bundled table, read on its first lookup rather than at ``instrument()``."""
    return PriceTable(loader=_bundled)


def build_table(overrides: Mapping[str, Mapping[str, Any]], prices_file: str | None) -> PriceTable:
    """The bundled table, then ``prices_file``, then ``overrides``: later ones win."""
    table = default_table()
    if prices_file:
        table = table.merged(PriceTable.from_file(prices_file))
    if overrides:
        table = table.merged(overrides)
    return table
