"""``agentspans report --format html``: one self-contained HTML file.

Everything is inline (CSS, a few lines of script, SVG bars) and the page's Content-Security-Policy
allows no request at all, so the file can be mailed, attached to a ticket or opened offline. It
shows, over every trace: per agent and per model, calls, p50/p95/p99 latency, error rate, tokens
and cost per call, share of the critical path; then for each trace (slowest first): totals, the
critical path in order, a waterfall with the path marked, the agents table and the findings with
their evidence. Numbers are those of the JSON report; the script only sorts tables and marks a
finding's spans on the waterfall.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from agentspans import __version__
from agentspans.analysis.forest import Tree, build_forest
from agentspans.analysis.model import Finding, SpanRecord, TraceAnalysis
from agentspans.readable import format_ms, steps, summary
from agentspans.report._fleet import Fleet, Row, fleet

__all__ = ["DEFAULT_HTML_TRACES", "render_html"]

DEFAULT_HTML_TRACES = 50
_MAX_WATERFALL_ROWS = 400
_MAX_EVIDENCE_SPANS = 12

_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d2330;
background:#fafbfc}h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}
h3{font-size:15px;margin:18px 0 6px}.muted{color:#667}code{font:12px ui-monospace,monospace}
table{border-collapse:collapse;margin:6px 0 14px;background:#fff}th,td{padding:4px 10px;
border-bottom:1px solid #e3e6ea;text-align:right;white-space:nowrap}th{cursor:pointer;
background:#f0f2f5;font-weight:600}th:first-child,td:first-child{text-align:left}
dl.totals{display:flex;flex-wrap:wrap;gap:6px 22px;margin:8px 0}dl.totals div{display:flex;
gap:6px}dt{color:#667}dd{margin:0;font-weight:600}section.trace{border-top:2px solid #d6dae0;
margin-top:26px}.summary{background:#fff;border:1px solid #e3e6ea;padding:8px 10px;
font-size:13px}ol.path{font:12px ui-monospace,monospace;columns:2;margin:4px 0}
.wf{background:#fff;border:1px solid #e3e6ea;padding:6px;font-size:12px}.wf-row{display:grid;
grid-template-columns:minmax(240px,38%) 70px 1fr;gap:8px;align-items:center;height:18px}
.wf-row .label{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}.wf-row .dur{
text-align:right;color:#556}.wf-row svg{width:100%;height:12px}.bar{fill:#b9c6da}
.path{fill:#2f6fd6}.err .bar{fill:#e8a1a1}.err .label{color:#b3261e}.evidence{background:#fff3c4}
.finding{background:#fff;border:1px solid #e3e6ea;border-left:4px solid #999;margin:6px 0;
padding:6px 10px;cursor:pointer}.finding.high{border-left-color:#c62828}.finding.medium{
border-left-color:#ef8f00}.finding.low{border-left-color:#5b8def}.finding .kind{font-weight:600}
.finding ul{margin:4px 0;font-size:12px}.fold{color:#667;font-style:italic}
"""

# Sorting by a column, and marking a finding's spans on its trace's waterfall. The page reads
# the same without it.
_JS = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var body = table.tBodies[0], rows = Array.from(body.rows);
      var down = th.dataset.dir !== 'down'; th.dataset.dir = down ? 'down' : 'up';
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.sort || a.cells[col].textContent;
        var y = b.cells[col].dataset.sort || b.cells[col].textContent;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
        return down ? -c : c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
