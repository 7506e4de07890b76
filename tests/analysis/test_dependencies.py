"""parallelizable_sequence on the evidence of tool-call ids and agent-loop structure; no
coordination overhead without delegation; absolute severity; no contradicting findings.

Times in ms; every expected saving is worked out in the test's docstring."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from agentspans import semconv
from agentspans.analysis import Finding, SpanRecord, Thresholds, TraceAnalysis, analyze

from ._contradictions import contradictions
from ._trees import agent, chat, span, tool

ASKED = semconv.RESPONSE_TOOL_CALL_IDS.replace(".", "__")
CARRIED = semconv.REQUEST_TOOL_RESULT_IDS.replace(".", "__")
CALL_ID = semconv.GEN_AI_TOOL_CALL_ID.replace(".", "__")


def run(records: list[SpanRecord], **limits: Any) -> tuple[TraceAnalysis, list[Finding]]:
    (result,) = analyze(records, Thresholds(**limits))
    assert contradictions(records, result) == []
    return result, list(result.findings)


def of_kind(found: list[Finding], kind: str) -> list[Finding]:
    return [f for f in found if f.kind == kind]


def test_agent_loop_model_tool_model_is_not_parallelizable() -> None:
    """An agent loop three times round: model 0-300 asks for call a, tool a 300-500, model
    500-800 reads a's result and asks for b, tool b 800-1000, model 1000-1300 reads b's. Each
    step needs the one before: the old rule saw five calls in a row and advised running them
    together. With ids and without them, no sequence."""
    with_ids = [
        agent("assistant", None, 0, 1300),
        chat("m1", "assistant", 0, 300, **{ASKED: ["a"]}),
        tool("ta", "assistant", 300, 500, **{CALL_ID: "a"}),
        chat("m2", "assistant", 500, 800, **{ASKED: ["b"], CARRIED: ["a"]}),
        tool("tb", "assistant", 800, 1000, **{CALL_ID: "b"}),
        chat("m3", "assistant", 1000, 1300, **{CARRIED: ["a", "b"]}),
    ]
    _, found = run(with_ids, coordination_overhead_share=1.0)
    assert of_kind(found, "parallelizable_sequence") == []
    bare = [
        agent("assistant", None, 0, 1300),
        chat("m1", "assistant", 0, 300),
        tool("ta", "assistant", 300, 500),
        chat("m2", "assistant", 500, 800),
        tool("tb", "assistant", 800, 1000),
        chat("m3", "assistant", 1000, 1300),
    ]
    _, found = run(bare, coordination_overhead_share=1.0)
    assert of_kind(found, "parallelizable_sequence") == []


def test_three_tool_calls_from_one_response_run_one_by_one() -> None:
    """m1 0-200 asks for weather, news and stocks in one response; they run one by one
    200-500, 500-900, 900-1100 (300 + 400 + 200 = 900 sequential, longest 400), then m2
    1100-1300 reads all three results. Running them concurrently saves 900 - 400 = 500 ms, 38%
    of the 1300 ms trace: high by share, but under severity_high_ms (1000): medium."""
    records = [
        agent("assistant", None, 0, 1300),
        chat("m1", "assistant", 0, 200, **{ASKED: ["c1", "c2", "c3"]}),
        tool("t1", "assistant", 200, 500, name="execute_tool weather", **{CALL_ID: "c1"}),
        tool("t2", "assistant", 500, 900, name="execute_tool news", **{CALL_ID: "c2"}),
        tool("t3", "assistant", 900, 1100, name="execute_tool stocks", **{CALL_ID: "c3"}),
        chat("m2", "assistant", 1100, 1300, **{CARRIED: ["c1", "c2", "c3"]}),
    ]
    _, found = run(records, coordination_overhead_share=1.0)
    (finding,) = of_kind(found, "parallelizable_sequence")
    assert finding.span_ids == ("t1", "t2", "t3")
    assert finding.estimated_savings_ms == 500.0
    assert finding.severity == "medium"
    assert finding.details["evidence"] == "tool_call_ids"
    assert finding.details["requested_by_span_id"] == "m1"
    for name in ("weather", "news", "stocks"):
        assert name in finding.message
    assert "500 ms" in finding.message and "one response" in finding.message


def test_tool_ids_find_the_batch_across_parents() -> None:
    """LangGraph-style: the model runs in an 'agent' node, the tools in a 'tools' node; ids
    link them all the same. Saving: 3 x 100 - 100 = 200."""
    records = [
        span("graph", None, 0, 500, op=semconv.OP_INVOKE_WORKFLOW),
        span("agent_node", "graph", 0, 100),
        chat("m1", "agent_node", 0, 100, **{ASKED: ["x", "y", "z"]}),
        span("tools_node", "graph", 100, 400),
        tool("tx", "tools_node", 100, 200, **{CALL_ID: "x"}),
        tool("ty", "tools_node", 200, 300, **{CALL_ID: "y"}),
        tool("tz", "tools_node", 300, 400, **{CALL_ID: "z"}),
        chat("m2", "graph", 400, 500, **{CARRIED: ["x", "y", "z"]}),
    ]
    _, found = run(records, coordination_overhead_share=1.0)
    (finding,) = of_kind(found, "parallelizable_sequence")
    assert finding.span_ids == ("tx", "ty", "tz")
    assert finding.estimated_savings_ms == 200.0
    assert finding.details["evidence"] == "tool_call_ids"


def test_without_ids_tools_between_two_model_calls_are_one_responses() -> None:
    """No ids (decorated tools): three tools 100-200-300-400 between model calls, the first
    having finished with 'tool_calls'. In an agent loop the tools after such a response were
    asked for by it; saving 200, evidence 'structure'. Had it finished with 'stop', the tools
    are the app's own code: still reported, but hedged."""
    records = [
        agent("assistant", None, 0, 500),
        chat("m1", "assistant", 0, 100, gen_ai__response__finish_reasons=["tool_calls"]),
        tool("t1", "assistant", 100, 200),
        tool("t2", "assistant", 200, 300),
        tool("t3", "assistant", 300, 400),
        chat("m2", "assistant", 400, 500),
    ]
    _, found = run(records, coordination_overhead_share=1.0)
    (finding,) = of_kind(found, "parallelizable_sequence")
    assert finding.span_ids == ("t1", "t2", "t3")
    assert finding.details["evidence"] == "structure"
    assert "one response asked for all of them" in finding.message
    records[1] = chat("m1", "assistant", 0, 100, gen_ai__response__finish_reasons=["stop"])
    _, found = run(records, coordination_overhead_share=1.0)
    (finding,) = of_kind(found, "parallelizable_sequence")
    assert "If they do not depend on each other" in finding.message


