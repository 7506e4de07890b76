"""The terminal report: waterfall, per-agent table, totals and findings, drawn with ``rich``.

Every line fits the console's width (100 columns when the output is not a terminal). Colour only
appears on a terminal; piped or redirected output is plain text. Characters fall back to ASCII
when the output's encoding cannot carry the block characters.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from rich import box
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from agentspans.analysis.model import Finding, SpanRecord, Totals, TraceAnalysis
from agentspans.report._format import bytes_text, cost_text, count_text, ms_text
from agentspans.report._waterfall import (
    BAR_PATH,
    BAR_SPAN,
    WaterfallRow,
    bar_cells,
    waterfall_rows,
)

__all__ = ["DEFAULT_MAX_FINDINGS", "DEFAULT_MAX_ROWS", "DEFAULT_MAX_TRACES", "render_traces"]

DEFAULT_MAX_ROWS = 40
DEFAULT_MAX_FINDINGS = 12
# Traces drawn in full; the others get one line each in an overview table.
DEFAULT_MAX_TRACES = 5

_SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}
_SEVERITY_STYLE = {"high": "bold red", "medium": "yellow", "low": "cyan"}
_DURATION_W = 9
_MAX_INDENT_LEVELS = 8


def render_traces(
    console: Console,
    analyses: Sequence[TraceAnalysis],
    records: Sequence[SpanRecord],
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_findings: int = DEFAULT_MAX_FINDINGS,
    max_traces: int = DEFAULT_MAX_TRACES,
) -> None:
    """Print the report of ``analyses`` (the slowest first) on ``console``."""
    if not analyses:
        console.print("No traces to report.")
        return
    by_trace: dict[str, list[SpanRecord]] = defaultdict(list)
    for record in records:
        by_trace[record.trace_id].append(record)
    ordered = sorted(analyses, key=lambda analysis: -analysis.duration_ms)
    ascii_only = not (console.encoding or "").lower().startswith("utf")
    for index, analysis in enumerate(ordered[:max_traces]):
        if index:
            console.print()
        console.print(
            _trace(
                analysis,
                by_trace.get(analysis.trace_id, []),
                console.width,
                ascii_only=ascii_only,
                max_rows=max_rows,
                max_findings=max_findings,
            )
        )
    rest = ordered[max_traces:]
    if rest:
        console.print()
        console.print(_overview(rest, by_trace))


def _trace(
    analysis: TraceAnalysis,
    records: Sequence[SpanRecord],
    width: int,
    *,
    ascii_only: bool,
    max_rows: int,
    max_findings: int,
) -> RenderableType:
    services = sorted({record.service for record in records if record.service})
    header = Text()
    header.append(f"Trace {analysis.trace_id}", style="bold")
    header.append(
        f"  {ms_text(analysis.duration_ms)}  {count_text(_span_count(analysis, records))} spans"
    )
    if services:
        header.append(f"  services: {', '.join(services)}")
    parts: list[RenderableType] = [Rule(style="dim", characters="-" if ascii_only else "─")]
    parts.append(header)
    parts.extend(
        _waterfall(
            analysis, records, width, ascii_only, max_rows, several_services=len(services) > 1
        )
    )
    parts.extend((Text(), _critical_path_line(analysis), _totals_line(analysis)))
    if analysis.agents:
        parts.extend((Text(), _agents_table(analysis, ascii_only)))
    parts.append(Text())
    parts.extend(_findings(analysis.findings, max_findings))
    return Group(*parts)


# -- waterfall ------------------------------------------------------------------------------------
def _waterfall(
    analysis: TraceAnalysis,
    records: Sequence[SpanRecord],
    width: int,
    ascii_only: bool,
    max_rows: int,
    *,
    several_services: bool,
) -> list[RenderableType]:
    rows, folded = waterfall_rows(records, analysis, max_rows=max_rows)
    if not rows:
        return [Text("(the root span is not among the spans read; no waterfall)", style="dim")]
    span_char, path_char = ("-", "#") if ascii_only else ("░", "█")
    # Names get two fifths of the line, half when service names precede them at process changes.
    share = (1, 2) if several_services else (2, 5)
    name_w = max(12, min(44, (width - 3 - _DURATION_W - 2) * share[0] // share[1]))
    bar_w = max(width - 3 - name_w - 1 - _DURATION_W - 1, 1)
    legend = Text(style="dim")
    legend.append(f"* on the critical path   {path_char} its own time on the path   ")
    legend.append(f"{span_char} rest of the span   ! error")
    lines: list[RenderableType] = [Text()]
    if folded:
        lines.append(
            Text(
                f"{count_text(folded)} of {count_text(_span_count(analysis, records))} spans "
                "folded into '… more spans' rows; the critical path and longest spans are shown",
                style="dim",
            )
        )
    lines.append(legend)
    for row in rows:
        lines.append(
            _row_text(
                row, analysis.duration_ms, name_w, bar_w, span_char, path_char, several_services
            )
        )
    return lines


def _row_text(
    row: WaterfallRow,
    total_ms: float,
    name_w: int,
    bar_w: int,
    span_char: str,
    path_char: str,
    several_services: bool,
) -> Text:
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append("*" if row.on_path else " ", style="bold magenta")
    line.append("!" if row.error else " ", style="bold red")
    line.append(" ")
    indent = "  " * min(row.depth, _MAX_INDENT_LEVELS)
    name = row.name
    if several_services and row.service and row.new_service and not row.hidden:
        name = f"{row.service}: {name}"
    label = _fit(indent + name, name_w)
    line.append(label, style="dim" if row.hidden else ("bold" if row.on_path else ""))
    line.append(" ")
    line.append(ms_text(row.duration_ms).rjust(_DURATION_W), style="dim" if row.hidden else "")
    line.append(" ")
    cells = bar_cells(row, total_ms, bar_w)
    if row.hidden:
        line.append("".join("." if cell else " " for cell in cells).rstrip(), style="dim")
        return line
    last = max((i for i, cell in enumerate(cells) if cell), default=-1)
    for cell in cells[: last + 1]:
        if cell == BAR_PATH:
            line.append(path_char, style="magenta")
        elif cell == BAR_SPAN:
            line.append(span_char, style="cyan")
        else:
            line.append(" ")
    return line


def _span_count(analysis: TraceAnalysis, records: Sequence[SpanRecord]) -> int:
    """The spans this analysis covers: its root's tree (a trace may have several roots)."""
    return len(analysis.span_ids) if analysis.span_ids else len(records)


