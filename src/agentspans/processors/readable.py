"""The analysis as a person reads it in a trace UI such as Jaeger.

The structured attributes (processors/analysis.py) are for machines and tag searches; Jaeger
shows a JSON string as a row of collapsed ``{...}`` nodes and puts each finding's event on the
spans it concerns, so the answer is scattered. This module adds, on the root span:

- ``agentspans.summary``: one line with the duration, the totals, the critical path's largest
  stretches and the top findings with their savings;
- ``agentspans.critical_path.steps``: the critical path in order, one string per stretch;
- a copy of every finding's event that does not already sit on the root, marked
  ``agentspans.finding.root_copy`` so that counters can skip it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from opentelemetry.util.types import AttributeValue

from agentspans import semconv
from agentspans.analysis import Finding, TraceAnalysis
from agentspans.processors.pipeline import EventSpec, Extra
from agentspans.readable import steps, summary


def readable_root(
    analysis: TraceAnalysis,
    finding_events: Sequence[tuple[Finding, Mapping[str, AttributeValue]]],
) -> tuple[Extra, list[EventSpec]]:
    """The root's readable attributes, and the finding events it should carry as copies.

    ``finding_events`` pairs each finding with the attributes of the event on its spans.
    """
    attrs: Extra = {
        semconv.SUMMARY: summary(analysis),
        semconv.CRITICAL_PATH_STEPS: steps(analysis),
    }
    events: list[EventSpec] = [
        (semconv.FINDING_EVENT, {**event, semconv.FINDING_EVENT_ROOT_COPY: True})
        for finding, event in finding_events
        if analysis.root_span_id not in finding.span_ids
    ]
    return attrs, events
