"""The in-process annotator and ``agentspans report`` on the same spans agree exactly."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from agentspans import semconv
from agentspans.analysis import analyze
from agentspans.sources.otlp_json import read_files
from agentspans.testing import capture_spans

from ._workflows import coordinator_workflow
from .test_cli import agentspans_cli


def _hex(span_id: int) -> str:
    return f"{span_id:016x}"


def test_in_process_annotations_equal_the_offline_report(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    with capture_spans(exporter="file", file_path=str(path)) as spans:
        coordinator_workflow()
        live = spans.finished()
    (root,) = [span for span in live if span.parent is None]
    assert root.context is not None
    root_attrs = root.attributes or {}

    done = agentspans_cli("report", "--format", "json", str(path))
    assert done.returncode == 0, done.stderr
    (trace,) = json.loads(done.stdout)["traces"]
    (offline,) = analyze(read_files([path]).records)

    assert trace["trace_id"] == f"{root.context.trace_id:032x}"
    assert trace["root_span_id"] == _hex(root.context.span_id)
    # The annotator rounds to the nanosecond (6 decimals of a millisecond).
    assert root_attrs[semconv.TRACE_DURATION_MS] == round(trace["duration_ms"], 6)
    assert root_attrs[semconv.COORDINATION_OVERHEAD_MS] == round(
        trace["coordination_overhead_ms"], 6
    )
    assert trace["coordination_overhead_ms"] >= 80.0  # the coordinator idled 80 ms
    totals = trace["totals"]
    assert root_attrs[semconv.TRACE_TOTAL_INPUT_TOKENS] == totals["input_tokens"]
    assert root_attrs[semconv.TRACE_TOTAL_OUTPUT_TOKENS] == totals["output_tokens"]
    assert root_attrs[semconv.TRACE_TOTAL_LLM_CALLS] == totals["llm_calls"]
    assert root_attrs[semconv.TRACE_TOTAL_TOOL_CALLS] == totals["tool_calls"] == 6

    # Every span's own time on the critical path: same spans, same times.
    live_self = {
        _hex(span.context.span_id): (span.attributes or {})[semconv.CRITICAL_PATH_SELF_MS]
        for span in live
        if span.context is not None and semconv.CRITICAL_PATH_SELF_MS in (span.attributes or {})
    }
    report_self: dict[str, float] = defaultdict(float)
    for segment in trace["critical_path"]:
        report_self[segment["span_id"]] += segment["end_ms"] - segment["start_ms"]
    assert set(live_self) == set(report_self)
    assert live_self == {span_id: round(ms, 6) for span_id, ms in offline.path_self_ms.items()}
    for span_id, ms in report_self.items():
        assert live_self[span_id] == pytest.approx(ms, abs=1e-6)
    # The segments tile the root's window.
    assert trace["critical_path"][0]["start_ms"] == 0.0
    assert trace["critical_path"][-1]["end_ms"] == trace["duration_ms"]

    # Findings: the events the annotator put on spans are the report's findings.
    live_findings = {
        (
            attrs[semconv.FINDING_EVENT_KIND],
            attrs[semconv.FINDING_EVENT_SEVERITY],
            tuple(attrs[semconv.FINDING_EVENT_SPAN_IDS]),
            attrs[semconv.FINDING_EVENT_SAVINGS_MS],
            attrs[semconv.FINDING_EVENT_MESSAGE],
        )
        for span in live
        for event in span.events
        if event.name == semconv.FINDING_EVENT
        for attrs in [event.attributes or {}]
    }
    report_findings = {
        (
            f["kind"],
            f["severity"],
            tuple(f["span_ids"]),
            round(f["estimated_savings_ms"], 6),
            f["message"],
        )
        for f in trace["findings"]
    }
    assert live_findings == report_findings
    assert len(report_findings) == len(trace["findings"])
    kinds = {f["kind"] for f in trace["findings"]}
    assert {"parallelizable_sequence", "repeated_call", "coordination_overhead"} <= kinds
    assert list(root_attrs[semconv.TRACE_FINDING_KINDS]) == list(
        dict.fromkeys(f["kind"] for f in trace["findings"])
    )
