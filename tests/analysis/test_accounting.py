"""``account``'s shortcut for our own LLM spans against the one reader, ``read_llm_call``.

``account`` reads the conventions' token and cost names directly when they hold valid values
and goes through ``read_llm_call`` otherwise; either way a counted call's operation, tokens
and cost must be what ``read_llm_call`` says, and a nested LLM span must fill in exactly what
its outer call lacks. Generated spans: valid and invalid counts and costs, other
instrumentations' names, nesting.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agentspans import semconv
from agentspans.analysis.accounting import account
from agentspans.analysis.forest import build_forest
from agentspans.analysis.model import SpanRecord
from agentspans.llm_span import MAX_COUNT, read_llm_call

TRACE = "a" * 32

counts = st.one_of(
    st.none(),
    st.integers(0, 10_000),
    st.sampled_from([0, MAX_COUNT, MAX_COUNT + 1, -1, 2.0, 7.5, True, "12", float("nan")]),
)
costs = st.one_of(
    st.none(),
    st.floats(0, 5, allow_nan=False),
    st.sampled_from([-1.0, -0.0, math.inf, math.nan, 0, 3, True, "0.1"]),
)
OPERATIONS = [
    semconv.OP_CHAT,
    semconv.OP_TEXT_COMPLETION,
    semconv.OP_EMBEDDINGS,
    "generate_content",
    semconv.OP_EXECUTE_TOOL,
    semconv.OP_INVOKE_AGENT,
    "other",
    None,
]


@st.composite
def attributes(draw: st.DrawFn) -> dict[str, Any]:
    found: dict[str, Any] = {}
    operation = draw(st.sampled_from(OPERATIONS))
    if operation is not None:
        found[semconv.GEN_AI_OPERATION_NAME] = operation
    elif draw(st.booleans()):
        found["openinference.span.kind"] = draw(st.sampled_from(["LLM", "EMBEDDING", "TOOL"]))
    optional: dict[str, st.SearchStrategy[Any]] = {
        semconv.GEN_AI_USAGE_INPUT_TOKENS: counts,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: counts,
        semconv.COST_USD: costs,
        # Other instrumentations' names, read when the conventions' are absent or invalid.
        semconv.GEN_AI_USAGE_PROMPT_TOKENS: counts,
        "llm.token_count.completion": counts,
        semconv.REQUEST_FINGERPRINT: st.sampled_from(["fp", ""]),
    }
    for name, values in optional.items():
        if draw(st.booleans()):
            found[name] = draw(values)
    return found


def _tree(outer: dict[str, Any], inner: dict[str, Any] | None) -> Any:
    records = [SpanRecord(TRACE, "1" * 16, None, "outer", 0, 10, outer)]
    if inner is not None:
        records.append(SpanRecord(TRACE, "2" * 16, "1" * 16, "inner", 1, 9, inner))
    (tree,) = build_forest(records)
    return tree


def _same(a: Any, b: Any) -> bool:
    """Equal, and of one type (1 is not 1.0 here), NaN equal to itself."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


@settings(max_examples=400)
@given(attributes(), st.one_of(st.none(), attributes()))
def test_counted_calls_read_as_read_llm_call_reads_them(
    outer: dict[str, Any], inner: dict[str, Any] | None
) -> None:
    accounts = account(_tree(outer, inner))
    tool = outer.get(semconv.GEN_AI_OPERATION_NAME) == semconv.OP_EXECUTE_TOOL
    call = None if tool else read_llm_call(outer)
    assert accounts.llm[0] is (call is not None)
    if call is None:
        return
    expected = [call.input_tokens, call.output_tokens, call.cost_usd]
    inner_call = read_llm_call(inner) if inner is not None else None
    if inner is not None and inner.get(semconv.GEN_AI_OPERATION_NAME) == semconv.OP_EXECUTE_TOOL:
        inner_call = None
    if inner_call is not None:  # nested: it fills in what the outer call lacks
        own = [inner_call.input_tokens, inner_call.output_tokens, inner_call.cost_usd]
        expected = [
            mine if mine is not None else theirs for mine, theirs in zip(expected, own, strict=True)
        ]
        assert not accounts.llm[1] and accounts.operation[1] == inner_call.operation
    assert accounts.operation[0] == call.operation
    found = [accounts.input_tokens[0], accounts.output_tokens[0], accounts.cost[0]]
    assert all(_same(a, b) for a, b in zip(found, expected, strict=True)), (found, expected)
