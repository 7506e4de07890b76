"""Each detector on a hand-computed trace; savings, severities and details worked out here."""

from __future__ import annotations

from typing import Any

import pytest

from agentspans import semconv
from agentspans.analysis import Finding, SpanRecord, Thresholds, TraceAnalysis, analyze

from ._trees import agent, chat, span, tool


def findings_of(records: list[SpanRecord], **limits: Any) -> tuple[TraceAnalysis, list[Finding]]:
    (result,) = analyze(records, Thresholds(**limits))
    return result, list(result.findings)


def kinds(findings: list[Finding]) -> list[str]:
    return [f.kind for f in findings]


def test_coordinator_idling_between_delegations() -> None:
    """coordinator 0-1000 delegates research 100-400 (tool 150-350), idles 400-600, then
    writer 600-900, which delegates editor 700-800.

    Coordinators: the root and writer (they delegate to agents); research only calls a tool.
    Own time: root 1000 - 300 - 300 = 400; writer 300 - 100 = 200; overhead 600 (60%).
    On the path: root 0-100, 400-600, 900-1000 (400) and writer 600-700, 800-900 (200), so the
    saving is 600, 60% of the trace but under severity_high_ms (1000 ms) in absolute terms:
    medium.
    """
    result, found = findings_of(
        [
            agent("coordinator", None, 0, 1000),
            agent("research", "coordinator", 100, 400),
            tool("search", "research", 150, 350),
            agent("writer", "coordinator", 600, 900),
            agent("editor", "writer", 700, 800),
        ]
    )
    assert result.coordination_overhead_ms == 600.0
    (finding,) = found
    assert finding.kind == "coordination_overhead"
    assert finding.span_ids == ("coordinator", "writer")
    assert finding.estimated_savings_ms == 600.0
    assert finding.severity == "medium"
    assert "coordinator" in finding.message
    # The agent table: own time of each agent span.
    own = {a.name: a.own_ms for a in result.agents}
    assert own == {"coordinator": 400.0, "research": 100.0, "writer": 200.0, "editor": 100.0}


def test_coordination_overhead_below_its_share_is_not_reported() -> None:
    # Root own time 150 of 1000 = 15% < 20%.
    _, found = findings_of(
        [agent("root", None, 0, 1000), agent("worker", "root", 100, 950)],
    )
    assert "coordination_overhead" not in kinds(found)


def test_parallelizable_sequence_saving_is_sum_minus_longest() -> None:
    """Three tools 0-100, 100-300, 300-350 back to back: 350 sequential, longest 200, so
    running them together saves 150 (of a 400 trace: 37.5%, high by share, but 150 ms is under
    severity_high_ms: medium). d 360-400 and e 370-400 overlap each other: they already ran in
    parallel and belong to no run. No model call precedes them: the evidence is structure."""
    _, found = findings_of(
        [
            agent("root", None, 0, 400),
            tool("a", "root", 0, 100),
            tool("b", "root", 100, 300),
            tool("c", "root", 300, 350),
            tool("d", "root", 360, 400),
            tool("e", "root", 370, 400),
        ],
        coordination_overhead_share=1.0,
    )
    (finding,) = found
    assert finding.kind == "parallelizable_sequence"
    assert finding.span_ids == ("a", "b", "c")
    assert finding.estimated_savings_ms == 150.0
    assert finding.severity == "medium"
    assert finding.details["sequential_ms"] == 350.0
    assert finding.details["evidence"] == "structure"


def test_parallel_calls_and_short_runs_are_not_parallelizable() -> None:
    """a, b, c overlap (a parallel batch); c then m1, m2 follow one another, but c already ran
    in parallel, so only m1, m2 form a run: too short."""
    _, found = findings_of(
        [
            agent("root", None, 0, 400),
            tool("a", "root", 0, 300),
            tool("b", "root", 10, 300),
            tool("c", "root", 20, 300),
            chat("m1", "root", 300, 350),
            chat("m2", "root", 350, 400),
        ],
        coordination_overhead_share=1.0,
    )
    assert found == []