def _fit(text: str, width: int) -> str:
    if len(text) <= width:
        return text.ljust(width)
    return text[: width - 1] + "…"


# -- summaries ------------------------------------------------------------------------------------
def _critical_path_line(analysis: TraceAnalysis) -> Text:
    by_name: dict[str, float] = defaultdict(float)
    for segment in analysis.critical_path:
        by_name[segment.name] += segment.end_ms - segment.start_ms
    line = Text()
    line.append("Critical path: ", style="bold")
    if not by_name or analysis.duration_ms <= 0:
        line.append("empty (the trace took no time)")
        return line
    top = [
        f"{name} {100 * ms / analysis.duration_ms:.0f}%"
        for name, ms in sorted(by_name.items(), key=lambda item: -item[1])[:4]
        if ms > 0
    ]
    line.append(
        f"{count_text(len(analysis.critical_path))} segments; most time in " + ", ".join(top)
    )
    return line


def _agents_table(analysis: TraceAnalysis, ascii_only: bool) -> Table:
    table = Table(
        box=box.ASCII if ascii_only else box.SIMPLE_HEAD,
        title="Agents",
        title_justify="left",
        title_style="bold",
        pad_edge=False,
        show_edge=False,
    )
    table.add_column("agent", overflow="ellipsis", no_wrap=True, max_width=28)
    for header in ("calls", "time", "own", "in tok", "out tok", "cost", "VRAM peak"):
        table.add_column(header, justify="right", no_wrap=True)
    for agent in sorted(analysis.agents, key=lambda agent: -agent.duration_ms):
        table.add_row(
            agent.name,
            count_text(agent.calls),
            ms_text(agent.duration_ms),
            ms_text(agent.own_ms),
            count_text(agent.input_tokens),
            count_text(agent.output_tokens),
            cost_text(agent.cost_usd) if agent.llm_calls else "-",
            bytes_text(agent.vram_peak_bytes),
        )
    return table


