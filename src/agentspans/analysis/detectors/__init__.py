"""The bottleneck detectors. Each takes a :class:`TraceView` and returns its findings; docs in
each module say what it looks for, with which thresholds, and what it claims to save."""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter

from agentspans.analysis.detectors import calls, repeats, sequences, shares
from agentspans.analysis.detectors._view import TraceView
from agentspans.analysis.model import Finding

__all__ = ["DETECTORS", "TraceView", "find"]

DETECTORS: tuple[Callable[[TraceView], list[Finding]], ...] = (
    sequences.detect,
    repeats.detect_repeats,
    repeats.detect_retries,
    shares.detect_coordination,
    calls.detect_prompt_heavy,
    calls.detect_slow_llm,
    calls.detect_slow_tools,
    shares.detect_cost,
    shares.detect_vram,
)


def find(view: TraceView) -> tuple[Finding, ...]:
    """Every detector's findings, largest estimated saving first, then by kind and spans."""
    return ordered([finding for detector in DETECTORS for finding in detector(view)])


def ordered(found: list[Finding]) -> tuple[Finding, ...]:
    """``found`` by (-saving, kind, span ids), in three stable sorts, last key first: C key
    functions and plain comparisons instead of a tuple made and compared per finding (a busy
    trace has hundreds of findings, most tied on their saving and kind). Descending by
    reverse=True keeps ties in order, as ascending by the negated saving did."""
    found.sort(key=_span_ids)
    found.sort(key=_kind)
    found.sort(key=_saving, reverse=True)
    return tuple(found)


_span_ids = attrgetter("span_ids")
_kind = attrgetter("kind")
_saving = attrgetter("estimated_savings_ms")