def test_repeated_prompts_waste_time_tokens_and_cost() -> None:
    """The same prompt (fingerprint f1) three times: 0-100, 100-250, 300-400. The two repeats
    took 150 + 100 = 250 ms and 2 x (1000 + 50) tokens, $0.02 + $0.03."""
    result, found = findings_of(
        [
            agent("root", None, 0, 500),
            chat("p1", "root", 0, 100, tokens=(1000, 50), cost=0.01, fingerprint="f1"),
            chat("p2", "root", 100, 250, tokens=(1000, 50), cost=0.02, fingerprint="f1"),
            chat("other", "root", 250, 300, tokens=(10, 10), cost=0.0, fingerprint="f2"),
            chat("p3", "root", 300, 400, tokens=(1000, 50), cost=0.03, fingerprint="f1"),
        ],
        parallelizable_min_calls=100,
        coordination_overhead_share=1.0,
        cost_hotspot_share=1.0,
    )
    (finding,) = found
    assert finding.kind == "repeated_call"
    assert finding.span_ids == ("p1", "p2", "p3")
    assert finding.estimated_savings_ms == 250.0
    assert finding.details["wasted_input_tokens"] == 2000
    assert finding.details["wasted_output_tokens"] == 100
    assert finding.details["wasted_cost_usd"] == pytest.approx(0.05)
    # Cost share of the waste: 0.05 / 0.06 = 83% -> high.
    assert finding.severity == "high"
    assert result.totals.llm_calls == 4


def test_error_then_retry() -> None:
    """fetch fails 0-100 and 150-200 (same name, same parent, no fingerprint), then succeeds
    300-400. One chain: saving = 300 - 0 = 300 (first failure to last attempt)."""
    _, found = findings_of(
        [
            agent("root", None, 0, 500),
            tool("f1", "root", 0, 100, name="execute_tool fetch", error=True),
            tool("f2", "root", 150, 200, name="execute_tool fetch", error=True),
            tool("f3", "root", 300, 400, name="execute_tool fetch"),
            tool("other", "root", 400, 450, name="execute_tool other", error=True),
        ],
        parallelizable_min_calls=100,
        coordination_overhead_share=1.0,
    )
    (finding,) = found
    assert finding.kind == "error_retry"
    assert finding.span_ids == ("f1", "f2", "f3")
    assert finding.estimated_savings_ms == 300.0
    assert finding.details == {"attempts": 3, "failures": 2}
    assert "succeeded" in finding.message


def test_retry_by_fingerprint_across_parents_and_gap_limit() -> None:
    _, found = findings_of(
        [
            agent("root", None, 0, 10_000),
            agent("a", "root", 0, 100),
            chat("c1", "a", 0, 100, fingerprint="same", error=True),
            agent("b", "root", 200, 300),
            chat("c2", "b", 200, 300, fingerprint="same"),
            tool("late1", "root", 400, 500, error=True),
            tool("late2", "root", 9000, 9100),
        ],
        parallelizable_min_calls=100,
        coordination_overhead_share=1.0,
        error_retry_max_gap_ms=1000,
    )
    retries = [f for f in found if f.kind == "error_retry"]
    assert [f.span_ids for f in retries] == [("c1", "c2")]
    # A failed repeat is a retry, not a repeated_call.
    assert "repeated_call" not in kinds(found)


def test_prompt_heavy_by_ratio_and_by_context_window() -> None:
    _, found = findings_of(
        [
            agent("root", None, 0, 100),
            chat("heavy", "root", 0, 10, tokens=(30_000, 100)),  # ratio 300
            chat("light", "root", 10, 20, tokens=(30_000, 10_000)),  # ratio 3
            chat("small", "root", 20, 30, tokens=(500, 1)),  # under the minimum input
            chat(
                "full",
                "root",
                30,
                40,
                tokens=(7000, 7000),
                agentspans__request__context_window=8000,
            ),
            span(
                "embed", "root", 40, 50, op=semconv.OP_EMBEDDINGS, gen_ai__usage__input_tokens=9000
            ),
        ],
        parallelizable_min_calls=100,
        coordination_overhead_share=1.0,
    )
    heavy = {f.span_ids[0]: f for f in found if f.kind == "prompt_heavy"}
    assert set(heavy) == {"heavy", "full"}
    assert heavy["heavy"].details["ratio"] == 300.0
    assert heavy["full"].details["context_window_share"] == 7000 / 8000
    # Severity by share of the trace's input tokens: 30000 / 76500 = 39% -> high.
    assert heavy["heavy"].severity == "high"
    assert heavy["full"].severity == "medium"  # 7000 / 76500 = 9%


