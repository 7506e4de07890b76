"""Totals, the per-agent table and the rollups: each LLM call counted once."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from agentspans import semconv
from agentspans.analysis import Rollup, SpanRecord, analyze

from ._trees import agent, chat, span, tool


def test_nested_instrumentations_count_one_call_with_the_values_measured() -> None:
    """litellm's span around openai's: one call. The outer span has the cost, the inner one the
    tokens; the call gets both."""
    (result,) = analyze(
        [
            agent("root", None, 0, 100),
            chat("litellm", "root", 0, 50, cost=0.5),
            chat("openai", "litellm", 1, 49, tokens=(100, 20), cost=0.9),
        ]
    )
    assert result.totals.llm_calls == 1
    assert (result.totals.input_tokens, result.totals.output_tokens) == (100, 20)
    assert result.totals.cost_usd == 0.5  # the outermost span's own cost wins
    assert result.totals.priced_calls == 1


def test_rollups_on_agents_and_root_equal_their_subtrees() -> None:
    """root > planner (chat 10/5 $0.01, tool) and researcher > (chat 100/50 $0.10, chat 200/20
    unpriced, tool, tool) ; researcher > summariser (chat 7/3 $0.002)."""
    (result,) = analyze(
        [
            agent("root", None, 0, 1000),
            agent("planner", "root", 0, 100),
            chat("p1", "planner", 0, 50, tokens=(10, 5), cost=0.01),
            tool("pt", "planner", 50, 100),
            agent("researcher", "root", 100, 900, agentspans__gpu__memory__peak_bytes=500),
            chat("r1", "researcher", 100, 200, tokens=(100, 50), cost=0.10),
            chat("r2", "researcher", 200, 300, tokens=(200, 20)),
            tool("rt1", "researcher", 300, 400, agentspans__gpu__memory__peak_bytes=900),
            tool("rt2", "researcher", 400, 500),
            agent("summariser", "researcher", 500, 900),
            chat("s1", "summariser", 500, 900, tokens=(7, 3), cost=0.002),
        ]
    )
    rollups = result.rollups
    assert set(rollups) == {"root", "planner", "researcher", "summariser"}
    assert rollups["planner"] == Rollup(10, 5, 0.01, 1, 1, 1, None)
    assert rollups["summariser"] == Rollup(7, 3, 0.002, 1, 0, 1, None)
    researcher = rollups["researcher"]
    assert (researcher.input_tokens, researcher.output_tokens) == (307, 73)
    assert researcher.cost_usd == pytest.approx(0.102)
    assert (researcher.llm_calls, researcher.tool_calls, researcher.priced_calls) == (3, 2, 2)
    assert researcher.vram_peak_bytes == 900
    root = rollups["root"]
    assert (root.input_tokens, root.output_tokens, root.llm_calls, root.tool_calls) == (
        317,
        78,
        4,
        3,
    )
    assert root.cost_usd == pytest.approx(0.112)
    # The trace's totals are the root's rollup.
    totals = result.totals
    assert (totals.input_tokens, totals.output_tokens, totals.llm_calls, totals.tool_calls) == (
        317,
        78,
        4,
        3,
    )
    assert totals.cost_usd == root.cost_usd
    # The agent table counts each agent's own calls; its sub-agents have their own rows.
    table = {a.name: a for a in result.agents}
    assert [a.name for a in result.agents] == ["root", "planner", "researcher", "summariser"]
    assert (table["researcher"].input_tokens, table["researcher"].llm_calls) == (300, 2)
    assert table["researcher"].tool_calls == 2
    assert table["researcher"].vram_peak_bytes == 900
    assert table["researcher"].duration_ms == 800.0
    assert table["summariser"].input_tokens == 7
    assert table["root"].llm_calls == 0


def test_unpriced_trace_says_so() -> None:
    (result,) = analyze([agent("root", None, 0, 10), chat("c", "root", 0, 5, tokens=(1, 1))])
    assert result.totals.priced_calls == 0
    assert result.rollups["root"].priced_calls == 0


def test_agents_with_the_same_name_share_a_row() -> None:
    (result,) = analyze(
        [
            span("root", None, 0, 100),
            agent("w1", "root", 0, 40, gen_ai__agent__name="worker"),
            agent("w2", "root", 50, 100, gen_ai__agent__name="worker"),
            chat("c", "w2", 50, 60, tokens=(5, 5)),
        ]
    )
    (row,) = result.agents
    assert (row.name, row.calls, row.duration_ms, row.llm_calls) == ("worker", 2, 90.0, 1)


def test_random_trees_totals_equal_the_sum_over_outermost_llm_calls() -> None:
    """On random trees with nested LLM spans: totals = sum over LLM spans with no LLM ancestor,
    computed here by walking parents, and every agent's rollup = the same sum over its subtree."""
    rng = random.Random(11)
    for _ in range(200):
        records = [agent("s0", None, 0, 1000)]
        for i in range(1, rng.randrange(2, 40)):
            parent = f"s{rng.randrange(i)}"
            kind = rng.choice(["agent", "chat", "tool", "plain"])
            if kind == "agent":
                records.append(agent(f"s{i}", parent, 0, 10))
            elif kind == "chat":
                records.append(
                    chat(
                        f"s{i}",
                        parent,
                        0,
                        10,
                        tokens=(rng.randrange(100), rng.randrange(100)),
                        cost=rng.random(),
                    )
                )
            elif kind == "tool":
                records.append(tool(f"s{i}", parent, 0, 10))
            else:
                records.append(span(f"s{i}", parent, 0, 10))
        by_id = {r.span_id: r for r in records}

        def is_llm(r: SpanRecord) -> bool:
            return r.attributes.get(semconv.GEN_AI_OPERATION_NAME) == "chat"

        def ancestors(r: SpanRecord, by_id: dict[str, SpanRecord] = by_id) -> Iterator[SpanRecord]:
            while r.parent_id is not None:
                r = by_id[r.parent_id]
                yield r

        counted = [r for r in records if is_llm(r) and not any(is_llm(a) for a in ancestors(r))]
        (result,) = analyze(records)
        assert result.totals.llm_calls == len(counted)
        assert result.totals.input_tokens == sum(
            r.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] for r in counted
        )
        assert result.totals.cost_usd == pytest.approx(
            sum(r.attributes[semconv.COST_USD] for r in counted)
        )
        for span_id, rollup in result.rollups.items():
            inside = [
                r
                for r in counted
                if r.span_id == span_id or any(a.span_id == span_id for a in ancestors(r))
            ]
            assert rollup.llm_calls == len(inside)
            assert rollup.output_tokens == sum(
                r.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] for r in inside
            )