def test_a_response_that_asked_for_fewer_tools_than_ran_is_not_credited() -> None:
    """m1 asked for one tool call, yet three decorated tools ran after it: some are the app's
    own code, so the finding is hedged rather than claiming one response asked for them."""
    records = [
        agent("assistant", None, 0, 400),
        chat("m1", "assistant", 0, 100, **{ASKED: ["only"]}),
        tool("t1", "assistant", 100, 200),
        tool("t2", "assistant", 200, 300),
        tool("t3", "assistant", 300, 400),
    ]
    _, found = run(records, coordination_overhead_share=1.0)
    (finding,) = of_kind(found, "parallelizable_sequence")
    assert "If they do not depend on each other" in finding.message


def test_an_id_two_responses_asked_for_is_no_evidence() -> None:
    """m1 asks for a, b, c; m2 reads a's result and asks for b again (a malformed trace: ids
    are unique). tb may have served m2, after ta's result: ta, tb, tc are not one batch."""
    records = [
        agent("assistant", None, 0, 800),
        chat("m1", "assistant", 0, 100, **{ASKED: ["a", "b", "c"]}),
        tool("ta", "assistant", 100, 200, **{CALL_ID: "a"}),
        chat("m2", "assistant", 200, 300, **{ASKED: ["b"], CARRIED: ["a"]}),
        tool("tb", "assistant", 300, 400, **{CALL_ID: "b"}),
        tool("tc", "assistant", 400, 500, **{CALL_ID: "c"}),
    ]
    _, found = run(records, coordination_overhead_share=1.0)
    assert of_kind(found, "parallelizable_sequence") == []


