"""Held-out style: traces recorded from apps written the way agent frameworks run them, with
the real openai client talking HTTP to the fake provider (tests/llm/servers.py), the real SDK
and the in-process analysis. Every finding each trace gets is listed and justified by hand
below; besides, a finding the trace's own dependency evidence contradicts fails the test
(tests/analysis/_contradictions.py rebuilds the links from the raw attributes).

The apps:
- ``runner``: a framework-style agent loop (as the OpenAI Agents SDK or a LangGraph ReAct
  agent run it): call the model with the tools; execute each tool call it asks for inside a
  tool span that records the call's id (as a framework integration does); send the results
  back; repeat until it answers. ``ids=False`` runs the same tools as plain ``@tool``
  functions, which cannot know the id.
- the model's behaviour comes from the fake provider: ``+toolsN`` asks for N tool calls unless
  the request's last message is a tool result, then answers in text.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from tests.llm.servers import FakeProvider

import agentspans
from agentspans import semconv
from agentspans.analysis import Finding, SpanRecord, TraceAnalysis, analyze
from agentspans.sources.live import record_from_span
from agentspans.testing import CapturedSpans, capture_spans

from ._contradictions import contradictions

openai = pytest.importorskip("openai")

TOOL_SECONDS = {"weather": 0.04, "news": 0.06, "stocks": 0.05}
TOOLS = [
    {
        "type": "function",
        "function": {"name": name, "parameters": {"type": "object", "properties": {}}},
    }
    for name in TOOL_SECONDS
]


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeProvider]:
    server = FakeProvider().start()
    yield server
    server.stop()


@pytest.fixture
def client(provider: FakeProvider) -> Iterator[Any]:
    with openai.OpenAI(base_url=provider.base_url, api_key="sk-test", max_retries=0) as made:
        yield made


@pytest.fixture
def spans() -> Iterator[CapturedSpans]:
    with capture_spans(metrics=False) as captured:
        yield captured


@agentspans.tool(name="weather")
def weather(k: int) -> str:
    time.sleep(TOOL_SECONDS["weather"])
    return f"sunny {k}"


@agentspans.tool(name="news")
def news(k: int) -> str:
    time.sleep(TOOL_SECONDS["news"])
    return f"quiet {k}"


@agentspans.tool(name="stocks")
def stocks(k: int) -> str:
    time.sleep(TOOL_SECONDS["stocks"])
    return f"up {k}"


DECORATED = {"weather": weather, "news": news, "stocks": stocks}


def execute(call: Any, *, ids: bool) -> dict[str, Any]:
    name, arguments = call.function.name, json.loads(call.function.arguments or "{}")
    if ids:
        attributes = {semconv.GEN_AI_TOOL_CALL_ID: call.id}
        with agentspans.tool_span(name, attributes):
            time.sleep(TOOL_SECONDS[name])
            result = f"{name} {arguments}"
    else:
        result = DECORATED[name](**arguments)
    return {"role": "tool", "tool_call_id": call.id, "content": result}


def runner(
    client: Any, model: str, turns: list[str], *, ids: bool = True, parallel: bool = False
) -> None:
    """One agent: for each user turn, loop model -> tools -> model until it answers."""
    with agentspans.agent_span("assistant"):
        messages: list[dict[str, Any]] = []
        for turn in turns:
            messages.append({"role": "user", "content": turn})
            while True:
                response = client.chat.completions.create(
                    model=model, messages=messages, tools=TOOLS
                )
                message = response.choices[0].message
                messages.append(message.model_dump(exclude_none=True))
                if not message.tool_calls:
                    break
                if parallel:
                    with ThreadPoolExecutor(len(message.tool_calls)) as pool:
                        results = list(pool.map(lambda c: execute(c, ids=ids), message.tool_calls))
                else:
                    results = [execute(call, ids=ids) for call in message.tool_calls]
                messages += results


def analysed(spans: CapturedSpans) -> tuple[list[SpanRecord], TraceAnalysis, list[ReadableSpan]]:
    finished = spans.finished()
    records = [record_from_span(s) for s in finished]
    (result,) = analyze(records)
    assert contradictions(records, result) == []
    # The in-process annotator said the same on the exported root.
    (root,) = [s for s in finished if s.parent is None]
    written = list((root.attributes or {}).get(semconv.TRACE_FINDING_KINDS, ()))
    assert written == list(dict.fromkeys(f.kind for f in result.findings))
    return records, result, finished


def kinds(result: TraceAnalysis) -> list[str]:
    return [f.kind for f in result.findings]


def only(result: TraceAnalysis, kind: str) -> Finding:
    (found,) = [f for f in result.findings if f.kind == kind]
    return found


def test_agent_loop_over_two_turns(spans: CapturedSpans, client: Any) -> None:
    """Two user turns, each model (asks for one tool) -> the tool -> model (answers):
    chat, weather, chat, chat, weather, chat in a row under 'assistant', no overlap.

    By hand: every tool needs the model call before it (it asked for that id) and every model
    call after a tool reads its result (the request carries the id): a chain, nothing to run
    concurrently. The old detector said "6 calls ran one after another, run them concurrently".
    No repeats (each request has a longer history), nothing slow, prompt-heavy or costly: the
    trace gets no finding, except coordination_overhead if the loop's own code took over 50 ms
    and 20% of the trace (it does not on an idle machine; then it names 'assistant' alone,
    the one span that delegated)."""
    runner(client, "gpt-4o-mini+tools1", ["weather?", "and later?"])
    records, result, finished = analysed(spans)
    assert len([s for s in finished if s.name.startswith("chat ")]) == 4
    assert "parallelizable_sequence" not in kinds(result)
    assert set(kinds(result)) <= {"coordination_overhead"}
    if result.findings:
        assert only(result, "coordination_overhead").span_ids == (result.root_span_id,)
    # The evidence is on the spans: each tool's id was asked for by the model call before it.
    asked = [r.attributes.get(semconv.RESPONSE_TOOL_CALL_IDS) for r in records]
    assert sum(1 for a in asked if a) == 2


@pytest.mark.parametrize("ids", [True, False], ids=["framework-ids", "decorated-tools"])
def test_three_tool_calls_from_one_response_run_one_by_one(
    spans: CapturedSpans, client: Any, ids: bool
) -> None:
    """The model asks for weather, news and stocks in one response; the runner executes them
    one by one (40 + 60 + 50 ms), then the model answers.

    By hand: one parallelizable_sequence naming the three tools: the model wrote all three
    calls' arguments before any ran, so none needs another's result; running them at once
    takes the longest (news, 60 ms) instead of all three: saving = their covered time minus
    the longest, about 90 ms. Evidence: the ids when the tool spans carry them; without ids,
    the structure (three tools between two model calls of one agent). Nothing else, bar
    coordination_overhead under load as above."""
    runner(client, "gpt-4o-mini+tools3", ["what's up?"], ids=ids)
    _, result, finished = analysed(spans)
    tools = sorted(
        (s for s in finished if s.name.startswith("execute_tool ")),
        key=lambda s: s.start_time or 0,
    )
    assert [s.name for s in tools] == [f"execute_tool {n}" for n in TOOL_SECONDS]
    finding = only(result, "parallelizable_sequence")
    assert set(kinds(result)) <= {"parallelizable_sequence", "coordination_overhead"}
    assert finding.span_ids == tuple(f"{s.context.span_id:016x}" for s in tools if s.context)
    durations = [((s.end_time or 0) - (s.start_time or 0)) / 1e6 for s in tools]
    covered = ((tools[-1].end_time or 0) - (tools[0].start_time or 0)) / 1e6
    gaps = covered - sum(durations)  # the runner's own code between the tools
    assert finding.estimated_savings_ms == pytest.approx(covered - gaps - max(durations), abs=0.01)
    assert finding.estimated_savings_ms >= 80  # 150 ms of sleeps, the longest 60 ms
    assert finding.details["evidence"] == ("tool_call_ids" if ids else "structure")
    # The exported tool spans carry it on their finding event.
    events = [dict(e.attributes or {}) for s in tools for e in s.events]
    assert {e.get(semconv.FINDING_EVENT_EVIDENCE) for e in events} == {finding.details["evidence"]}
    for name in TOOL_SECONDS:
        assert name in finding.message


def test_tool_calls_run_concurrently_are_not_flagged(spans: CapturedSpans, client: Any) -> None:
    """The same three calls run in a thread pool: they overlap, so they already ran in
    parallel. By hand: no parallelizable_sequence, no finding (bar coordination, as above)."""
    runner(client, "gpt-4o-mini+tools3", ["what's up?"], parallel=True)
    _, result, _ = analysed(spans)
    assert set(kinds(result)) <= {"coordination_overhead"}


def test_lone_llm_call_gets_no_coordination_overhead(spans: CapturedSpans, client: Any) -> None:
    """One chat call, the trace's only span. By hand: nothing was delegated, so no
    coordination overhead (the old rule reported it HIGH: "100% of the trace"); no other
    finding either (one call cannot be a cost hot spot among others)."""
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    _, result, _ = analysed(spans)
    assert result.coordination_overhead_ms == 0.0
    assert result.findings == ()
