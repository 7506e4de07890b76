"""Reports of analysed traces: a terminal report (``rich``) and the contract JSON.

    from agentspans import report

    report.print_report(analyses, records)               # the terminal report, to stdout
    report.print_report(analyses, records, fmt="json")   # the JSON of ``agentspans report``
    text = report.render_text(analyses, records, width=100)

``analyses`` come from ``agentspans.analysis.analyze(records, thresholds)``; ``records`` are the
``SpanRecord``s they were computed from (the waterfall draws them). Input problems are not part of
either output: print them yourself (``print_problems``), to stderr, as ``agentspans report`` does.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Sequence
from typing import IO, Any, Literal, cast

from rich.console import Console

from agentspans.analysis.model import SpanRecord, TraceAnalysis
from agentspans.report._html import render_html
from agentspans.report._json import analysis_to_dict, render_json
from agentspans.report._terminal import (
    DEFAULT_MAX_FINDINGS,
    DEFAULT_MAX_ROWS,
    DEFAULT_MAX_TRACES,
    render_traces,
    sorted_findings,
)

__all__ = [
    "DEFAULT_MAX_ROWS",
    "DEFAULT_WIDTH",
    "analysis_to_dict",
    "print_problems",
    "print_report",
    "render_html",
    "render_json",
    "render_text",
    "sorted_findings",
]

# The width used when the output is not a terminal (a file, a pipe, a CI log).
DEFAULT_WIDTH = 100


def print_report(
    analyses: Sequence[TraceAnalysis],
    records: Sequence[SpanRecord],
    *,
    fmt: Literal["text", "json", "html"] = "text",
    file: IO[str] | None = None,
    width: int | None = None,
    color: bool | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_findings: int = DEFAULT_MAX_FINDINGS,
    max_traces: int = DEFAULT_MAX_TRACES,
) -> None:
    """Print the report of ``analyses`` to ``file`` (default: ``sys.stdout``).

    ``fmt="html"`` prints one self-contained HTML page (no request leaves it): per agent and
    per model over every trace, then each trace's waterfall, path, agents and findings.
    ``fmt="json"`` prints the document of ``agentspans report --format json`` (ARCHITECTURE.md's
    contract, nothing else). ``fmt="text"`` prints, for each trace, slowest first: a waterfall
    to scale with the critical path marked (``*`` rows, ``█`` its own time on the path), a
    per-agent table (calls, time, own time, tokens, cost, VRAM peak), the totals and the findings
    sorted by estimated saving, each with its message. The waterfall shows at most ``max_rows``
    rows (the critical path and the longest spans; the rest fold into "… N more spans" rows),
    ``max_findings`` findings are listed per trace, and traces past ``max_traces`` get one line
    each. Text fits ``width`` columns: the terminal's width on a terminal, else ``$COLUMNS``,
    else 100. Colour is
    used only on a terminal (``color=None``), always (``True``) or never (``False``); without
    it the text is plain, with no ANSI codes.
    """
    out = file if file is not None else sys.stdout
    if fmt == "json":
        out.write(render_json(analyses) + "\n")
        return
    if fmt == "html":
        out.write(render_html(analyses, records))
        return
    if fmt != "text":
        raise ValueError(f"print_report(fmt={fmt!r}): expected 'text', 'json' or 'html'")
    console = _console(out, width, color)
    trimmed = None
    if not console.is_terminal:
        # rich pads every line to the full width; in a file or a pipe that is trailing blanks.
        trimmed = _TrimmedLines(out)
        console.file = cast("IO[str]", trimmed)  # rich only writes, flushes, asks encoding/tty
    render_traces(
        console,
        analyses,
        records,
        max_rows=max_rows,
        max_findings=max_findings,
        max_traces=max_traces,
    )
    if trimmed is not None:
        trimmed.finish()


class _TrimmedLines:
    """A text file wrapper that drops the spaces at the end of every line written through it."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out
        self._pending = ""
        # rich reads the encoding (to choose block or ASCII bars) and asks whether it is a tty.
        self.encoding = getattr(out, "encoding", None) or "utf-8"

    def write(self, text: str) -> int:
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            self._out.write(line.rstrip(" ") + "\n")
        return len(text)

    def flush(self) -> None:
        # A partial line stays pending: its trailing spaces may still be followed by text.
        self._out.flush()

    def isatty(self) -> bool:
        return False

    def finish(self) -> None:
        if self._pending:
            self._out.write(self._pending.rstrip(" "))
            self._pending = ""
        self._out.flush()


def render_text(
    analyses: Sequence[TraceAnalysis],
    records: Sequence[SpanRecord],
    *,
    width: int = DEFAULT_WIDTH,
    color: bool = False,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_findings: int = DEFAULT_MAX_FINDINGS,
    max_traces: int = DEFAULT_MAX_TRACES,
) -> str:
    """The text report as a string (plain unless ``color``), ``width`` columns wide at most."""
    buffer = io.StringIO()
    print_report(
        analyses,
        records,
        file=buffer,
        width=width,
        color=color,
        max_rows=max_rows,
        max_findings=max_findings,
        max_traces=max_traces,
    )
    return buffer.getvalue()


def print_problems(problems: Sequence[str], file: IO[str] | None = None) -> None:
    """One line per problem, to ``file`` (default: ``sys.stderr``)."""
    out = file if file is not None else sys.stderr
    for problem in problems:
        out.write(f"agentspans: {problem}\n")


def _console(out: IO[str], width: int | None, color: bool | None) -> Console:
    options: dict[str, Any] = {}
    if color is not None:
        options = {"force_terminal": color, "no_color": not color}
        if color:
            options["color_system"] = "standard"
    console = Console(file=out, highlight=False, markup=False, emoji=False, width=width, **options)
    if width is None and not console.is_terminal and not os.environ.get("COLUMNS"):
        console.width = DEFAULT_WIDTH
    return console