def test_a_tool_whose_result_the_response_read_is_not_in_its_batch() -> None:
    """ta executes call a 0-100; m 100-200 reads a's result and asks for a, b, c and d (the
    property test's falsifying example, made readable). ta ran before m was asked anything:
    it served an earlier request, and m's response depends on it (ta -> m -> tb). The batch
    is tb 200-300, tc 300-400 and td 400-500 alone: saving 300 - 100 = 200."""
    records = [
        agent("assistant", None, 0, 500),
        tool("ta", "assistant", 0, 100, **{CALL_ID: "a"}),
        chat("m", "assistant", 100, 200, **{ASKED: ["a", "b", "c", "d"], CARRIED: ["a"]}),
        tool("tb", "assistant", 200, 300, **{CALL_ID: "b"}),
        tool("tc", "assistant", 300, 400, **{CALL_ID: "c"}),
        tool("td", "assistant", 400, 500, **{CALL_ID: "d"}),
    ]
    _, found = run(records, coordination_overhead_share=1.0)
    (finding,) = of_kind(found, "parallelizable_sequence")
    assert finding.span_ids == ("tb", "tc", "td")
    assert finding.estimated_savings_ms == 200.0
    assert finding.details["evidence"] == "tool_call_ids"


def test_tools_in_a_row_linked_through_another_branch_are_split() -> None:
    """Under 'tools', t1 (call a) 0-100, t2 (call b) 200-300, t3 300-400, t4 400-500 ran in
    a row; no response there asked for them. But in the 'agent' branch, m 100-150 read a's
    result and asked for b (as did m2 150-200, so b's asker is ambiguous and t2 is in no
    batch): t1 -> m -> t2. t1 and t2 are not independent; t2, t3 and t4 remain, saving
    300 - 100 = 200."""
    records = [
        span("graph", None, 0, 500, op=semconv.OP_INVOKE_WORKFLOW),
        span("tools", "graph", 0, 500),
        tool("t1", "tools", 0, 100, **{CALL_ID: "a"}),
        tool("t2", "tools", 200, 300, **{CALL_ID: "b"}),
        tool("t3", "tools", 300, 400),
        tool("t4", "tools", 400, 500),
        span("agent_node", "graph", 100, 200),
        chat("m", "agent_node", 100, 150, **{ASKED: ["b"], CARRIED: ["a"]}),
        chat("m2", "agent_node", 150, 200, **{ASKED: ["b"]}),
    ]
    _, found = run(records, coordination_overhead_share=1.0)
    (finding,) = of_kind(found, "parallelizable_sequence")
    assert finding.span_ids == ("t2", "t3", "t4")
    assert finding.estimated_savings_ms == 200.0


def test_delegations_linked_through_a_tool_result_are_not_parallelizable() -> None:
    """Three 'helper' delegations in a row; the first's tool executes call k and the third's
    model reads k's result, two steps apart: h3 needs h1, so no sequence."""
    records = [
        agent("coord", None, 0, 600),
        agent("h1", "coord", 0, 200, gen_ai__agent__name="helper"),
        tool("h1t", "h1", 0, 100, **{CALL_ID: "k"}),
        agent("h2", "coord", 200, 400, gen_ai__agent__name="helper"),
        agent("h3", "coord", 400, 600, gen_ai__agent__name="helper"),
        chat("h3m", "h3", 400, 500, **{CARRIED: ["k"]}),
    ]
    _, found = run(records)
    assert of_kind(found, "parallelizable_sequence") == []


def test_retried_tool_is_error_retry_only() -> None:
    """fetch fails 0-100 and is retried 100-200 (same name, same parent), then parse 200-300
    and store 300-400. The retry waits for the failure by nature: error_retry, and the three
    other calls in a row... but the failure and its retry are out of any sequence, leaving
    parse and store: too few."""
    records = [
        agent("worker", None, 0, 400),
        tool("f1", "worker", 0, 100, name="execute_tool fetch", error=True),
        tool("f2", "worker", 100, 200, name="execute_tool fetch"),
        tool("p", "worker", 200, 300, name="execute_tool parse"),
        tool("s", "worker", 300, 400, name="execute_tool store"),
    ]
    _, found = run(records, coordination_overhead_share=1.0)
    assert [f.kind for f in found] == ["error_retry"]
    assert found[0].span_ids == ("f1", "f2")


