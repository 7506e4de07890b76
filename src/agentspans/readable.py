"""The analysis in a person's words: durations, the critical path in order, a one-line summary.

Pure functions of a :class:`~agentspans.analysis.TraceAnalysis` (no OpenTelemetry), shared by
the root span's readable attributes (processors/readable.py) and the HTML report.
"""

from __future__ import annotations

import json
import math

from agentspans.analysis import TraceAnalysis

# Enough for a trace UI's attribute row; the structured attributes carry the rest.
_SUMMARY_STRETCHES = 4
_SUMMARY_FINDINGS = 3
_SUMMARY_MESSAGE_CHARS = 90
_MAX_STEPS = 50


def format_ms(ms: float) -> str:
    # The common cases by integer rounding: ``round`` and ``:.0f`` both round the float's exact
    # value half to even, and an int prints without the float formatter (a trace's steps call
    # this twice a stretch). NaN and infinities fail both tests and take the formats below.
    if 1 <= ms < 1000:
        return f"{round(ms)} ms"
    if 10_000 <= ms < 1e15:
        return f"{round(ms / 1000)} s"
    if ms >= 10_000:
        return f"{ms / 1000:.0f} s"
    if ms >= 1000:
        return f"{ms / 1000:.1f} s"
    return f"{ms:.0f} ms" if ms >= 1 else f"{ms:.2f} ms"


def steps(analysis: TraceAnalysis) -> list[str]:
    """``"+120 ms  480 ms  chat gpt-4o"``: each stretch's start, length and span, in order.

    Consecutive segments of the same span are one stretch; past 50 the rest are counted.
    """
    stretches: list[tuple[str, str, float, float]] = []  # span id, name, start, end
    for segment in analysis.critical_path:
        if stretches and stretches[-1][0] == segment.span_id:
            span_id, name, start, _ = stretches[-1]
            stretches[-1] = (span_id, name, start, segment.end_ms)
        else:
            stretches.append((segment.span_id, segment.name, segment.start_ms, segment.end_ms))
    lines = [
        f"+{format_ms(start)}  {format_ms(end - start)}  {name}"
        for _, name, start, end in stretches[:_MAX_STEPS]
    ]
    if len(stretches) > _MAX_STEPS:
        lines.append(f"… {len(stretches) - _MAX_STEPS} more stretches")
    return lines


def summary(analysis: TraceAnalysis) -> str:
    """One line: duration and totals | the path's largest stretches | top findings."""
    totals = analysis.totals
    head = [format_ms(analysis.duration_ms)]
    head.append(f"{totals.llm_calls} LLM calls, {totals.tool_calls} tool calls")
    head.append(f"{totals.input_tokens + totals.output_tokens} tokens")
    if totals.priced_calls:
        head.append(f"${totals.cost_usd:.4g}")
    parts = [", ".join(head), "critical path: " + _largest_stretches(analysis)]
    findings = sorted(analysis.findings, key=lambda f: -f.estimated_savings_ms)
    if findings:
        saving = sum(f.estimated_savings_ms for f in findings)
        listed = "; ".join(
            f"{f.kind} -{format_ms(f.estimated_savings_ms)}: {_short(f.message)}"
            for f in findings[:_SUMMARY_FINDINGS]
        )
        more = (
            f"; +{len(findings) - _SUMMARY_FINDINGS} more"
            if len(findings) > _SUMMARY_FINDINGS
            else ""
        )
        count = f"{len(findings)} finding{'s' if len(findings) != 1 else ''}"
        parts.append(f"{count} (save up to {format_ms(saving)}): {listed}{more}")
    else:
        parts.append("no findings")
    return " | ".join(parts)


def _largest_stretches(analysis: TraceAnalysis) -> str:
    """The spans with the most time on the path, in the order the path reaches them."""
    ranked = sorted(analysis.path_self_ms.items(), key=lambda item: (-item[1], item[0]))
    chosen = {span_id for span_id, _ in ranked[:_SUMMARY_STRETCHES]}
    names = {s.span_id: s.name for s in analysis.critical_path}
    order = list(dict.fromkeys(s.span_id for s in analysis.critical_path if s.span_id in chosen))
    duration = analysis.duration_ms
    shown = [
        f"{names.get(span_id, span_id)} {format_ms(analysis.path_self_ms[span_id])}"
        + (f" ({analysis.path_self_ms[span_id] / duration:.0%})" if duration > 0 else "")
        for span_id in order
    ]
    rest = len(analysis.path_self_ms) - len(shown)
    return " > ".join(shown) + (f" > +{rest} more" if rest > 0 else "") if shown else "empty"


def _short(message: str) -> str:
    first = message.strip().splitlines()[0] if message.strip() else ""
    if len(first) <= _SUMMARY_MESSAGE_CHARS:
        return first
    return first[: _SUMMARY_MESSAGE_CHARS - 1].rstrip() + "…"


def json_rounded(value: float, digits: int) -> str:
    """``json_float(round(value, digits))``: for a modest value, the fixed-point text with its
    trailing zeros dropped. ``round`` and the fixed-point format take the same correctly
    rounded digits, and where the double's spacing is below ``10**-digits`` (``|value|`` under
    ``10**(15 - digits)``) no other decimal of at most ``digits`` places names the same double,
    so this is the shortest repr ``float.__repr__`` gives, without the second conversion."""
    if -_EXACT_BELOW[digits] < value < _EXACT_BELOW[digits]:
        text = f"{value:.{digits}f}".rstrip("0")
        return text + "0" if text.endswith(".") else text
    return json_float(round(value, digits))


# Past these the double's spacing reaches 10**-digits: 6.6e11 rounded to 4 places is
# 661793184210.7159, whose double prints as 661793184210.716.
_EXACT_BELOW = tuple(10.0 ** (15 - digits) for digits in range(16))


def json_float(value: float) -> str:
    """A float as json.dumps writes it (allow_nan: NaN and the infinities by name)."""
    if value != value:
        return "NaN"
    if value == math.inf:
        return "Infinity"
    if value == -math.inf:
        return "-Infinity"
    return float.__repr__(value)


def composition_entry(span_id: str, name: str, ms: float, duration_ms: float) -> str:
    """One entry of ``agentspans.critical_path.composition``, as ``json.dumps`` with compact
    separators writes ``{"span_id", "name", "ms": round(ms, 3), "share": round(ms / duration,
    4)}`` (share 0.0 for a trace without duration): the general writer and the one-span
    shortcut both write it here."""
    if ms == duration_ms and 0 < ms < math.inf:
        share = "1.0"  # x / x: a trace of one span, whose composition is this entry alone
    else:
        share = json_rounded(ms / duration_ms, 4) if duration_ms > 0 else "0.0"
    return (
        f'{{"span_id":{_json_string(span_id)},"name":{_json_string(name)},'
        f'"ms":{json_rounded(ms, 3)},"share":{share}}}'
    )


_json_string = json.encoder.encode_basestring_ascii  # json.dumps' default (ensure_ascii)
