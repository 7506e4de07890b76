"""A finding over many spans stays small on each of them: the event lists at most 32 ids."""

from __future__ import annotations

import time

import agentspans
from agentspans import semconv
from agentspans.processors.analysis import MAX_EVENT_SPAN_IDS
from agentspans.testing import CapturedSpans


def test_a_long_sequence_lists_the_first_ids_and_counts_them_all(spans: CapturedSpans) -> None:
    @agentspans.tool
    def step(i: int) -> int:
        time.sleep(0.002)
        return i

    calls = MAX_EVENT_SPAN_IDS + 8
    with agentspans.agent_span("batch"):
        for i in range(calls):
            step(i)

    tools = sorted(spans.named("execute_tool step"), key=lambda s: s.start_time or 0)
    assert len(tools) == calls
    in_order = [format(s.context.span_id, "016x") for s in tools if s.context is not None]
    for span in tools:
        (event,) = [
            e
            for e in span.events
            if e.name == semconv.FINDING_EVENT
            and e.attributes
            and e.attributes[semconv.FINDING_EVENT_KIND] == "parallelizable_sequence"
        ]
        assert event.attributes is not None
        assert (
            list(event.attributes[semconv.FINDING_EVENT_SPAN_IDS]) == in_order[:MAX_EVENT_SPAN_IDS]
        )
        assert event.attributes[semconv.FINDING_EVENT_SPAN_COUNT] == calls
