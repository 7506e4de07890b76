"""The neutral span model every analysis runs on, and the shape of its result.

No OpenTelemetry imports: live ``ReadableSpan``s, OTLP/JSON files and Jaeger's API are all read
into :class:`SpanRecord` by ``agentspans.sources``, and the same pure functions analyse them, so
the in-process processor, ``agentspans report`` and ``agentspans analyze --jaeger`` agree exactly.

Ids are lowercase hex strings (32 digits for traces, 16 for spans), times are integer Unix
nanoseconds, attribute values are what OpenTelemetry allows (str, bool, int, float, or a
sequence of one of them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple


@dataclass(frozen=True, slots=True)
class SpanEvent:
    name: str
    time_ns: int
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SpanRecord:
    """One span, whatever it was read from."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start_ns: int
    end_ns: int
    attributes: Mapping[str, Any] = field(default_factory=dict)
    # True when the span's status is ERROR.
    error: bool = False
    # The resource's service.name, when the source knows it.
    service: str | None = None
    events: Sequence[SpanEvent] = ()
    # The parent is in another process (a remote parent): the span is a local root.
    parent_is_remote: bool = False

    @property
    def duration_ns(self) -> int:
        return max(self.end_ns - self.start_ns, 0)


class Segment(NamedTuple):
    """A stretch of the critical path: ``span_id`` was doing its own work from start to end.

    Times are milliseconds from the root's start. A named tuple rather than a frozen dataclass:
    a long chain's path has two segments per span, and a tuple is built in a fifth of the time.
    """

    span_id: str
    name: str
    start_ms: float
    end_ms: float


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    severity: str  # "high" | "medium" | "low"
    span_ids: tuple[str, ...]
    estimated_savings_ms: float
    message: str
    # Extra facts a renderer or an event may show (tokens wasted, cost, ratio, ...).
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AgentSummary:
    name: str
    calls: int
    duration_ms: float
    input_tokens: int
    output_tokens: int
    cost_usd: float
    own_ms: float = 0.0
    vram_peak_bytes: int | None = None
    llm_calls: int = 0
    tool_calls: int = 0


@dataclass(frozen=True, slots=True)
class Totals:
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    llm_calls: int = 0
    tool_calls: int = 0
    # How many of the LLM calls carried a cost: with none, ``cost_usd`` is 0.0 by absence of
    # data, not a measured zero, and renderers should say "unknown".
    priced_calls: int = 0


@dataclass(frozen=True, slots=True)
class Rollup:
    """The totals of one span's subtree (itself included), each LLM call counted once."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    llm_calls: int = 0
    tool_calls: int = 0
    priced_calls: int = 0
    # The highest ``agentspans.gpu.memory.peak_bytes`` in the subtree; None without VRAM data.
    vram_peak_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class TraceAnalysis:
    """What the analysis found in one trace (or one local root's subtree)."""

    trace_id: str
    root_span_id: str
    duration_ms: float
    critical_path: tuple[Segment, ...]
    coordination_overhead_ms: float
    totals: Totals
    agents: tuple[AgentSummary, ...]
    findings: tuple[Finding, ...]
    # Messages about the input (missing parents, several roots, ...), for the report to show.
    problems: tuple[str, ...] = ()
    # Each span's own time on the critical path in ms, for the spans that have any.
    path_self_ms: Mapping[str, float] = field(default_factory=dict)
    # Subtree totals of the root and of every invoke_agent span, by span id.
    rollups: Mapping[str, Rollup] = field(default_factory=dict)
    # Every span this analysis covers (the root's tree), in depth-first order from the root.
    span_ids: tuple[str, ...] = ()