def test_identical_calls_made_concurrently_are_not_wasted() -> None:
    """Three identical requests (fingerprint f) at 0-100, 10-110 and 20-120: in flight
    together, none could reuse another's result: no repeated_call. A fourth at 200-300 could
    have reused the first (ended at 100): one repeat, 100 ms, naming it and the first."""
    concurrent = [
        agent("root", None, 0, 300),
        chat("a", "root", 0, 100, fingerprint="f"),
        chat("b", "root", 10, 110, fingerprint="f"),
        chat("c", "root", 20, 120, fingerprint="f"),
    ]
    _, found = run(concurrent, coordination_overhead_share=1.0)
    assert of_kind(found, "repeated_call") == []
    _, found = run(
        [*concurrent, chat("d", "root", 200, 300, fingerprint="f")],
        coordination_overhead_share=1.0,
    )
    (repeat,) = of_kind(found, "repeated_call")
    assert repeat.span_ids == ("a", "d")
    assert repeat.estimated_savings_ms == 100.0


def test_no_coordination_overhead_without_delegation() -> None:
    """A lone LLM call, and a tool calling tools: nothing was delegated, so no coordinator and
    no overhead, whatever their own time."""
    (lone,) = analyze([span("m", None, 0, 2000, op=semconv.OP_CHAT)])
    assert lone.coordination_overhead_ms == 0.0
    assert of_kind(list(lone.findings), "coordination_overhead") == []
    tools_only = [
        span("gather", None, 0, 1000, op=semconv.OP_EXECUTE_TOOL),
        tool("s1", "gather", 100, 200),
        tool("s2", "gather", 300, 400),
    ]
    (result,) = analyze(tools_only)
    assert result.coordination_overhead_ms == 0.0
    assert of_kind(list(result.findings), "coordination_overhead") == []


def test_an_agent_working_with_its_own_model_is_no_coordinator() -> None:
    """agent 0-1000 makes one model call 100-300 and delegates to no other agent: its own 800 ms
    is its own work, not coordination (the contract counts agents that delegate to agents)."""
    result, found = run([agent("a", None, 0, 1000), chat("m", "a", 100, 300)])
    assert result.coordination_overhead_ms == 0.0
    assert not of_kind(found, "coordination_overhead")


def test_cheap_trace_is_not_a_high_cost_hotspot() -> None:
    """Two calls, $0.0018 and $0.0002: the first carries 90% of a $0.002 trace. By share
    that is high; by its absolute cost (under severity_medium_usd, $0.005) it is low."""
    _, found = run(
        [
            agent("root", None, 0, 100),
            chat("big", "root", 0, 50, cost=0.0018),
            chat("small", "root", 50, 100, cost=0.0002),
        ],
        coordination_overhead_share=1.0,
    )
    (hot,) = of_kind(found, "cost_hotspot")
    assert hot.span_ids == ("big",) and hot.severity == "low"
    _, found = run(
        [
            agent("root", None, 0, 100),
            chat("big", "root", 0, 50, cost=0.18),
            chat("small", "root", 50, 100, cost=0.02),
        ],
        coordination_overhead_share=1.0,
    )
    assert of_kind(found, "cost_hotspot")[0].severity == "high"


def test_same_agent_delegated_in_a_row_and_different_agents_not() -> None:
    """The coordinator delegates 'summariser' three times in a row (0-200, 200-400, 400-600),
    no model call between: a fan-out run one by one, saving 600 - 200 = 400. Three different
    agents in a row (a pipeline handing each output on) are not reported."""
    fan_out = [
        agent("coord", None, 0, 600),
        agent("s1", "coord", 0, 200, gen_ai__agent__name="summariser"),
        agent("s2", "coord", 200, 400, gen_ai__agent__name="summariser"),
        agent("s3", "coord", 400, 600, gen_ai__agent__name="summariser"),
    ]
    _, found = run(fan_out)
    (finding,) = of_kind(found, "parallelizable_sequence")
    assert finding.span_ids == ("s1", "s2", "s3")
    assert finding.estimated_savings_ms == 400.0
    assert finding.details["evidence"] == "structure"
    pipeline = [
        agent("coord", None, 0, 600),
        agent("research", "coord", 0, 200),
        agent("analyse", "coord", 200, 400),
        agent("write", "coord", 400, 600),
    ]
    _, found = run(pipeline)
    assert of_kind(found, "parallelizable_sequence") == []