document.querySelectorAll('.finding').forEach(function (finding) {
  finding.addEventListener('click', function () {
    var ids = finding.dataset.spans.split(' ');
    var section = finding.closest('section');
    section.querySelectorAll('.wf-row').forEach(function (row) {
      row.classList.toggle('evidence', ids.indexOf(row.dataset.span) >= 0);
    });
  });
});
document.documentElement.dataset.ready = 'true';
"""


def render_html(
    analyses: Sequence[TraceAnalysis],
    records: Sequence[SpanRecord],
    *,
    max_traces: int = DEFAULT_HTML_TRACES,
) -> str:
    """The whole page. Traces past ``max_traces`` (slowest first) are listed in one table."""
    trees = {(t.trace_id, t.records[0].span_id): t for t in build_forest(records) if len(t)}
    ordered = sorted(analyses, key=lambda a: -a.duration_ms)
    stats = fleet(analyses, records)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>agentspans report: {len(analyses)} trace{_s(len(analyses))}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>agentspans report</h1>",
        f'<p class="muted">{len(analyses)} trace{_s(len(analyses))}, '
        f"{sum(len(a.span_ids) for a in analyses)} spans · agentspans {escape(__version__)}</p>",
        _overall(analyses),
        _fleet_tables(stats),
    ]
    for analysis in ordered[:max_traces]:
        parts.append(_trace(analysis, trees.get((analysis.trace_id, analysis.root_span_id))))
    if len(ordered) > max_traces:
        parts.append(_other_traces(ordered[max_traces:]))
    parts.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(parts) + "\n"


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _cost(value: float | None) -> str:
    if value is None:
        return "unknown"
    return f"${value:.6f}" if value < 1 else f"${value:,.2f}"


def _pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def _totals(pairs: Sequence[tuple[str, str, str]]) -> str:
    items = "".join(
        f'<div><dt>{escape(label)}</dt><dd data-total="{key}">{escape(value)}</dd></div>'
        for key, label, value in pairs
    )
    return f'<dl class="totals">{items}</dl>'


def _overall(analyses: Sequence[TraceAnalysis]) -> str:
    priced = any(a.totals.priced_calls for a in analyses)
    return _totals(
        [
            ("llm_calls", "LLM calls", str(sum(a.totals.llm_calls for a in analyses))),
            ("tool_calls", "tool calls", str(sum(a.totals.tool_calls for a in analyses))),
            ("input_tokens", "input tokens", str(sum(a.totals.input_tokens for a in analyses))),
            ("output_tokens", "output tokens", str(sum(a.totals.output_tokens for a in analyses))),
            (
                "cost_usd",
                "cost",
                _cost(sum(a.totals.cost_usd for a in analyses) if priced else None),
            ),
            ("findings", "findings", str(sum(len(a.findings) for a in analyses))),
        ]
    )


def _table(kind: str, headers: Sequence[str], rows: Sequence[Sequence[tuple[str, str]]]) -> str:
    """A sortable table; each cell is (text, sort key)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        f'<tr data-{kind}="{escape(cells[0][0])}">'
        + "".join(f'<td data-sort="{escape(key)}">{escape(text)}</td>' for text, key in cells)
        + "</tr>"
        for cells in rows
    )
    return (
        f'<table class="sortable {kind}s"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def _fleet_row(stats: Fleet, row: Row) -> list[tuple[str, str]]:
    p50, p95, p99 = (row.percentile(q) for q in (0.5, 0.95, 0.99))
    cost = row.cost_per_call
    share = stats.path_share(row)
    return [
        (row.name, row.name),
        (str(row.calls), str(row.calls)),
        (format_ms(p50), f"{p50}"),
        (format_ms(p95), f"{p95}"),
        (format_ms(p99), f"{p99}"),
        (_pct(row.error_rate), f"{row.error_rate}"),
        (f"{row.tokens_per_call:.1f}", f"{row.tokens_per_call}"),
        (_cost(cost), f"{cost if cost is not None else -1}"),
        (_pct(share), f"{share}"),
    ]


_FLEET_HEADERS = (
    "calls",
    "p50",
    "p95",
    "p99",
    "errors",
    "tokens / call",
    "cost / call",
    "critical path",
)


def _fleet_tables(stats: Fleet) -> str:
    parts = [f"<h2>Over {stats.traces} trace{_s(stats.traces)}</h2>"]
    parts.append(
        '<p class="muted">Latency percentiles by nearest rank over every call; an agent\'s '
        "tokens and cost are those of the LLM calls it made itself; the critical-path share is "
        "of all the traces' time together.</p>"
    )
    parts.append("<h3>Per agent</h3>")
    parts.append(
        _table("agent", ("agent", *_FLEET_HEADERS), [_fleet_row(stats, r) for r in stats.agents])
        if stats.agents
        else '<p class="muted">No agent spans.</p>'
    )
    parts.append("<h3>Per model</h3>")
    parts.append(
        _table("model", ("model", *_FLEET_HEADERS), [_fleet_row(stats, r) for r in stats.models])
        if stats.models
        else '<p class="muted">No LLM calls.</p>'
    )
    return "\n".join(parts)


def _trace(analysis: TraceAnalysis, tree: Tree | None) -> str:
    totals = analysis.totals
    names = {r.span_id: r.name for r in tree.records} if tree is not None else {}
    overhead = analysis.coordination_overhead_ms
    share = overhead / analysis.duration_ms if analysis.duration_ms > 0 else 0.0
    parts = [
        f'<section class="trace" data-trace-id="{analysis.trace_id}">',
        f"<h2>Trace <code>{analysis.trace_id}</code> · {format_ms(analysis.duration_ms)}</h2>",
        f'<p class="summary">{escape(summary(analysis))}</p>',
        _totals(
            [
                ("duration_ms", "duration", format_ms(analysis.duration_ms)),
                ("llm_calls", "LLM calls", str(totals.llm_calls)),
                ("tool_calls", "tool calls", str(totals.tool_calls)),
                ("input_tokens", "input tokens", str(totals.input_tokens)),
                ("output_tokens", "output tokens", str(totals.output_tokens)),
                ("cost_usd", "cost", _cost(totals.cost_usd if totals.priced_calls else None)),
                ("coordination", "coordination overhead", f"{format_ms(overhead)} ({_pct(share)})"),
            ]
        ),
        "<h3>Critical path</h3>",
        '<ol class="path">' + "".join(f"<li>{escape(s)}</li>" for s in steps(analysis)) + "</ol>",
        "<h3>Waterfall</h3>",
        _waterfall(analysis, tree),
        "<h3>Agents</h3>",
        _agents(analysis),
        f"<h3>Findings ({len(analysis.findings)})</h3>",
        "".join(_finding(f, names, tree) for f in _by_saving(analysis.findings))
        or '<p class="muted">No findings.</p>',
    ]
    if analysis.problems:
        parts.append(
            '<h3>Problems</h3><ul class="problems">'
            + "".join(f"<li>{escape(p)}</li>" for p in analysis.problems)
            + "</ul>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def _by_saving(findings: Sequence[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: -f.estimated_savings_ms)


def _waterfall(analysis: TraceAnalysis, tree: Tree | None) -> str:
    if tree is None:
        return '<p class="muted">The spans of this trace were not in the input.</p>'
    window = max(tree.end[0] - tree.start[0], 1)
    depth = [0] * len(tree)
    for i in range(1, len(tree)):
        depth[i] = depth[tree.parent[i]] + 1
    path: dict[str, list[tuple[float, float]]] = {}
    for segment in analysis.critical_path:
        path.setdefault(segment.span_id, []).append((segment.start_ms, segment.end_ms))
    window_ms = window / 1e6
    rows = []
    for i, record in enumerate(tree.records[:_MAX_WATERFALL_ROWS]):
        x = tree.start[i] / window * 1000
        width = max((tree.end[i] - tree.start[i]) / window * 1000, 0.5)
        rects = [f'<rect class="bar" x="{x:.2f}" y="1" width="{width:.2f}" height="8"/>']
        for start, end in path.get(record.span_id, ()):
            rects.append(
                f'<rect class="path" x="{start / window_ms * 1000:.2f}" y="1" '
                f'width="{max((end - start) / window_ms * 1000, 0.5):.2f}" height="8"/>'
            )
        marker = "* " if record.span_id in path else ""
        rows.append(
            f'<div class="wf-row{" err" if record.error else ""}" data-span="{record.span_id}">'
            f'<span class="label" style="padding-left:{depth[i] * 12}px" '
            f'title="{escape(record.name)}">{marker}{escape(record.name)}</span>'
            f'<span class="dur">{format_ms((tree.end[i] - tree.start[i]) / 1e6)}</span>'
            f'<svg viewBox="0 0 1000 10" preserveAspectRatio="none">{"".join(rects)}</svg></div>'
        )
    if len(tree) > _MAX_WATERFALL_ROWS:
        rows.append(f'<div class="fold">… {len(tree) - _MAX_WATERFALL_ROWS} more spans</div>')
    legend = (
        '<p class="muted">* on the critical path: dark blue where that span\'s own work is on '
        "it; red: ended in error; click a finding to mark its spans.</p>"
    )
    return legend + '<div class="wf">' + "".join(rows) + "</div>"


def _agents(analysis: TraceAnalysis) -> str:
    if not analysis.agents:
        return '<p class="muted">No agent spans.</p>'
    rows = [
        [
            (a.name, a.name),
            (str(a.calls), str(a.calls)),
            (format_ms(a.duration_ms), f"{a.duration_ms}"),
            (format_ms(a.own_ms), f"{a.own_ms}"),
            (str(a.input_tokens), str(a.input_tokens)),
            (str(a.output_tokens), str(a.output_tokens)),
            (_cost(a.cost_usd), f"{a.cost_usd}"),
        ]
        for a in analysis.agents
    ]
    headers = ("agent", "calls", "time", "own time", "input tokens", "output tokens", "cost")
    return _table("agent", headers, rows)


def _finding(finding: Finding, names: dict[str, str], tree: Tree | None) -> str:
    durations: dict[str, float] = {}
    if tree is not None:
        index = {r.span_id: i for i, r in enumerate(tree.records)}
        for span_id in finding.span_ids:
            i = index.get(span_id)
            if i is not None:
                durations[span_id] = (tree.end[i] - tree.start[i]) / 1e6
    evidence = [
        f"<li><code>{span_id}</code> {escape(names.get(span_id, '(not in the input)'))}"
        + (f" · {format_ms(durations[span_id])}" if span_id in durations else "")
        + "</li>"
        for span_id in finding.span_ids[:_MAX_EVIDENCE_SPANS]
    ]
    if len(finding.span_ids) > _MAX_EVIDENCE_SPANS:
        evidence.append(f"<li>… {len(finding.span_ids) - _MAX_EVIDENCE_SPANS} more spans</li>")
    details = "".join(
        f"<li>{escape(str(key))}: {escape(_detail(value))}</li>"
        for key, value in finding.details.items()
    )
    return (
        f'<div class="finding {escape(finding.severity)}" data-kind="{escape(finding.kind)}" '
        f'data-spans="{" ".join(finding.span_ids)}">'
        f'<span class="kind">{escape(finding.kind)}</span> · {escape(finding.severity)} · '
        f'saves <span class="saving">{format_ms(finding.estimated_savings_ms)}</span>'
        f'<p class="message">{escape(finding.message)}</p>'
        f"<ul>{''.join(evidence)}{details}</ul></div>"
    )


def _detail(value: object) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _other_traces(analyses: Sequence[TraceAnalysis]) -> str:
    rows = [
        [
            (a.trace_id, a.trace_id),
            (format_ms(a.duration_ms), f"{a.duration_ms}"),
            (str(len(a.span_ids)), str(len(a.span_ids))),
            (str(len(a.findings)), str(len(a.findings))),
        ]
        for a in analyses
    ]
    return f"<h2>{len(analyses)} more traces</h2>" + _table(
        "trace", ("trace", "duration", "spans", "findings"), rows
    )
