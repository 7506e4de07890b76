"""A tiny builder for hand-written traces: times in whole milliseconds from 0."""

from __future__ import annotations

from typing import Any

from agentspans import semconv
from agentspans.analysis import SpanRecord

MS = 1_000_000
TRACE = "0af7651916cd43dd8448eb211c80319c"


def span(
    span_id: str,
    parent: str | None,
    start_ms: float,
    end_ms: float,
    *,
    op: str | None = None,
    name: str | None = None,
    error: bool = False,
    trace: str = TRACE,
    remote: bool = False,
    **attributes: Any,
) -> SpanRecord:
    attrs: dict[str, Any] = {k.replace("__", "."): v for k, v in attributes.items()}
    if op is not None:
        attrs[semconv.GEN_AI_OPERATION_NAME] = op
    return SpanRecord(
        trace_id=trace,
        span_id=span_id,
        parent_id=parent,
        name=name or span_id,
        start_ns=int(start_ms * MS),
        end_ns=int(end_ms * MS),
        attributes=attrs,
        error=error,
        parent_is_remote=remote,
    )


def agent(span_id: str, parent: str | None, start: float, end: float, **kw: Any) -> SpanRecord:
    kw.setdefault(semconv.GEN_AI_AGENT_NAME.replace(".", "__"), span_id)
    return span(span_id, parent, start, end, op=semconv.OP_INVOKE_AGENT, **kw)


def tool(span_id: str, parent: str, start: float, end: float, **kw: Any) -> SpanRecord:
    return span(span_id, parent, start, end, op=semconv.OP_EXECUTE_TOOL, **kw)


def chat(
    span_id: str,
    parent: str,
    start: float,
    end: float,
    *,
    tokens: tuple[int, int] | None = None,
    cost: float | None = None,
    fingerprint: str | None = None,
    **kw: Any,
) -> SpanRecord:
    if tokens is not None:
        kw["gen_ai__usage__input_tokens"], kw["gen_ai__usage__output_tokens"] = tokens
    if cost is not None:
        kw["agentspans__cost__usd"] = cost
    if fingerprint is not None:
        kw["agentspans__request__fingerprint"] = fingerprint
    return span(span_id, parent, start, end, op=semconv.OP_CHAT, **kw)


def path_of(analysis: Any) -> list[tuple[str, float, float]]:
    return [(s.span_id, s.start_ms, s.end_ms) for s in analysis.critical_path]
