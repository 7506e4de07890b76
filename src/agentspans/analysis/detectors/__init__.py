"""The bottleneck detectors. Each takes a :class:`TraceView` and returns its findings; docs in
each module say what it looks for, with which thresholds, and what it claims to save."""

from __future__ import annotations

from collections.abc import Callable

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
    found = [finding for detector in DETECTORS for finding in detector(view)]
    found.sort(key=lambda f: (-f.estimated_savings_ms, f.kind, f.span_ids))
    return tuple(found)
