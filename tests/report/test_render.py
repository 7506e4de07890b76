"""The JSON contract and the terminal report, on hand-built analyses and records."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from rich.cells import cell_len

from agentspans import report
from agentspans.analysis.model import (
    AgentSummary,
    Finding,
    Segment,
    SpanRecord,
    Totals,
    TraceAnalysis,
)

TRACE = "0123456789abcdef0123456789abcdef"
MS = 1_000_000
T0 = 1_700_000_000_000_000_000


def _span(
    span_id: str, parent: str | None, name: str, start_ms: float, end_ms: float, **kw: Any
) -> SpanRecord:
    return SpanRecord(
        trace_id=TRACE,
        span_id=span_id,
        parent_id=parent,
        name=name,
        start_ns=T0 + int(start_ms * MS),
        end_ns=T0 + int(end_ms * MS),
        **kw,
    )


# A coordinator (0-1000 ms) that runs a research agent (100-600) with three tools in a row and
# then a writer (600-1000); the critical path runs through the research tools and the writer.
RECORDS = [
    _span("a000000000000001", None, "invoke_agent coordinator", 0, 1000),
    _span("a000000000000002", "a000000000000001", "invoke_agent research", 100, 600),
    _span("a000000000000003", "a000000000000002", "execute_tool search", 100, 250),
    _span("a000000000000004", "a000000000000002", "execute_tool search", 250, 400),
    _span("a000000000000005", "a000000000000002", "execute_tool search", 400, 600),
    _span("a000000000000006", "a000000000000001", "invoke_agent writer", 600, 1000, error=True),
]
ANALYSIS = TraceAnalysis(
    trace_id=TRACE,
    root_span_id="a000000000000001",
    duration_ms=1000.0,
    critical_path=(
        Segment("a000000000000001", "invoke_agent coordinator", 0.0, 100.0),
        Segment("a000000000000003", "execute_tool search", 100.0, 250.0),
        Segment("a000000000000004", "execute_tool search", 250.0, 400.0),
        Segment("a000000000000005", "execute_tool search", 400.0, 600.0),
        Segment("a000000000000006", "invoke_agent writer", 600.0, 1000.0),
    ),
    coordination_overhead_ms=100.0,
    totals=Totals(
        input_tokens=1200,
        output_tokens=300,
        cost_usd=0.0125,
        llm_calls=2,
        tool_calls=3,
        priced_calls=2,
    ),
    agents=(
        AgentSummary("coordinator", 1, 1000.0, 1200, 300, 0.0125, own_ms=100.0, llm_calls=2),
        AgentSummary("research", 1, 500.0, 0, 0, 0.0, own_ms=0.0, vram_peak_bytes=3 * 1024**3),
        AgentSummary("writer", 1, 400.0, 1200, 300, 0.0125, own_ms=400.0, llm_calls=2),
    ),
    findings=(
        Finding(
            "coordination_overhead", "low", ("a000000000000001",), 100.0, "The coordinator idles."
        ),
        Finding(
            "parallelizable_sequence",
            "high",
            ("a000000000000003", "a000000000000004", "a000000000000005"),
            300.0,
            "Three search calls under research ran one after another; run them concurrently "
            "to save about 300 ms of the trace's 1000 ms. " * 3,
        ),
    ),
)

CONTRACT_TYPES: dict[str, Any] = {
    "trace_id": str,
    "root_span_id": str,
    "duration_ms": float,
    "critical_path": [{"span_id": str, "name": str, "start_ms": float, "end_ms": float}],
    "coordination_overhead_ms": float,
    "totals": {
        "input_tokens": int,
        "output_tokens": int,
        "cost_usd": float,
        "llm_calls": int,
        "tool_calls": int,
    },
    "agents": [
        {
            "name": str,
            "calls": int,
            "duration_ms": float,
            "input_tokens": int,
            "output_tokens": int,
            "cost_usd": float,
        }
    ],
    "findings": [
        {
            "kind": str,
            "severity": str,
            "span_ids": [str],
            "estimated_savings_ms": float,
            "message": str,
        }
    ],
}


def assert_contract_shape(value: Any, shape: Any, where: str = "$") -> None:
    """``value`` has exactly the keys of ``shape`` and the types it names, at every level."""
    if isinstance(shape, dict):
        assert isinstance(value, dict), where
        assert set(value) == set(shape), f"{where}: keys {sorted(value)} != {sorted(shape)}"
        for key, inner in shape.items():
            assert_contract_shape(value[key], inner, f"{where}.{key}")
    elif isinstance(shape, list):
        assert isinstance(value, list), where
        for index, item in enumerate(value):
            assert_contract_shape(item, shape[0], f"{where}[{index}]")
    else:
        assert type(value) is shape, f"{where}: {type(value).__name__} is not {shape.__name__}"


def assert_contract(document: Any) -> None:
    assert_contract_shape(document, {"traces": [CONTRACT_TYPES]})
    for trace in document["traces"]:
        assert len(trace["trace_id"]) == 32 and int(trace["trace_id"], 16) >= 0
        assert len(trace["root_span_id"]) == 16 and int(trace["root_span_id"], 16) >= 0
        for finding in trace["findings"]:
            assert finding["severity"] in {"high", "medium", "low"}
            assert all(len(span_id) == 16 for span_id in finding["span_ids"])


def test_json_has_exactly_the_contract_shape_and_values() -> None:
    document = json.loads(report.render_json([ANALYSIS]))
    assert_contract(document)
    (trace,) = document["traces"]
    assert trace["critical_path"][1] == {
        "span_id": "a000000000000003",
        "name": "execute_tool search",
        "start_ms": 100.0,
        "end_ms": 250.0,
    }
    assert trace["totals"] == {
        "input_tokens": 1200,
        "output_tokens": 300,
        "cost_usd": 0.0125,
        "llm_calls": 2,
        "tool_calls": 3,
    }
    assert [f["kind"] for f in trace["findings"]] == [
        "coordination_overhead",
        "parallelizable_sequence",
    ]
    # Whole numbers of milliseconds are still floats: 100.0, not 100.
    assert '"coordination_overhead_ms": 100.0' in report.render_json([ANALYSIS])


def test_print_report_json_goes_to_the_file_given() -> None:
    out = io.StringIO()
    report.print_report([ANALYSIS], RECORDS, fmt="json", file=out)
    assert json.loads(out.getvalue()) == json.loads(report.render_json([ANALYSIS]))


def _lines(text: str) -> list[str]:
    return text.rstrip("\n").split("\n")


def _waterfall(lines: list[str]) -> list[str]:
    """The waterfall's rows: from the legend to the next blank line."""
    start = next(i for i, line in enumerate(lines) if line.startswith("* on the critical path"))
    end = lines.index("", start)
    return lines[start + 1 : end]


