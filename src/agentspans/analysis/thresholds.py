"""Every detector threshold, with its default, in one frozen dataclass.

``instrument(thresholds={...})`` and ``agentspans report --threshold name=value`` both go
through :meth:`Thresholds.from_mapping`, so a wrong name or value fails the same way in both.
docs/analysis.md explains each threshold.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Thresholds that are shares of something: they must lie in [0, 1].
_SHARES = frozenset(
    {
        "coordination_overhead_share",
        "prompt_heavy_context_share",
        "cost_hotspot_share",
        "vram_pressure_utilization",
        "vram_pressure_high_utilization",
        "severity_high_share",
        "severity_medium_share",
    }
)


# Counts of calls that must be at least 1 to mean anything.
_AT_LEAST_ONE = frozenset({"parallelizable_min_calls"})


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When each detector speaks up. Durations in milliseconds, shares in [0, 1]."""

    # parallelizable_sequence: this many sibling tool/LLM calls in a row with no overlap...
    parallelizable_min_calls: int = 3
    # ...that would save at least this much if run concurrently.
    parallelizable_min_savings_ms: float = 50.0
    # repeated_call: the same request fingerprint at least this many times in one trace.
    repeated_call_min_count: int = 2
    # coordination_overhead: coordinators' own time above this share of the root's duration...
    coordination_overhead_share: float = 0.2
    # ...and at least this long.
    coordination_overhead_min_ms: float = 50.0
    # prompt_heavy: input tokens at least this many times the output tokens...
    prompt_heavy_ratio: float = 20.0
    # ...in a call with at least this many input tokens (short prompts are never "heavy")...
    prompt_heavy_min_input_tokens: int = 2000
    # ...or input tokens above this share of the model's context window.
    prompt_heavy_context_share: float = 0.8
    # slow_llm_call: an LLM call longer than this...
    slow_llm_call_ms: float = 30_000.0
    # ...or producing fewer output tokens per second than this...
    slow_llm_tokens_per_s: float = 10.0
    # ...judged only on calls with at least this many output tokens.
    slow_llm_min_output_tokens: int = 50
    # slow_tool_call: a tool call longer than this.
    slow_tool_call_ms: float = 10_000.0
    # cost_hotspot: one call or one agent carrying at least this share of the trace's cost...
    cost_hotspot_share: float = 0.5
    # ...in a trace that cost at least this much.
    cost_hotspot_min_cost_usd: float = 0.0
    # vram_pressure: peak GPU memory use above this share of the device's memory...
    vram_pressure_utilization: float = 0.9
    # ...is "high" severity from this share on.
    vram_pressure_high_utilization: float = 0.98
    # error_retry: the retry starts at most this long after the failed call ended.
    error_retry_max_gap_ms: float = 60_000.0
    # Severity of time and cost findings: the estimated saving (or cost) as a share of the
    # trace's duration (or cost): "high" from this share, "medium" from the next, else "low".
    severity_high_share: float = 0.25
    severity_medium_share: float = 0.05
    # ...and no higher than its absolute size allows: a time finding is "high" only when it
    # saves at least severity_high_ms, "medium" from severity_medium_ms...
    severity_high_ms: float = 1000.0
    severity_medium_ms: float = 100.0
    # ...and a cost finding only when the cost concerned is at least this much.
    severity_high_usd: float = 0.05
    severity_medium_usd: float = 0.005

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> Thresholds:
        """Defaults overridden by ``mapping``; ``ValueError`` naming a bad key or value.

        Values may be numbers or numeric strings (as the command line gives them).
        """
        if not mapping:
            return cls()
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, raw in mapping.items():
            field = fields.get(key)
            if field is None:
                raise ValueError(
                    f"unknown threshold {key!r}; accepted names: {', '.join(sorted(fields))}"
                )
            values[key] = _parse(key, raw, integer=field.type in (int, "int"))
        return cls(**values)

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in self.names()}


def _parse(key: str, raw: Any, *, integer: bool) -> float:
    kind = "a whole number" if integer else "a number"
    if isinstance(raw, bool):
        raise ValueError(f"threshold {key}={raw!r}: expected {kind}")
    try:
        value = float(raw.strip()) if isinstance(raw, str) else float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"threshold {key}={raw!r}: expected {kind}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"threshold {key}={raw!r}: expected a finite {kind} >= 0")
    if key in _AT_LEAST_ONE and value < 1:
        raise ValueError(f"threshold {key}={raw!r}: expected {kind} >= 1 (a sequence has a call)")
    if key in _SHARES and value > 1:
        raise ValueError(f"threshold {key}={raw!r}: expected a share between 0 and 1")
    if integer:
        if value != int(value):
            raise ValueError(f"threshold {key}={raw!r}: expected {kind}")
        return int(value)
    return value
