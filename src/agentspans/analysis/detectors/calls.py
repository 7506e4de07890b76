"""Findings about single calls: ``prompt_heavy``, ``slow_llm_call``, ``slow_tool_call``.

``prompt_heavy``: a counted LLM call (not an embeddings call, whose output is not text) with at
least ``prompt_heavy_min_input_tokens`` input tokens and at least ``prompt_heavy_ratio`` times as
many input as output tokens; or whose input fills more than ``prompt_heavy_context_share`` of the
model's context window (``agentspans.request.context_window``, when known). No time saving is
claimed; severity follows the call's share of the trace's input tokens.

``slow_llm_call``: a counted LLM call longer than ``slow_llm_call_ms``, or, with at least
``slow_llm_min_output_tokens`` output tokens, slower than ``slow_llm_tokens_per_s`` (from
``agentspans.response.output_tokens_per_second`` when recorded, else output tokens over the
whole duration). Saving: the time beyond the threshold duration, or the time the output would
have taken less at the threshold speed, whichever is larger.

``slow_tool_call``: a tool call longer than ``slow_tool_call_ms``; saving: the time beyond it.
"""

from __future__ import annotations

from agentspans import semconv
from agentspans.analysis.detectors._view import TraceView, human_ms, ms
from agentspans.analysis.model import Finding
from agentspans.analysis.thresholds import Thresholds

PROMPT_HEAVY = "prompt_heavy"
SLOW_LLM = "slow_llm_call"
SLOW_TOOL = "slow_tool_call"


def prompt_weight(
    operation: str | None,
    tokens_in: int | None,
    tokens_out: int,
    window: float | None,
    limits: Thresholds,
) -> tuple[bool, bool, float | None, float] | None:
    """``(heavy, full, fill, ratio)`` when ``prompt_heavy`` flags this call, else None: heavy by
    the input/output ratio, full by the share of the context window ``window``."""
    if not tokens_in or operation == semconv.OP_EMBEDDINGS:
        return None
    fill = tokens_in / window if window else None
    ratio = tokens_in / tokens_out if tokens_out else float("inf")
    heavy = tokens_in >= limits.prompt_heavy_min_input_tokens and (
        ratio >= limits.prompt_heavy_ratio
    )
    full = fill is not None and fill > limits.prompt_heavy_context_share
    if not heavy and not full:
        return None
    return heavy, full, fill, ratio


def llm_slowness(
    duration_ns: int, tokens_out: int, recorded_speed: float | None, limits: Thresholds
) -> tuple[bool, float | None] | None:
    """``(over the time limit, output tokens/s when below the speed limit)`` when
    ``slow_llm_call`` flags this call, else None. ``recorded_speed``: the span's own output
    speed, when it has one; otherwise the output over the whole duration."""
    min_speed = limits.slow_llm_tokens_per_s
    speed = None
    if min_speed and tokens_out >= max(limits.slow_llm_min_output_tokens, 1):
        speed = recorded_speed
        if speed is None and duration_ns > 0:
            speed = tokens_out / (duration_ns / 1e9)
        if speed is not None and speed >= min_speed:
            speed = None  # fast enough
    over = duration_ns > limits.slow_llm_call_ms * 1e6
    if not over and speed is None:
        return None
    return over, speed


def tool_too_slow(duration_ns: int, limits: Thresholds) -> bool:
    return duration_ns > limits.slow_tool_call_ms * 1e6


