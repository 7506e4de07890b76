"""The one reader of LLM spans: what call a span is, whoever instrumented it.

Enrichment (cost), the analysis (LLM-call counts, token totals, findings), the metrics and the
report all ask this module, so a span is counted as an LLM call exactly when it can be priced,
and a trace written by another instrumentation reads the same as one of ours. It works on plain
attribute mappings (a live span's, or a record read from an OTLP/JSON file) and imports nothing
from OpenTelemetry.

Recognised, in order of precedence for each fact:

* the GenAI semantic conventions as agentspans writes them (``gen_ai.operation.name``,
  ``gen_ai.usage.input_tokens``, ``gen_ai.usage.cache_read.input_tokens``, ...), which OpenLIT and
  the OpenAI Agents SDK's OTel bridges write too;
* older GenAI names (``gen_ai.system``, ``gen_ai.usage.prompt_tokens`` / ``completion_tokens``);
* OpenLLMetry (``llm.request.type``, ``gen_ai.usage.cache_read_input_tokens``,
  ``llm.usage.*``);
* OpenInference (``openinference.span.kind`` LLM / EMBEDDING, ``llm.model_name``,
  ``llm.token_count.*``).

A count that is not a non-negative whole number of at most 2**53 (a negative, a string, a float
like 1e400) is dropped, with one debug log per attribute name: it can neither overflow a cost
nor poison a total.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from agentspans import semconv
from agentspans.pricing import Usage

_log = logging.getLogger("agentspans")

# Counts above this are no token count (and floats lose integer precision past it).
MAX_COUNT = 2**53

OPENINFERENCE_SPAN_KIND = "openinference.span.kind"
_OPENINFERENCE_OPERATIONS = {"LLM": semconv.OP_CHAT, "EMBEDDING": semconv.OP_EMBEDDINGS}
_OPENLLMETRY_OPERATIONS = {
    "chat": semconv.OP_CHAT,
    "completion": semconv.OP_TEXT_COMPLETION,
    "embedding": semconv.OP_EMBEDDINGS,
}

# Each fact's attribute names, the first present (and valid) wins.
MODEL_NAMES = (
    semconv.GEN_AI_RESPONSE_MODEL,
    semconv.GEN_AI_REQUEST_MODEL,
    "llm.model_name",
    "embedding.model_name",
    "llm.response.model",
    "llm.request.model",
)
PROVIDER_NAMES = (semconv.GEN_AI_PROVIDER_NAME, semconv.GEN_AI_SYSTEM, "llm.provider", "llm.system")
INPUT_NAMES = (
    semconv.GEN_AI_USAGE_INPUT_TOKENS,
    semconv.GEN_AI_USAGE_PROMPT_TOKENS,
    "llm.token_count.prompt",
    "llm.usage.prompt_tokens",
)
OUTPUT_NAMES = (
    semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
    semconv.GEN_AI_USAGE_COMPLETION_TOKENS,
    "llm.token_count.completion",
    "llm.usage.completion_tokens",
)
CACHE_READ_NAMES = (
    semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    semconv.OPENLLMETRY_CACHE_READ_INPUT_TOKENS,
    "llm.token_count.prompt_details.cache_read",
    "gen_ai.usage.cached_tokens",
)
CACHE_CREATION_NAMES = (
    semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    semconv.OPENLLMETRY_CACHE_CREATION_INPUT_TOKENS,
    "llm.token_count.prompt_details.cache_write",
)
REASONING_NAMES = (
    semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
    "gen_ai.usage.reasoning_tokens",
    "llm.token_count.completion_details.reasoning",
)

_DETAIL_NAMES = (*CACHE_READ_NAMES, *CACHE_CREATION_NAMES, *REASONING_NAMES)
_LLM_OPERATIONS = semconv.LLM_OPERATIONS
_warned: set[str] = set()


def _dropped(name: str, value: Any) -> None:
    if name not in _warned:
        _warned.add(name)
        _log.debug("agentspans: ignoring %s=%r: not a token count", name, value)


def count(value: Any, name: str = "count") -> int | None:
    """``value`` as a token count, or None (logged once per ``name``) when it cannot be one."""
    if type(value) is int:  # the common case first: this runs for every LLM span
        if 0 <= value <= MAX_COUNT:
            return value
    elif value is None:
        return None
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        if 0 <= value <= MAX_COUNT:
            return int(value)
    elif isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT:
        return int(value)
    _dropped(name, value)
    return None


def amount(value: Any, name: str = "amount") -> float | None:
    """``value`` as a non-negative finite USD amount, or None."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
        if math.isfinite(number) and number >= 0:
            return number
    _dropped(name, value)
    return None


