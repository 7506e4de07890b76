"""What a trace's own evidence says about its findings: a finding it contradicts is a bug.

Independent of the detectors' code: the links are rebuilt here from the raw attributes.

* dependency edges from tool-call ids: the model call whose response asked for call X -> the
  tool span executing X -> every model call whose request carried X's result back; and a model
  call -> a later model call whose request carries a result the first asked for;
* a ``parallelizable_sequence`` must not hold two spans joined by a chain of such edges, nor a
  model call together with a sibling tool call after it (the agent loop) or before it;
* no span is both retried (``error_retry``) and advised to run concurrently;
* a ``repeated_call`` names a repeat that started after an identical call had ended;
* coordination overhead is the own time of coordinators alone (ARCHITECTURE.md's contract):
  ``invoke_agent`` spans that delegate to another ``invoke_agent`` span (the nearest agent
  above an agent span delegates to it), and the root when there is an agent span beneath it.
  An agent working through its own model and tool calls is no coordinator: with no agent below
  the root, the overhead is 0 and there is no ``coordination_overhead`` finding; a finding
  names coordinators only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentspans import semconv
from agentspans.analysis import SpanRecord, TraceAnalysis

_LLM = semconv.LLM_OPERATIONS
_AGENT = semconv.OP_INVOKE_AGENT


def _ids(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    return {v for v in value or () if isinstance(v, str)}


def dependency_edges(records: Sequence[SpanRecord]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {r.span_id: set() for r in records}
    asked = {r.span_id: _ids(r.attributes.get(semconv.RESPONSE_TOOL_CALL_IDS)) for r in records}
    carried = {r.span_id: _ids(r.attributes.get(semconv.REQUEST_TOOL_RESULT_IDS)) for r in records}
    executes = {
        r.span_id: r.attributes[semconv.GEN_AI_TOOL_CALL_ID]
        for r in records
        if semconv.GEN_AI_TOOL_CALL_ID in r.attributes
    }
    for model, ids in asked.items():
        for tool, call in executes.items():
            if call in ids:
                edges[model].add(tool)
        for later, results in carried.items():
            if ids & results:
                edges[model].add(later)
    for tool, call in executes.items():
        for later, results in carried.items():
            if call in results:
                edges[tool].add(later)
    return edges


def _reaches(edges: dict[str, set[str]], a: str, b: str) -> bool:
    seen, stack = {a}, [a]
    while stack:
        for nxt in edges.get(stack.pop(), ()):
            if nxt == b:
                return True
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False


def contradictions(records: Sequence[SpanRecord], result: TraceAnalysis) -> list[str]:
    by_id = {r.span_id: r for r in records}
    op = {r.span_id: r.attributes.get(semconv.GEN_AI_OPERATION_NAME) for r in records}
    edges = dependency_edges(records)
    problems: list[str] = []
    retried = {s for f in result.findings if f.kind == "error_retry" for s in f.span_ids}
    coordinating = coordinators(records, result)
    for finding in result.findings:
        ids = finding.span_ids
        if finding.kind == "parallelizable_sequence":
            for a in ids:
                for b in ids:
                    if a != b and _reaches(edges, a, b):
                        problems.append(f"sequence holds {a} -> {b}, linked by tool-call ids")
            if any(op[s] in _LLM for s in ids):
                problems.append(f"sequence {ids} holds a model call (an agent loop step)")
            if retried & set(ids):
                problems.append(f"sequence {ids} holds retried calls {retried & set(ids)}")
        if finding.kind == "repeated_call":
            spans = sorted((by_id[s] for s in ids), key=lambda r: r.start_ns)
            first_end = min(r.end_ns for r in spans)
            if not any(r.start_ns >= first_end for r in spans):
                problems.append(f"repeated_call {ids}: all made concurrently, nothing reusable")
        if finding.kind == "coordination_overhead":
            outside = set(ids) - coordinating
            if outside:
                problems.append(f"coordination_overhead names non-coordinators {outside}")
    if result.coordination_overhead_ms and not coordinating:
        problems.append("coordination overhead on a trace where no agent delegated to an agent")
    return problems


def coordinators(records: Sequence[SpanRecord], result: TraceAnalysis) -> set[str]:
    """The contract's coordinators of ``result``'s tree, from the raw parent ids."""
    in_tree = set(result.span_ids)
    by_id = {r.span_id: r for r in records if r.span_id in in_tree}
    root = result.root_span_id
    agents = {
        s for s, r in by_id.items() if r.attributes.get(semconv.GEN_AI_OPERATION_NAME) == _AGENT
    }
    found: set[str] = set()
    for sid in agents - {root}:
        seen = {sid}
        up = by_id[sid].parent_id
        while up is not None and up in by_id and up not in seen and up != root:
            if up in agents:
                found.add(up)
                break
            seen.add(up)
            up = by_id[up].parent_id
        found.add(root)  # an agent beneath the root: the trace delegated
    return found
