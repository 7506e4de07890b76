"""The in-process annotator and ``agentspans report`` on the same spans agree exactly."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan

from agentspans import semconv
from agentspans.analysis import analyze
from agentspans.sources.otlp_json import read_files
from agentspans.testing import capture_spans

from ._workflows import coordinator_workflow, search
from .test_cli import agentspans_cli


def _hex(span_id: int) -> str:
    return f"{span_id:016x}"


def _llm_workflow(base_url: str) -> None:
    """Agents calling a real openai client over HTTP (the demo's simulator), one prompt twice."""
    from openai import OpenAI

    import agentspans

    client = OpenAI(base_url=base_url, api_key="sim", max_retries=0)

    @agentspans.agent(name="analyst")
    def analyst() -> None:
        for _ in range(2):  # the same request twice: a repeated call that wasted tokens and cost
            client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "Summarise Acme's quarter."}],
                max_tokens=40,
            )
        search("acme filings")

    with agentspans.agent_span("coordinator"):
        analyst()
        stream = client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "Write the report."}],
            max_tokens=60,
            stream=True,
            stream_options={"include_usage": True},
        )
        for _ in stream:
            pass


def test_in_process_annotations_equal_the_offline_report(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    with capture_spans(exporter="file", file_path=str(path)) as spans:
        coordinator_workflow()
        live = spans.finished()
    _assert_agreement(live, path)
    assert {f["kind"] for f in _report(path)["findings"]} >= {
        "parallelizable_sequence",
        "repeated_call",
        "coordination_overhead",
    }


def test_agreement_with_llm_calls_tokens_and_cost(tmp_path: Path) -> None:
    from agentspans.demo.simulator import LLMSimulator

    path = tmp_path / "traces.jsonl"
    with LLMSimulator(seed=3, speed=20.0) as simulator:
        with capture_spans(exporter="file", file_path=str(path)) as spans:
            _llm_workflow(simulator.base_url)
            live = spans.finished()
    trace = _assert_agreement(live, path)
    assert trace["totals"]["llm_calls"] == 3
    assert trace["totals"]["input_tokens"] > 0 and trace["totals"]["cost_usd"] > 0
    assert "repeated_call" in {f["kind"] for f in trace["findings"]}
    (analyst,) = [agent for agent in trace["agents"] if agent["name"] == "analyst"]
    (analyst_span,) = [span for span in live if span.name == "invoke_agent analyst"]
    attrs = analyst_span.attributes or {}
    assert attrs[semconv.ROLLUP_INPUT_TOKENS] == analyst["input_tokens"]
    assert attrs[semconv.ROLLUP_OUTPUT_TOKENS] == analyst["output_tokens"]
    assert attrs[semconv.ROLLUP_COST_USD] == round(analyst["cost_usd"], 10)


def _report(path: Path) -> dict[str, Any]:
    done = agentspans_cli("report", "--format", "json", str(path))
    assert done.returncode == 0, done.stderr
    (trace,) = json.loads(done.stdout)["traces"]
    return dict(trace)


def _assert_agreement(live: Sequence[ReadableSpan], path: Path) -> dict[str, Any]:
    """What the annotator wrote on ``live`` equals ``agentspans report`` on ``path``."""
    (root,) = [span for span in live if span.parent is None]
    assert root.context is not None
    root_attrs = root.attributes or {}

    trace = _report(path)
    (offline,) = analyze(read_files([path]).records)

    assert trace["trace_id"] == f"{root.context.trace_id:032x}"
    assert trace["root_span_id"] == _hex(root.context.span_id)
    # The annotator rounds to the nanosecond (6 decimals of a millisecond).
    assert root_attrs[semconv.TRACE_DURATION_MS] == round(trace["duration_ms"], 6)
    assert root_attrs[semconv.COORDINATION_OVERHEAD_MS] == round(
        trace["coordination_overhead_ms"], 6
    )
    totals = trace["totals"]
    assert root_attrs[semconv.TRACE_TOTAL_INPUT_TOKENS] == totals["input_tokens"]
    assert root_attrs[semconv.TRACE_TOTAL_OUTPUT_TOKENS] == totals["output_tokens"]
    assert root_attrs[semconv.TRACE_TOTAL_LLM_CALLS] == totals["llm_calls"]
    assert root_attrs[semconv.TRACE_TOTAL_TOOL_CALLS] == totals["tool_calls"]
    if totals["llm_calls"]:
        assert root_attrs[semconv.TRACE_TOTAL_COST_USD] == round(totals["cost_usd"], 10)

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
    assert list(root_attrs[semconv.TRACE_FINDING_KINDS]) == list(
        dict.fromkeys(f["kind"] for f in trace["findings"])
    )
    return trace