def detect_prompt_heavy(view: TraceView) -> list[Finding]:
    accounts, limits = view.accounts, view.thresholds
    trace_input = view.subtrees.input_tokens[0]
    operation, inputs, outputs, windows = (
        accounts.operation,
        accounts.input_tokens,
        accounts.output_tokens,
        accounts.context_window,
    )
    findings = []
    min_input, min_ratio = limits.prompt_heavy_min_input_tokens, limits.prompt_heavy_ratio
    for i in accounts.llm_nodes:
        tokens_in = inputs[i]
        tokens_out = outputs[i] or 0
        window = windows.get(i)
        # Without a context window only the input/output ratio can flag a call: prompt_weight's
        # test for it, inlined, passes over the calls it cannot flag without a call.
        if window is None and (
            not tokens_in
            or tokens_in < min_input
            or (tokens_out and tokens_in / tokens_out < min_ratio)
        ):
            continue
        weight = prompt_weight(operation[i], tokens_in, tokens_out, window, limits)
        if weight is None:
            continue
        assert tokens_in is not None
        heavy, full, fill, ratio = weight
        reasons = []
        if heavy:
            shown = f"{ratio:.0f}x" if tokens_out else "no output"
            reasons.append(f"{tokens_in} input tokens for {tokens_out} output ({shown})")
        if full and fill is not None and window is not None:
            reasons.append(f"{fill:.0%} of the model's {int(window)}-token context window")
        details: dict[str, object] = {"input_tokens": tokens_in, "output_tokens": tokens_out}
        if tokens_out:
            details["ratio"] = ratio
        if fill is not None:
            details["context_window_share"] = fill
        findings.append(
            view.finding(
                PROMPT_HEAVY,
                (i,),
                0.0,
                (
                    f"{view.name(i)!r} sent {' and '.join(reasons)}. Trim or summarise the "
                    "context, retrieve less, or cache the fixed prefix (prompt caching)."
                ),
                details,
                share=tokens_in / trace_input if trace_input else 1.0,
            )
        )
    return findings


def detect_slow_llm(view: TraceView) -> list[Finding]:
    tree, accounts, limits = view.tree, view.accounts, view.thresholds
    start, end, outputs, speeds = (
        tree.start,
        tree.end,
        accounts.output_tokens,
        accounts.tokens_per_s,
    )
    limit_ns = limits.slow_llm_call_ms * 1e6
    min_speed = limits.slow_llm_tokens_per_s
    # Calls within the time limit are passed over unless their output speed is too low
    # (llm_slowness's tests, inlined: most calls are neither).
    min_output = max(limits.slow_llm_min_output_tokens, 1)
    findings = []
    for i in accounts.llm_nodes:
        duration = end[i] - start[i]
        tokens_out = outputs[i] or 0
        if duration <= limit_ns:  # flagged only when too slow
            if not min_speed or tokens_out < min_output:
                continue
            speed = speeds.get(i)
            if speed is None:  # no speed without a duration: passed over
                speed = tokens_out / (duration / 1e9) if duration > 0 else min_speed
            if speed >= min_speed:
                continue
        slowness = llm_slowness(duration, tokens_out, speeds.get(i), limits)
        if slowness is None:
            continue
        over, speed = slowness
        saving = 0.0
        reasons = []
        details: dict[str, object] = {"duration_ms": ms(duration)}
        if over:
            saving = duration - limit_ns
            reasons.append(f"took {human_ms(duration)} (threshold {human_ms(limit_ns)})")
        if speed is not None:
            slower = (tokens_out / speed - tokens_out / min_speed) * 1e9
            saving = max(saving, slower)
            details["output_tokens_per_s"] = speed
            reasons.append(f"produced {speed:.1f} output tokens/s (threshold {min_speed:g})")
        findings.append(
            view.finding(
                SLOW_LLM,
                (i,),
                saving,
                (
                    f"{view.name(i)!r} {' and '.join(reasons)}. Use a faster or smaller model, "
                    "ask for shorter output, or stream it."
                ),
                details,
            )
        )
    return findings


def detect_slow_tools(view: TraceView) -> list[Finding]:
    accounts, limits = view.accounts, view.thresholds
    start, end = view.tree.start, view.tree.end
    findings = []
    limit_ns = limits.slow_tool_call_ms * 1e6  # tool_too_slow's test, inlined: one per tool
    for i in accounts.tool_nodes:
        duration = end[i] - start[i]
        if not duration > limit_ns:
            continue
        saving = duration - limits.slow_tool_call_ms * 1e6
        findings.append(
            view.finding(
                SLOW_TOOL,
                (i,),
                saving,
                (
                    f"{view.name(i)!r} took {human_ms(duration)} (threshold "
                    f"{human_ms(limits.slow_tool_call_ms * 1e6)}). Cache its result, add a "
                    "timeout, or run it concurrently with other work."
                ),
                {"duration_ms": ms(duration)},
            )
        )
    return findings
