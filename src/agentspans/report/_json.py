"""The JSON document of ``agentspans report --format json``, exactly as ARCHITECTURE.md fixes it.

Only the contract's keys are written, so tools that check the shape strictly keep working; input
problems go to stderr, not into the document.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from agentspans.analysis.model import TraceAnalysis

__all__ = ["analysis_to_dict", "render_json"]


def analysis_to_dict(analysis: TraceAnalysis) -> dict[str, Any]:
    """One entry of the document's ``traces`` list."""
    totals = analysis.totals
    return {
        "trace_id": analysis.trace_id,
        "root_span_id": analysis.root_span_id,
        "duration_ms": float(analysis.duration_ms),
        "critical_path": [
            {
                "span_id": segment.span_id,
                "name": segment.name,
                "start_ms": float(segment.start_ms),
                "end_ms": float(segment.end_ms),
            }
            for segment in analysis.critical_path
        ],
        "coordination_overhead_ms": float(analysis.coordination_overhead_ms),
        "totals": {
            "input_tokens": int(totals.input_tokens),
            "output_tokens": int(totals.output_tokens),
            "cost_usd": float(totals.cost_usd),
            "llm_calls": int(totals.llm_calls),
            "tool_calls": int(totals.tool_calls),
        },
        "agents": [
            {
                "name": agent.name,
                "calls": int(agent.calls),
                "duration_ms": float(agent.duration_ms),
                "input_tokens": int(agent.input_tokens),
                "output_tokens": int(agent.output_tokens),
                "cost_usd": float(agent.cost_usd),
            }
            for agent in analysis.agents
        ],
        "findings": [
            {
                "kind": finding.kind,
                "severity": finding.severity,
                "span_ids": list(finding.span_ids),
                "estimated_savings_ms": float(finding.estimated_savings_ms),
                "message": finding.message,
            }
            for finding in analysis.findings
        ],
    }


def render_json(analyses: Sequence[TraceAnalysis], *, indent: int | None = 2) -> str:
    """``{"traces": [...]}`` for ``analyses``, in their order, as a JSON string."""
    document = {"traces": [analysis_to_dict(analysis) for analysis in analyses]}
    return json.dumps(document, indent=indent, ensure_ascii=False)
