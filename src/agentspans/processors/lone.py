"""The annotations of a trace that is one span (a standalone LLM call, a lone tool span), written
without building the whole analysis.

A one-span trace is most of what a script that calls a model directly sends, and the general
path (records, forest, accounts, nine detectors, the analysis object, then the writer) spent
about 250 Python calls on it to say what the span says itself: its own time is the whole
critical path, its counts are the trace's totals. This module writes the same attributes from
the span directly. It is a shortcut, never a second opinion:

- it answers only where the general path would find nothing: a span that a per-call detector
  could flag (a slow or prompt-heavy LLM call, a slow tool, GPU memory pressure) goes the
  general way, asked through the predicates those detectors use themselves; the detectors that
  need two spans or a delegation (repeats, retries, sequences, coordination, cost shares)
  cannot speak about one span;
- anything unusual (no duration, a parent that is not remote, an unknown shape) goes the
  general way too;
- tests/analysis/test_lone.py holds its output equal to the general path's for generated spans.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from agentspans import semconv
from agentspans.analysis.accounting import positive, vram_utilization
from agentspans.analysis.detectors.calls import llm_slowness, prompt_weight, tool_too_slow
from agentspans.analysis.thresholds import Thresholds
from agentspans.llm_span import LlmCall, count, read_llm_call
from agentspans.readable import composition_entry, format_ms


def lone_annotations(
    span: ReadableSpan, attributes: Mapping[str, Any], limits: Thresholds
) -> dict[str, Any] | None:
    """The analysis attributes of ``span`` as a trace of its own (``attributes``: the span's,
    with what enrichment added), or None when the general path must answer."""
    return lone_annotations_of(span, attributes, read_llm_call(attributes), limits)


def lone_annotations_of(
    span: ReadableSpan, attributes: Mapping[str, Any], call: LlmCall | None, limits: Thresholds
) -> dict[str, Any] | None:
    """:func:`lone_annotations` with the span's LLM call already read (enrichment reads it:
    ``read_llm_call(attributes)``, None for no LLM call)."""
    start, end, context, parent = _place(span)
    if start is None or end is None or end <= start or context is None:
        return None
    if parent is not None and not parent.is_remote:
        return None
    duration_ns = end - start
    vram_peak: int | None = None
    if semconv.VRAM_PEAK_BYTES in attributes or semconv.VRAM_UTILIZATION_PEAK in attributes:
        vram_peak = count(attributes.get(semconv.VRAM_PEAK_BYTES), semconv.VRAM_PEAK_BYTES)
        share = vram_utilization(attributes, vram_peak)
        if share is not None and share >= limits.vram_pressure_utilization:
            return None
    tokens_in = tokens_out = llm_calls = tool_calls = 0
    cost: float | None = None
    if attributes.get(semconv.GEN_AI_OPERATION_NAME) == semconv.OP_EXECUTE_TOOL:
        if tool_too_slow(duration_ns, limits):
            return None
        tool_calls = 1
    elif call is not None:
        tokens_out = call.output_tokens or 0
        window = attributes.get(semconv.REQUEST_CONTEXT_WINDOW)
        speed = attributes.get(semconv.OUTPUT_TOKENS_PER_SECOND)
        if prompt_weight(
            call.operation,
            call.input_tokens,
            tokens_out,
            positive(window) if window is not None else None,
            limits,
        ) is not None or llm_slowness(
            duration_ns, tokens_out, positive(speed) if speed is not None else None, limits
        ):
            return None
        tokens_in = call.input_tokens or 0
        llm_calls, cost = 1, call.cost_usd
    return _attributes(
        span.name,
        f"{context.span_id:016x}",
        duration_ns,
        tokens_in,
        tokens_out,
        llm_calls,
        tool_calls,
        cost,
        vram_peak,
    )


_PLACE_FIELDS = frozenset({"_start_time", "_end_time", "_context", "_parent"})


def _place(span: ReadableSpan) -> tuple[int | None, int | None, Any, Any]:
    """The span's start, end, context and parent: an SDK span's fields as its properties
    return them, without four property calls."""
    fields = span.__dict__ if type(span) is ReadableSpan else None
    if fields is not None and fields.keys() >= _PLACE_FIELDS:
        return fields["_start_time"], fields["_end_time"], fields["_context"], fields["_parent"]
    return span.start_time, span.end_time, span.context, span.parent


def _attributes(
    name: str,
    span_id: str,
    duration_ns: int,
    tokens_in: int,
    tokens_out: int,
    llm_calls: int,
    tool_calls: int,
    cost: float | None,
    vram_peak: int | None,
) -> dict[str, Any]:
    """What processors/analysis.py writes on a one-span trace's root, in its order."""
    duration_ms = duration_ns / 1e6
    rounded = round(duration_ms, 6)
    took = format_ms(duration_ms)
    out: dict[str, Any] = {
        semconv.CRITICAL_PATH_SELF_MS: rounded,
        semconv.CRITICAL_PATH_ON_PATH: True,
        semconv.ROLLUP_INPUT_TOKENS: tokens_in,
        semconv.ROLLUP_OUTPUT_TOKENS: tokens_out,
        semconv.ROLLUP_LLM_CALLS: llm_calls,
        semconv.ROLLUP_TOOL_CALLS: tool_calls,
    }
    cost_rounded = None
    if cost is not None:
        cost_rounded = round(cost, 10)
        out[semconv.ROLLUP_COST_USD] = cost_rounded
        out[semconv.ROLLUP_PRICED_CALLS] = 1
    if vram_peak is not None:
        out[semconv.ROLLUP_VRAM_PEAK_BYTES] = vram_peak
    out[semconv.TRACE_DURATION_MS] = rounded
    out[semconv.CRITICAL_PATH_COMPOSITION] = (
        f"[{composition_entry(span_id, name, duration_ms, duration_ms)}]"
    )
    out[semconv.COORDINATION_OVERHEAD_MS] = 0.0
    out[semconv.TRACE_TOTAL_INPUT_TOKENS] = tokens_in
    out[semconv.TRACE_TOTAL_OUTPUT_TOKENS] = tokens_out
    out[semconv.TRACE_TOTAL_LLM_CALLS] = llm_calls
    out[semconv.TRACE_TOTAL_TOOL_CALLS] = tool_calls
    out[semconv.TRACE_FINDINGS_COUNT] = 0
    out[semconv.TRACE_ESTIMATED_SAVINGS_MS] = 0
    out[semconv.COORDINATION_OVERHEAD_SHARE] = 0.0
    head = (
        f"{took}, {llm_calls} LLM calls, {tool_calls} tool calls, {tokens_in + tokens_out} tokens"
    )
    if cost_rounded is not None:
        out[semconv.TRACE_TOTAL_COST_USD] = cost_rounded
        head = f"{head}, ${cost:.4g}"
    out[semconv.SUMMARY] = f"{head} | critical path: {name} {took} (100%) | no findings"
    out[semconv.CRITICAL_PATH_STEPS] = [f"+{_ZERO_MS}  {took}  {name}"]
    return out


_ZERO_MS = format_ms(0.0)