def test_slow_llm_call_by_duration_and_by_output_speed() -> None:
    """long: 40 s with 1000 tokens -> 10 s over the 30 s threshold (25 tokens/s is fine).
    crawl: 100 output tokens in 20 s = 5 tokens/s; at 10 tokens/s it takes 10 s: saves 10 s.
    fast: 100 tokens at the recorded 50 tokens/s; short: 2 tokens only, not judged."""
    _, found = findings_of(
        [
            agent("root", None, 0, 100_000),
            chat("long", "root", 0, 40_000, tokens=(10, 1000)),
            chat("crawl", "root", 40_000, 60_000, tokens=(10, 100)),
            chat(
                "fast",
                "root",
                60_000,
                70_000,
                tokens=(10, 100),
                agentspans__response__output_tokens_per_second=50.0,
            ),
            chat("short", "root", 70_000, 80_000, tokens=(10, 2)),
        ],
        parallelizable_min_calls=100,
        coordination_overhead_share=1.0,
    )
    slow = {f.span_ids[0]: f for f in found if f.kind == "slow_llm_call"}
    assert set(slow) == {"long", "crawl"}
    assert slow["long"].estimated_savings_ms == 10_000.0
    assert slow["crawl"].estimated_savings_ms == pytest.approx(10_000.0)
    assert slow["crawl"].details["output_tokens_per_s"] == 5.0
    # 10 s of a 100 s trace: 10% -> medium.
    assert slow["long"].severity == "medium"


def test_slow_tool_call() -> None:
    _, found = findings_of(
        [
            agent("root", None, 0, 20_000),
            tool("slow", "root", 0, 12_500),
            tool("ok", "root", 12_500, 13_000),
        ],
        coordination_overhead_share=1.0,
    )
    (finding,) = found
    assert (finding.kind, finding.span_ids, finding.estimated_savings_ms) == (
        "slow_tool_call",
        ("slow",),
        2500.0,
    )


def test_cost_hotspot_for_a_call() -> None:
    """Total $1.00: the big call costs $0.70 (70% >= 50%): high. Its agent, writer, carries 80%
    but the one call explains it, so writer gets no finding of its own."""
    _, found = findings_of(
        [
            agent("root", None, 0, 100),
            agent("research", "root", 0, 30),
            chat("r1", "research", 0, 30, cost=0.20),
            agent("writer", "root", 30, 100),
            chat("big", "writer", 30, 90, cost=0.70),
            chat("w2", "writer", 90, 100, cost=0.10),
        ],
        coordination_overhead_share=1.0,
    )
    hot = [f for f in found if f.kind == "cost_hotspot"]
    assert [(f.span_ids, f.severity) for f in hot] == [(("big",), "high")]
    assert hot[0].details["share"] == pytest.approx(0.7)


def test_cost_hotspot_for_an_agent_of_many_cheap_calls() -> None:
    """writer: three calls of $0.20 = 60% of $1.00, none above 50% alone; research $0.40."""
    _, found = findings_of(
        [
            agent("root", None, 0, 100),
            agent("research", "root", 0, 30),
            chat("r1", "research", 0, 30, cost=0.40),
            agent("writer", "root", 30, 100),
            chat("w1", "writer", 30, 50, cost=0.20),
            chat("w2", "writer", 50, 70, cost=0.20),
            chat("w3", "writer", 70, 100, cost=0.20),
        ],
        coordination_overhead_share=1.0,
        parallelizable_min_calls=100,
    )
    hot = [f for f in found if f.kind == "cost_hotspot"]
    assert [(f.span_ids, f.severity) for f in hot] == [(("writer",), "high")]
    assert hot[0].details == {
        "agent": "writer",
        "cost_usd": pytest.approx(0.6),
        "share": pytest.approx(0.6),
    }


def test_vram_pressure_names_the_innermost_spans_over_the_threshold() -> None:
    _, found = findings_of(
        [
            agent("root", None, 0, 100, agentspans__gpu__memory__peak_utilization=0.95),
            tool("load", "root", 0, 50, agentspans__gpu__memory__peak_utilization=0.95),
            tool(
                "small",
                "root",
                50,
                100,
                agentspans__gpu__memory__peak_bytes=10,
                agentspans__gpu__memory__total_bytes=100,
            ),
        ],
        coordination_overhead_share=1.0,
    )
    (finding,) = found
    assert (finding.kind, finding.span_ids, finding.severity) == (
        "vram_pressure",
        ("load",),
        "medium",
    )


def test_findings_sorted_by_saving_then_kind() -> None:
    """Three identical 11 s tools back to back: the sequence saves 33 - 11 = 22 s, the two
    repeats 22 s (ties broken by kind), each tool is 1 s over the 10 s slow-tool threshold."""
    records = [agent("root", None, 0, 40_000)]
    for i in range(3):
        records.append(
            tool(
                f"t{i}",
                "root",
                i * 11_000,
                (i + 1) * 11_000,
                agentspans__request__fingerprint="same",
            )
        )
    _, found = findings_of(records, coordination_overhead_share=1.0)
    assert [(f.kind, f.estimated_savings_ms) for f in found] == [
        ("parallelizable_sequence", 22_000.0),
        ("repeated_call", 22_000.0),
        ("slow_tool_call", 1000.0),
        ("slow_tool_call", 1000.0),
        ("slow_tool_call", 1000.0),
    ]