def test_delegations_linked_by_a_handed_on_conversation_are_not_parallelizable() -> None:
    """Three 'helper' delegations in a row, but the second's model call carries back the
    result of a tool call the first's model asked for (the conversation was handed on)."""
    records = [
        agent("coord", None, 0, 600),
        agent("h1", "coord", 0, 200, gen_ai__agent__name="helper"),
        chat("h1m", "h1", 0, 100, **{ASKED: ["k1"]}),
        agent("h2", "coord", 200, 400, gen_ai__agent__name="helper"),
        chat("h2m", "h2", 200, 300, **{CARRIED: ["k1"]}),
        agent("h3", "coord", 400, 600, gen_ai__agent__name="helper"),
    ]
    _, found = run(records)
    assert of_kind(found, "parallelizable_sequence") == []


@st.composite
def agent_loops(draw: st.DrawFn) -> list[SpanRecord]:
    """Random agents running random loops: model calls that ask for some tool calls (ids or
    not), tools executing them one by one or overlapping, sometimes failing and retried,
    sometimes identical (fingerprints), results carried back or not; nested delegations."""
    records = [agent("root", None, 0, 100_000)]
    clock = 0
    parents = ["root"]
    for counter in range(1, draw(st.integers(1, 12)) + 1):
        parent = draw(st.sampled_from(parents))
        kind = draw(st.sampled_from(["model", "tool", "agent"]))
        start = clock + draw(st.integers(0, 30))
        length = draw(st.integers(0, 200))
        sid = f"s{counter}"
        extra: dict[str, Any] = {}
        if draw(st.booleans()):
            extra["agentspans__request__fingerprint"] = draw(st.sampled_from(["f1", "f2"]))
        if kind == "model":
            if draw(st.booleans()):
                extra[ASKED] = draw(st.lists(st.sampled_from("abcdef"), max_size=4))
            if draw(st.booleans()):
                extra[CARRIED] = draw(st.lists(st.sampled_from("abcdef"), max_size=4))
            records.append(chat(sid, parent, start, start + length, **extra))
        elif kind == "tool":
            if draw(st.booleans()):
                extra[CALL_ID] = draw(st.sampled_from("abcdef"))
            name = draw(st.sampled_from(["execute_tool x", "execute_tool y"]))
            error = draw(st.integers(0, 4)) == 0
            records.append(
                tool(sid, parent, start, start + length, name=name, error=error, **extra)
            )
        else:
            name = draw(st.sampled_from(["helper", "other"]))
            records.append(agent(sid, parent, start, start + length, gen_ai__agent__name=name))
            parents.append(sid)
        if draw(st.booleans()):
            clock = start + length  # the next one starts after this one: sequential
    return records


# Found by this test: m (s6) read a's result yet its response asked for a again; the tool
# that had executed a (s5) was put in m's batch with tb (s8), which needs m, which needs s5.
_RESPONSE_READ_A_TOOLS_RESULT = [
    agent("root", None, 0, 100_000),
    chat("s1", "root", 0, 0),
    tool("s5", "root", 0, 1, name="execute_tool x", **{CALL_ID: "a"}),
    chat("s6", "root", 1, 1, **{ASKED: ["a", "b", "c"], CARRIED: ["a"]}),
    chat("s7", "root", 1, 1),
    tool("s8", "root", 1, 2, name="execute_tool x", error=True, **{CALL_ID: "b"}),
    tool("s9", "root", 1, 1, name="execute_tool x", error=True, **{CALL_ID: "c"}),
]


@settings(max_examples=1000, deadline=None)
@given(agent_loops())
@example(_RESPONSE_READ_A_TOOLS_RESULT)
def test_no_finding_contradicts_the_traces_own_evidence(records: list[SpanRecord]) -> None:
    for result in analyze(records, Thresholds(parallelizable_min_savings_ms=0)):
        assert contradictions(records, result) == []
