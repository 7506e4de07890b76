"""``parallelizable_sequence``'s shortcuts through the id chain against the definitions they
replace. ``_RunLinks``: a tool call ``step`` and the run are linked when ``step`` is downstream
of the run's calls with an id, or one of them is downstream of ``step`` (``Links.downstream``
asked afresh at every step); random id graphs, random runs that grow and restart. ``_linked``:
delegations are linked when a call inside one needs a call inside another, the calls found
by walking every linked call up to the run; random delegation subtrees."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agentspans import semconv
from agentspans.analysis.accounting import account, subtrees
from agentspans.analysis.detectors import TraceView
from agentspans.analysis.detectors._links import Links
from agentspans.analysis.detectors.sequences import _linked, _RunLinks
from agentspans.analysis.forest import build_forest
from agentspans.analysis.model import SpanRecord
from agentspans.analysis.thresholds import Thresholds

TRACE = "e" * 32
OP, AGENT, TOOL = semconv.GEN_AI_OPERATION_NAME, semconv.OP_INVOKE_AGENT, semconv.OP_EXECUTE_TOOL


def reference(links: Links, step: int, run: list[int]) -> bool:
    if not links.carried or step not in links.call_id:
        return False
    members = [m for m in run if m in links.call_id]
    return bool(members) and (
        step in links.downstream(members) or not links.downstream((step,)).isdisjoint(members)
    )


@st.composite
def graphs(draw: st.DrawFn) -> Links:
    """Model calls 0-4 and tool calls 10-19 over the ids c0..c5."""
    ids = [f"c{k}" for k in range(6)]
    links = Links()
    for model in range(5):
        asked = tuple(draw(st.lists(st.sampled_from(ids), max_size=3, unique=True)))
        if asked:
            links.asked[model] = asked
        carried = tuple(draw(st.lists(st.sampled_from(ids), max_size=3, unique=True)))
        if carried:
            links.carried[model] = carried
    for tool in range(10, 20):
        if draw(st.booleans()):
            call = draw(st.sampled_from(ids))
            links.call_id[tool] = call
            links.executor.setdefault(call, tool)
            links.executors.setdefault(call, []).append(tool)
    return links


@settings(max_examples=300)
@given(graphs(), st.lists(st.tuples(st.integers(10, 19), st.booleans()), max_size=30))
def test_running_record_answers_as_the_definition(
    links: Links, steps: list[tuple[int, bool]]
) -> None:
    chain = _RunLinks(links)
    run: list[int] = []
    for step, restart in steps:
        assert chain.needs_any(step) == reference(links, step, run)
        if restart:
            run = []
            chain.clear()
        run.append(step)
        chain.add(step)


def reference_linked(view: TraceView, run: list[int]) -> bool:
    """``_linked`` as first written: every linked call of the trace walked up to the run."""
    links = view.links()
    if not links.carried:
        return False
    members = set(run)
    owner: dict[int, int] = {}
    for node in (*links.asked, *links.carried, *links.call_id):
        up = node
        while up >= 0 and up not in members:
            up = view.tree.parent[up]
        if up >= 0:
            owner[node] = up
    inside: dict[int, list[int]] = {}
    for node, delegation in owner.items():
        inside.setdefault(delegation, []).append(node)
    return any(
        owner.get(needing, delegation) != delegation
        for delegation, nodes in inside.items()
        for needing in links.downstream(nodes)
    )


@st.composite
def delegations(draw: st.DrawFn) -> list[SpanRecord]:
    """A root over a few delegations; inside each, a small random subtree of model and tool
    calls (and nested agents) that ask for, carry and execute ids from one small pool."""
    ids = ["a", "b", "c", "d"]
    records = [SpanRecord(TRACE, "r".zfill(16), None, "root", 0, 10_000, {OP: AGENT})]
    count = 0

    def add(parent: str, depth: int) -> None:
        nonlocal count
        count += 1
        span_id = f"{count:016x}"
        kind = draw(st.sampled_from(["chat", "tool", "agent"] if depth < 3 else ["chat", "tool"]))
        attrs: dict[str, Any] = {OP: {"chat": "chat", "tool": TOOL, "agent": AGENT}[kind]}
        if kind == "chat":
            for key in (semconv.RESPONSE_TOOL_CALL_IDS, semconv.REQUEST_TOOL_RESULT_IDS):
                chosen = draw(st.lists(st.sampled_from(ids), max_size=2, unique=True))
                if chosen:
                    attrs[key] = tuple(chosen)
        elif kind == "tool" and draw(st.booleans()):
            attrs[semconv.GEN_AI_TOOL_CALL_ID] = draw(st.sampled_from(ids))
        records.append(SpanRecord(TRACE, span_id, parent, kind, count, count + 1, attrs))
        if kind == "agent":
            for _ in range(draw(st.integers(0, 3))):
                add(span_id, depth + 1)

    for _ in range(draw(st.integers(1, 5))):
        add("r".zfill(16), 0)
    return records


@settings(max_examples=300)
@given(delegations())
def test_linked_delegations_found_by_range_as_by_walking_up(records: list[SpanRecord]) -> None:
    (tree,) = build_forest(records)
    accounts = account(tree)
    view = TraceView(tree, accounts, subtrees(tree, accounts), Thresholds(), 1, {}, {}, [], 0)
    run = tree.children.get(0, [])
    for cut in range(len(run)):
        assert _linked(view, run[cut:]) == reference_linked(view, run[cut:])