def _first_count(attributes: Mapping[str, Any], names: tuple[str, ...]) -> int | None:
    for name in names:
        value = attributes.get(name)
        if value is not None:
            found = count(value, name)
            if found is not None:
                return found
    return None


def _first_text(attributes: Mapping[str, Any], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = attributes.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def llm_operation(attributes: Mapping[str, Any]) -> str | None:
    """The span's LLM operation (``chat``, ``text_completion``, ``embeddings``, ...), or None
    when it is no LLM call. Cheap: the analysis asks it of every span."""
    operation = attributes.get(semconv.GEN_AI_OPERATION_NAME)
    if operation is not None:
        return operation if type(operation) is str and operation in _LLM_OPERATIONS else None
    kind = attributes.get(OPENINFERENCE_SPAN_KIND)
    if kind is not None:
        return _OPENINFERENCE_OPERATIONS.get(kind) if isinstance(kind, str) else None
    request_type = attributes.get(semconv.OPENLLMETRY_REQUEST_TYPE)
    if request_type is not None:
        return _OPENLLMETRY_OPERATIONS.get(request_type) if isinstance(request_type, str) else None
    return None


class LlmCall(NamedTuple):
    """The facts of one LLM span, in the conventions' terms (input includes cached input).

    A named tuple: the worker reads one for every LLM span, and a tuple is built at C speed
    (a frozen dataclass of ten fields cost about as much as reading the span itself)."""

    operation: str
    model: str | None
    provider: str | None
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_creation_tokens: int | None
    reasoning_tokens: int | None
    # agentspans' own cost (``agentspans.cost.usd``), once enrichment priced the span.
    cost_usd: float | None
    error_type: str | None

    @property
    def has_usage(self) -> bool:
        return self.input_tokens is not None or self.output_tokens is not None

    def usage(self) -> Usage:
        """For pricing: reasoning tokens are output tokens, billed at the output rate."""
        # tuple.__new__: a named tuple's own __new__ is a Python-level function.
        return _new_tuple(
            Usage,
            (
                self.input_tokens or 0,
                self.output_tokens or 0,
                self.cache_read_tokens or 0,
                self.cache_creation_tokens or 0,
            ),
        )

    def with_cost(self, cost_usd: float) -> LlmCall:
        """This call with ``cost_usd`` (``_replace``, without its Python-level machinery)."""
        fields = list(self)
        fields[_COST_INDEX] = cost_usd
        return _new_tuple(LlmCall, fields)


_new_tuple = tuple.__new__
_COST_INDEX = LlmCall._fields.index("cost_usd")


_MODEL, _PROVIDER = MODEL_NAMES[0], PROVIDER_NAMES[0]
_INPUT, _OUTPUT = INPUT_NAMES[0], OUTPUT_NAMES[0]


def read_llm_call(attributes: Mapping[str, Any]) -> LlmCall | None:
    """The span's LLM call, or None when it is not an LLM span."""
    operation = llm_operation(attributes)
    if operation is None:
        return None
    get = attributes.get
    # Each fact's first name answers for spans written in the conventions (ours among them): it
    # is checked inline, and anything else (absent, empty, not a valid count) takes the full
    # search in order, which checks it again and logs what it drops.
    model = get(_MODEL)
    if type(model) is not str or not model:
        model = _first_text(attributes, MODEL_NAMES)
    provider = get(_PROVIDER)
    if type(provider) is not str or not provider:
        provider = _first_text(attributes, PROVIDER_NAMES)
    tokens_in = get(_INPUT)
    if type(tokens_in) is not int or not 0 <= tokens_in <= MAX_COUNT:
        tokens_in = _first_count(attributes, INPUT_NAMES)
    tokens_out = get(_OUTPUT)
    if type(tokens_out) is not int or not 0 <= tokens_out <= MAX_COUNT:
        tokens_out = _first_count(attributes, OUTPUT_NAMES)
    cost = get(semconv.COST_USD)
    error = get(semconv.ERROR_TYPE)
    # Most calls report no cached or reasoning tokens: one C-level check for all their names.
    detailed = not attributes.keys().isdisjoint(_DETAIL_NAMES)
    return _new_tuple(
        LlmCall,
        (
            operation,
            model,
            provider,
            tokens_in,
            tokens_out,
            _first_count(attributes, CACHE_READ_NAMES) if detailed else None,
            _first_count(attributes, CACHE_CREATION_NAMES) if detailed else None,
            _first_count(attributes, REASONING_NAMES) if detailed else None,
            None if cost is None else amount(cost, semconv.COST_USD),
            error if isinstance(error, str) and error else None,
        ),
    )
