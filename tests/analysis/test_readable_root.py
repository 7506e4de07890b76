"""What a person reads on the root span in Jaeger: a summary line, the path in order, and every
finding as an event on the root too (processors/readable.py)."""

from __future__ import annotations

import time
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

import agentspans
from agentspans import semconv
from agentspans.testing import CapturedSpans


@agentspans.tool
def fetch(key: str) -> str:
    time.sleep(0.02)
    return key


@agentspans.agent(name="researcher")
def researcher() -> list[str]:
    return [fetch("a"), fetch("b"), fetch("a")]  # the same call twice, and a serial sequence


@agentspans.agent(name="lead")
def lead() -> list[str]:
    return researcher()


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def findings_on(span: ReadableSpan) -> list[dict[str, Any]]:
    return [dict(e.attributes or {}) for e in span.events if e.name == semconv.FINDING_EVENT]


def test_root_reads_as_one_line_and_carries_every_finding(spans: CapturedSpans) -> None:
    lead()
    finished = spans.finished()
    (root,) = spans.roots()
    root_attrs = attrs(root)
    kinds = set(root_attrs[semconv.TRACE_FINDING_KINDS])
    assert kinds, "the workload must produce findings"

    summary = root_attrs[semconv.SUMMARY]
    assert isinstance(summary, str) and "\n" not in summary and len(summary) < 700
    assert "0 LLM calls, 3 tool calls" in summary
    assert "critical path: " in summary and "execute_tool fetch" in summary
    for kind in kinds:
        assert kind in summary
    count = root_attrs[semconv.TRACE_FINDINGS_COUNT]
    assert f"| {count} finding{'s' if count != 1 else ''} (save up to " in summary

    # The path in order: strings, not JSON objects, starting at the root's start.
    steps = root_attrs[semconv.CRITICAL_PATH_STEPS]
    assert isinstance(steps, (list, tuple)) and all(isinstance(s, str) for s in steps)
    assert steps[0].startswith("+0")
    assert sum("execute_tool fetch" in s for s in steps) == 3

    # Every finding is on the root: its own event, or a copy marked as one.
    on_root = findings_on(root)
    assert {e[semconv.FINDING_EVENT_KIND] for e in on_root} == kinds
    root_id = f"{root.context.span_id:016x}"
    for event in on_root:
        is_copy = bool(event.get(semconv.FINDING_EVENT_ROOT_COPY))
        assert is_copy == (root_id not in event[semconv.FINDING_EVENT_SPAN_IDS])
    # The spans a finding concerns keep their own (uncopied) events.
    fetches = [s for s in finished if s.name == "execute_tool fetch"]
    assert all(not e.get(semconv.FINDING_EVENT_ROOT_COPY) for s in fetches for e in findings_on(s))
    assert any(findings_on(s) for s in fetches)
