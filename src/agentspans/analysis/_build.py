"""Faster constructors for the two model classes the analysis makes by the thousand.

``Segment`` is a named tuple: ``tuple.__new__`` builds one without its generated Python-level
``__new__``, and a 100,000-span chain has 200,000 of them. ``Rollup`` and ``SpanRecord`` (one
per span the processor analyses) are frozen dataclasses,
whose ``__init__`` sets each field through ``object.__setattr__`` (to get past its own frozen
``__setattr__``); writing the slots through their descriptors does the same a third as fast,
and a ``Rollup`` is filled as an unfrozen twin of the same slots, then given its class.
The objects are indistinguishable from ones made the usual way (same fields, equality and
hash); tests/analysis/test_build.py keeps it so if a field is added.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agentspans.analysis.model import Finding, Rollup, Segment, SpanEvent, SpanRecord

_new = object.__new__


def _setter(cls: type, field: str) -> Callable[[Any, Any], None]:
    """The slot descriptor's own ``__set__``: it stores the value, frozen or not."""
    setter: Callable[[Any, Any], None] = vars(cls)[field].__set__
    return setter


_new_tuple = tuple.__new__
# For a caller building many segments inline: segment_new(Segment, (id, name, start, end)).
segment_new = _new_tuple


def segment(span_id: str, name: str, start_ms: float, end_ms: float) -> Segment:
    # Segment is a named tuple: tuple.__new__ skips its generated Python-level __new__.
    made: Segment = _new_tuple(Segment, (span_id, name, start_ms, end_ms))
    return made


class _OpenRollup:
    """``Rollup``'s slots without its frozen ``__setattr__``: plain attribute stores fill one
    (CPython specialises them to a slot write), then assigning ``__class__`` makes it a
    ``Rollup``, which Python allows between classes of the same slots and base. Seven calls of
    a slot descriptor's ``__set__`` (a method-wrapper, an argument tuple each) cost about three
    times as much, and a 10k delegation chain has 10,000 rollups."""

    __slots__ = Rollup.__slots__
    # What mypy knows of the slots (the class body gives them no type otherwise).
    input_tokens: int
    output_tokens: int
    cost_usd: float
    llm_calls: int
    tool_calls: int
    priced_calls: int
    vram_peak_bytes: int | None


def rollup(
    input_tokens: int,
    output_tokens: int,
    cost_usd: float,
    llm_calls: int,
    tool_calls: int,
    priced_calls: int,
    vram_peak_bytes: int | None,
) -> Rollup:
    made = _new(_OpenRollup)
    made.input_tokens = input_tokens
    made.output_tokens = output_tokens
    made.cost_usd = cost_usd
    made.llm_calls = llm_calls
    made.tool_calls = tool_calls
    made.priced_calls = priced_calls
    made.vram_peak_bytes = vram_peak_bytes
    made.__class__ = Rollup  # type: ignore[assignment]
    return made  # type: ignore[return-value]


def rollups(
    span_ids: list[str],
    nodes: list[int],
    columns: tuple[
        list[int], list[int], list[float], list[int], list[int], list[int], list[int | None]
    ],
) -> dict[str, Rollup]:
    """``rollup`` of each of ``nodes`` from the subtree totals' columns (in ``Rollup``'s field
    order), by span id, in one loop: a deep delegation chain has one per span."""
    ins, outs, cost, llm, tools, priced, vram = columns
    found: dict[str, Rollup] = {}
    for i in nodes:
        made = _new(_OpenRollup)
        made.input_tokens = ins[i]
        made.output_tokens = outs[i]
        made.cost_usd = cost[i]
        made.llm_calls = llm[i]
        made.tool_calls = tools[i]
        made.priced_calls = priced[i]
        made.vram_peak_bytes = vram[i]
        made.__class__ = Rollup  # type: ignore[assignment]
        found[span_ids[i]] = made  # type: ignore[assignment]
    return found


class _OpenFinding:
    """``Finding``'s slots, unfrozen: the same trick as ``_OpenRollup`` (a busy trace has
    hundreds of findings, each otherwise six ``object.__setattr__`` calls)."""

    __slots__ = Finding.__slots__
    kind: str
    severity: str
    span_ids: tuple[str, ...]
    estimated_savings_ms: float
    message: str
    details: Mapping[str, Any]


def finding(
    kind: str,
    severity: str,
    span_ids: tuple[str, ...],
    estimated_savings_ms: float,
    message: str,
    details: Mapping[str, Any],
) -> Finding:
    made = _new(_OpenFinding)
    made.kind = kind
    made.severity = severity
    made.span_ids = span_ids
    made.estimated_savings_ms = estimated_savings_ms
    made.message = message
    made.details = details
    made.__class__ = Finding  # type: ignore[assignment]
    return made  # type: ignore[return-value]


_RECORD_FIELDS = (
    "trace_id",
    "span_id",
    "parent_id",
    "name",
    "start_ns",
    "end_ns",
    "attributes",
    "error",
    "service",
    "events",
    "parent_is_remote",
)
(
    _s_trace,
    _s_span,
    _s_parent,
    _s_name,
    _s_start,
    _s_end,
    _s_attributes,
    _s_error,
    _s_service,
    _s_events,
    _s_remote,
) = (_setter(SpanRecord, field) for field in _RECORD_FIELDS)


def span_record(
    trace_id: str,
    span_id: str,
    parent_id: str | None,
    name: str,
    start_ns: int,
    end_ns: int,
    attributes: Any,
    error: bool,
    service: str | None,
    events: tuple[SpanEvent, ...],
    parent_is_remote: bool,
) -> SpanRecord:
    made: SpanRecord = _new(SpanRecord)
    _s_trace(made, trace_id)
    _s_span(made, span_id)
    _s_parent(made, parent_id)
    _s_name(made, name)
    _s_start(made, start_ns)
    _s_end(made, end_ns)
    _s_attributes(made, attributes)
    _s_error(made, error)
    _s_service(made, service)
    _s_events(made, events)
    _s_remote(made, parent_is_remote)
    return made