def _totals_line(analysis: TraceAnalysis) -> Text:
    totals = analysis.totals
    share = (
        f" ({100 * analysis.coordination_overhead_ms / analysis.duration_ms:.0f}% of the trace)"
        if analysis.duration_ms > 0
        else ""
    )
    line = Text()
    line.append("Totals: ", style="bold")
    line.append(
        f"{count_text(totals.llm_calls)} LLM calls, {count_text(totals.tool_calls)} tool calls, "
        f"{count_text(totals.input_tokens)} input + {count_text(totals.output_tokens)} output "
        f"tokens, {_total_cost(totals)}\n"
    )
    line.append("Coordination overhead: ", style="bold")
    line.append(f"{ms_text(analysis.coordination_overhead_ms)}{share}")
    return line


def _total_cost(totals: Totals) -> str:
    if totals.priced_calls == 0:
        # No LLM call carried a cost: 0.0 would claim a measured zero.
        return "cost unknown" if totals.llm_calls else "no LLM cost"
    text = cost_text(totals.cost_usd)
    if totals.priced_calls < totals.llm_calls:
        text += f" ({totals.llm_calls - totals.priced_calls} calls unpriced)"
    return text


def sorted_findings(findings: Sequence[Finding]) -> list[Finding]:
    """Biggest estimated saving first; equal savings by severity, then kind."""
    return sorted(
        findings,
        key=lambda f: (-f.estimated_savings_ms, _SEVERITY_RANK.get(f.severity, 3), f.kind),
    )


def _findings(findings: Sequence[Finding], max_findings: int) -> list[RenderableType]:
    if not findings:
        return [Text("Findings: none above the thresholds.")]
    parts: list[RenderableType] = [Text(f"Findings ({len(findings)}):", style="bold")]
    ordered = sorted_findings(findings)
    for number, finding in enumerate(ordered[:max_findings], start=1):
        head = Text()
        head.append(f"{number:>2}. ")
        head.append(f"{finding.severity.upper():<6}", style=_SEVERITY_STYLE.get(finding.severity))
        head.append(f" {finding.kind}", style="bold")
        if finding.estimated_savings_ms > 0:
            head.append(f"  saves ~{ms_text(finding.estimated_savings_ms)}")
        parts.append(head)
        parts.append(_indented(finding.message))
    if len(ordered) > max_findings:
        parts.append(
            Text(f"    … {len(ordered) - max_findings} more (see --format json)", style="dim")
        )
    return parts


def _indented(message: str) -> Padding:
    """``message`` wrapped to the width, four columns in."""
    return Padding(Text(message), (0, 0, 0, 4))


def _overview(analyses: Sequence[TraceAnalysis], by_trace: dict[str, list[SpanRecord]]) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD,
        title=f"{len(analyses)} more traces",
        title_justify="left",
        title_style="bold",
        pad_edge=False,
        show_edge=False,
    )
    table.add_column("trace", no_wrap=True)
    for header in ("time", "spans", "findings", "savings"):
        table.add_column(header, justify="right", no_wrap=True)
    for analysis in analyses:
        table.add_row(
            analysis.trace_id,
            ms_text(analysis.duration_ms),
            count_text(_span_count(analysis, by_trace.get(analysis.trace_id, ()))),
            count_text(len(analysis.findings)),
            ms_text(sum(f.estimated_savings_ms for f in analysis.findings)),
        )
    return table
