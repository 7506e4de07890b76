"""The analysis written onto real spans by the in-process processor, from decorated code."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan

import agentspans
from agentspans import semconv
from agentspans.analysis import analyze
from agentspans.sources.live import record_from_span
from agentspans.testing import CapturedSpans, capture_spans


@agentspans.tool
def lookup(key: str) -> str:
    time.sleep(0.03)
    return key


@agentspans.tool
def flaky(attempt: int) -> str:
    time.sleep(0.005)
    if attempt == 0:
        raise RuntimeError("try again")
    return "ok"


@agentspans.agent(name="researcher")
def researcher() -> list[str]:
    return [lookup("a"), lookup("b"), lookup("a")]


@agentspans.agent(name="coordinator")
def coordinator() -> str:
    researcher()
    for attempt in range(2):
        try:
            return flaky(attempt)
        except RuntimeError:
            continue
    return "gave up"


def by_name(spans: list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return sorted((s for s in spans if s.name == name), key=lambda s: s.start_time or 0)


def hex_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"{span.context.span_id:016x}"


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def test_analysis_is_written_onto_the_exported_spans(spans: CapturedSpans) -> None:
    coordinator()
    finished = spans.finished()
    (root,) = spans.roots()
    root_attrs = attrs(root)
    duration = ((root.end_time or 0) - (root.start_time or 0)) / 1e6
    assert root_attrs[semconv.TRACE_DURATION_MS] == round(duration, 6)

    # Own time on the path adds up to the root's duration, and the lookups are all on it.
    on_path = [s for s in finished if attrs(s).get(semconv.CRITICAL_PATH_ON_PATH) is True]
    total = sum(float(attrs(s)[semconv.CRITICAL_PATH_SELF_MS]) for s in on_path)
    assert total == pytest.approx(duration, abs=1e-4)
    lookups = by_name(finished, "execute_tool lookup")
    assert all(attrs(s)[semconv.CRITICAL_PATH_ON_PATH] is True for s in lookups)
    composition = json.loads(str(root_attrs[semconv.CRITICAL_PATH_COMPOSITION]))
    assert {c["span_id"] for c in composition} == {hex_id(s) for s in on_path}

    # Totals and rollups: 3 lookups under researcher, 2 flaky calls under the coordinator.
    assert root_attrs[semconv.TRACE_TOTAL_TOOL_CALLS] == 5
    assert root_attrs[semconv.TRACE_TOTAL_LLM_CALLS] == 0
    assert root_attrs[semconv.ROLLUP_TOOL_CALLS] == 5
    (research,) = by_name(finished, "invoke_agent researcher")
    assert attrs(research)[semconv.ROLLUP_TOOL_CALLS] == 3
    assert semconv.ROLLUP_COST_USD not in attrs(research)  # nothing priced: absent, not 0
    assert semconv.TRACE_TOTAL_COST_USD not in root_attrs

    # Findings: the three sequential lookups, the repeated lookup("a"), the failed flaky call.
    kinds = set(root_attrs[semconv.TRACE_FINDING_KINDS])
    assert {"parallelizable_sequence", "repeated_call", "error_retry"} <= kinds
    assert root_attrs[semconv.TRACE_FINDINGS_COUNT] >= 3
    flakies = by_name(finished, "execute_tool flaky")
    for span in flakies:
        assert "error_retry" in attrs(span)[semconv.FINDING_KIND].split(",")
        (event,) = [
            e
            for e in span.events
            if e.name == semconv.FINDING_EVENT
            and (e.attributes or {})[semconv.FINDING_EVENT_KIND] == "error_retry"
        ]
        event_attrs: dict[str, Any] = dict(event.attributes or {})
        assert list(event_attrs[semconv.FINDING_EVENT_SPAN_IDS]) == [hex_id(s) for s in flakies]
        assert event_attrs[semconv.FINDING_EVENT_SEVERITY] in {"high", "medium", "low"}
        assert float(event_attrs[semconv.FINDING_EVENT_SAVINGS_MS]) > 0
        assert "retried" in str(event_attrs[semconv.FINDING_EVENT_MESSAGE])
    repeated_a = [lookups[0], lookups[2]]
    for span in repeated_a:
        assert "repeated_call" in attrs(span)[semconv.FINDING_KIND].split(",")
    assert "repeated_call" not in attrs(lookups[1])[semconv.FINDING_KIND].split(",")

    # The user's exception still reached the user and is on the span.
    assert not flakies[0].status.is_ok


def test_reanalysing_the_exported_spans_gives_what_was_written(spans: CapturedSpans) -> None:
    """What the processor wrote equals an offline analysis of the very spans exported."""
    coordinator()
    finished = spans.finished()
    (root,) = spans.roots()
    (result,) = analyze([record_from_span(s) for s in finished])
    root_attrs = attrs(root)
    assert result.duration_ms == pytest.approx(root_attrs[semconv.TRACE_DURATION_MS], abs=1e-6)
    assert result.coordination_overhead_ms == pytest.approx(
        root_attrs[semconv.COORDINATION_OVERHEAD_MS], abs=1e-6
    )
    assert len(result.findings) == root_attrs[semconv.TRACE_FINDINGS_COUNT]
    assert list(dict.fromkeys(f.kind for f in result.findings)) == list(
        root_attrs[semconv.TRACE_FINDING_KINDS]
    )
    for span in finished:
        span_id = hex_id(span)
        written = attrs(span).get(semconv.CRITICAL_PATH_SELF_MS)
        if span_id in result.path_self_ms:
            assert written == round(result.path_self_ms[span_id], 6)
        else:
            assert written is None


def test_a_trace_with_nothing_to_find_says_zero() -> None:
    with capture_spans() as captured, agentspans.agent_span("solo"):
        pass
    (root,) = captured.roots()
    assert attrs(root)[semconv.TRACE_FINDINGS_COUNT] == 0
    assert semconv.TRACE_FINDING_KINDS not in attrs(root)


def test_thresholds_from_instrument_reach_the_detectors() -> None:
    with capture_spans(thresholds={"parallelizable_min_calls": 4}) as captured:
        researcher()
    (root,) = captured.roots()
    assert "parallelizable_sequence" not in list(attrs(root).get(semconv.TRACE_FINDING_KINDS, ()))
