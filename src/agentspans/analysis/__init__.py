"""The analysis core: pure functions over the neutral span model (no OpenTelemetry imports).

Live ``ReadableSpan``s, OTLP/JSON files and Jaeger's API are all read into :class:`SpanRecord`
by ``agentspans.sources``, and :func:`analyze` turns them into one :class:`TraceAnalysis` per
root, so the in-process processor, ``agentspans report`` and ``agentspans analyze --jaeger``
agree exactly. docs/analysis.md describes the rules.
"""

from __future__ import annotations

from agentspans.analysis.engine import analyze
from agentspans.analysis.model import (
    AgentSummary,
    Finding,
    Rollup,
    Segment,
    SpanEvent,
    SpanRecord,
    Totals,
    TraceAnalysis,
)
from agentspans.analysis.thresholds import Thresholds

__all__ = [
    "AgentSummary",
    "Finding",
    "Rollup",
    "Segment",
    "SpanEvent",
    "SpanRecord",
    "Thresholds",
    "Totals",
    "TraceAnalysis",
    "analyze",
]