def test_text_report_fits_100_columns_and_is_plain_off_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    out = io.StringIO()  # not a terminal
    report.print_report([ANALYSIS], RECORDS, file=out)
    text = out.getvalue()
    assert "\x1b" not in text
    assert max(cell_len(line) for line in _lines(text)) <= 100
    assert not [line for line in _lines(text) if line.endswith(" ")]  # no padding to the width
    assert text == report.render_text([ANALYSIS], RECORDS, width=100)


def test_text_report_has_waterfall_to_scale_agents_totals_and_findings_by_saving() -> None:
    text = report.render_text([ANALYSIS], RECORDS, width=100)
    lines = _lines(text)
    waterfall = _waterfall(lines)
    assert len(waterfall) == 6
    # Critical-path spans are marked; the research agent (no own time on the path) is not.
    marked = [line for line in waterfall if line.startswith("*")]
    assert len(marked) == 5 and not any("research" in line for line in marked)
    assert waterfall[5].startswith("*!")  # the writer ended in error
    # Bars to scale: the root fills the bar, research (500 of 1000 ms) covers half of it.
    root_bar = waterfall[0].rstrip().split(" ")[-1]
    bar_width = len(root_bar)
    research_line = waterfall[1]
    research_cells = sum(research_line.count(char) for char in "█░")
    assert abs(research_cells - bar_width / 2) <= 1
    # The root's own time on the path is its first 10%.
    assert root_bar.startswith("█" * (bar_width // 10)) and "░" in root_bar
    assert "research" in text and "3.0 GiB" in text  # the agents table, with peak VRAM
    assert "2 LLM calls, 3 tool calls, 1,200 input + 300 output tokens, $0.0125" in text
    assert "Coordination overhead: 100 ms (10% of the trace)" in text
    # Findings sorted by estimated saving: the 300 ms one first, with its whole message.
    first = text.index("parallelizable_sequence")
    assert first < text.index("coordination_overhead  saves")
    assert "HIGH" in text and "\n    Three search calls under research ran one after" in text


def test_colour_only_on_a_terminal() -> None:
    coloured = report.render_text([ANALYSIS], RECORDS, width=100, color=True)
    assert "\x1b[" in coloured


def test_narrow_and_ascii_outputs_still_fit() -> None:
    for width in (60, 80, 100, 140):
        text = report.render_text([ANALYSIS], RECORDS, width=width)
        assert max(cell_len(line) for line in _lines(text)) <= width, width
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="latin-1")
    report.print_report([ANALYSIS], RECORDS, file=stream, width=100)
    stream.flush()
    text = raw.getvalue().decode("latin-1")
    assert "#" in text and "█" not in text


def _big_trace(n_agents: int, tools_per_agent: int) -> tuple[list[SpanRecord], TraceAnalysis]:
    """A root with agents one after another, each running its tools one after another."""
    records = [_span("f" * 16, None, "invoke_workflow big", 0, n_agents * tools_per_agent)]
    segments = []
    for a in range(n_agents):
        agent_id = f"{a + 1:016x}"
        start = a * tools_per_agent
        records.append(
            _span(agent_id, "f" * 16, f"invoke_agent a{a}", start, start + tools_per_agent)
        )
        for t in range(tools_per_agent):
            tool_id = f"{(a + 1) * 100_000 + t:016x}"
            records.append(_span(tool_id, agent_id, f"execute_tool t{t}", start + t, start + t + 1))
            segments.append(Segment(tool_id, f"execute_tool t{t}", start + t, start + t + 1.0))
    analysis = TraceAnalysis(
        trace_id=TRACE,
        root_span_id="f" * 16,
        duration_ms=float(n_agents * tools_per_agent),
        critical_path=tuple(segments),
        coordination_overhead_ms=0.0,
        totals=Totals(tool_calls=n_agents * tools_per_agent),
        agents=(),
        findings=tuple(
            Finding("slow_tool_call", "low", (f"{i + 100_001:016x}",), float(i), f"slow {i}")
            for i in range(30)
        ),
    )
    return records, analysis


def test_a_10k_span_trace_is_folded_to_a_readable_size() -> None:
    records, analysis = _big_trace(100, 100)
    assert len(records) == 10_101
    text = report.render_text([analysis], records, width=100, max_rows=40)
    lines = _lines(text)
    rows = _waterfall(lines)
    assert len(rows) <= 40
    assert any("more spans" in line for line in rows)
    assert "spans folded" in text
    # Folded rows account for every span not shown.
    shown = sum(1 for line in rows if "more span" not in line)
    folded = sum(
        int(line.split("…")[1].split()[0].replace(",", "")) for line in rows if "more span" in line
    )
    assert shown + folded == len(records)
    assert len(lines) < 80
    assert max(cell_len(line) for line in lines) <= 100
    assert "… 18 more (see --format json)" in text  # 30 findings, 12 listed


def test_many_traces_the_slowest_in_full_the_rest_in_a_table() -> None:
    analyses = []
    records = []
    for i in range(8):
        trace_id = f"{i + 1:032x}"
        records.append(SpanRecord(trace_id, "1" * 16, None, f"root {i}", T0, T0 + (i + 1) * MS))
        analyses.append(
            TraceAnalysis(
                trace_id,
                "1" * 16,
                float(i + 1),
                (Segment("1" * 16, f"root {i}", 0.0, i + 1.0),),
                0.0,
                Totals(),
                (),
                (),
            )
        )
    text = report.render_text(analyses, records, width=100, max_traces=3)
    assert text.index(f"Trace {8:032x}") < text.index(f"Trace {7:032x}")
    assert "5 more traces" in text and f"{1:032x}" in text
    assert f"Trace {5:032x}" not in text
