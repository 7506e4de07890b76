"""The analysis's fast paths held to the definitions they replaced, on generated inputs.

* ``own_time_ns`` merges a span's children in tree (start) order without sorting them: equal to
  the sort-then-merge definition, and still so for children handed to it out of order;
* ``clipped_windows`` marks a dropped span by an inverted window rather than a ``kept`` list:
  the spans it keeps, and their windows, are the old definition's;
* ``build_forest``'s walk records each span's children as it goes: equal to the children read
  off the parent list;
* ``slow_llm_call``, ``prompt_heavy`` and ``slow_tool_call`` test their limits inline and call
  their helpers only where those could flag a call: they flag exactly the calls the helpers
  flag when asked about every call.
"""

from __future__ import annotations

import dataclasses
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from agentspans import semconv
from agentspans.analysis import Finding, SpanRecord, Thresholds
from agentspans.analysis.accounting import account, subtrees
from agentspans.analysis.critical_path import clipped_windows, own_time_ns
from agentspans.analysis.detectors import TraceView, ordered
from agentspans.analysis.detectors.calls import (
    detect_prompt_heavy,
    detect_slow_llm,
    detect_slow_tools,
    llm_slowness,
    prompt_weight,
    tool_too_slow,
)
from agentspans.analysis.forest import Tree, build_forest

TRACE = "e" * 32


def sorted_own_time(tree: Tree, node: int) -> int:
    """The definition ``own_time_ns`` had: clip every child, sort the windows, merge."""
    start, end = tree.start[node], tree.end[node]
    spans = []
    for child in tree.children.get(node, ()):
        s, e = max(tree.start[child], start), min(tree.end[child], end)
        if e > s:
            spans.append((s, e))
    spans.sort()
    covered = 0
    run_start = run_end = start
    for s, e in spans:
        if s > run_end:
            covered += run_end - run_start
            run_start, run_end = s, e
        elif e > run_end:
            run_end = e
    return (end - start) - (covered + run_end - run_start)


def kept_windows(tree: Tree) -> dict[int, tuple[int, int]]:
    """The definition ``clipped_windows`` had: the surviving spans and their clipped windows."""
    kept = {0: (tree.start[0], tree.end[0])}
    for i in range(1, len(tree)):
        window = kept.get(tree.parent[i])
        if window is None:
            continue
        s, e = max(tree.start[i], window[0]), min(tree.end[i], window[1])
        if s <= e:
            kept[i] = (s, e)
    return kept


def random_records(rng: random.Random, size: int) -> list[SpanRecord]:
    """One trace: children mostly inside their parents, some sticking out or wholly outside,
    now and then ending before they start; small integer times, so ties are common."""
    spans = [("s000", None, 0, rng.randrange(10, 60))]
    for i in range(1, size):
        _, _, p_start, p_end = parent = spans[rng.randrange(i)]
        start = rng.randrange(p_start - 5, p_end + 4)
        spans.append((f"s{i:03d}", parent[0], start, start + rng.randrange(-3, 30)))
    records = [SpanRecord(TRACE, sid, pid, sid, s, e) for sid, pid, s, e in spans]
    rng.shuffle(records)
    return records


@settings(max_examples=500, deadline=None)
@given(st.integers(1, 60), st.randoms(use_true_random=False))
def test_tree_fast_paths_equal_their_definitions(size: int, rng: random.Random) -> None:
    for tree in build_forest(random_records(rng, size)):
        by_parent: dict[int, list[int]] = {}
        for i in range(1, len(tree)):
            by_parent.setdefault(tree.parent[i], []).append(i)
        assert tree.children == by_parent
        assert list(tree.children) == list(by_parent)
        for node in range(len(tree)):
            assert own_time_ns(tree, node) == sorted_own_time(tree, node)
        clip_start, clip_end = clipped_windows(tree)
        survivors = {
            i: (clip_start[i], clip_end[i])
            for i in range(len(tree))
            if clip_start[i] <= clip_end[i]
        }
        assert survivors == kept_windows(tree)


@settings(max_examples=500, deadline=None)
@given(st.integers(2, 40), st.randoms(use_true_random=False))
def test_own_time_with_children_out_of_order(size: int, rng: random.Random) -> None:
    """Handed children in any order, ``own_time_ns`` falls back to sorting their windows."""
    for tree in build_forest(random_records(rng, size)):
        for kids in tree.children.values():
            rng.shuffle(kids)
        for node in range(len(tree)):
            assert own_time_ns(tree, node) == sorted_own_time(tree, node)


_SECOND = 1_000_000_000


@st.composite
def llm_and_tool_calls(draw: st.DrawFn) -> list[SpanRecord]:
    records = [SpanRecord(TRACE, "root", None, "root", 0, 100 * _SECOND)]
    for i in range(draw(st.integers(0, 30))):
        start = draw(st.integers(0, 50 * _SECOND))
        end = start + draw(st.sampled_from([0, 1, _SECOND // 2, 5 * _SECOND, 40 * _SECOND]))
        if draw(st.booleans()):
            attributes = {semconv.GEN_AI_OPERATION_NAME: semconv.OP_EXECUTE_TOOL}
        else:
            attributes = {
                semconv.GEN_AI_OPERATION_NAME: draw(
                    st.sampled_from(["chat", semconv.OP_EMBEDDINGS, "text_completion"])
                ),
                semconv.GEN_AI_USAGE_INPUT_TOKENS: draw(st.sampled_from([0, 1, 1999, 2000, 9000])),
                semconv.GEN_AI_USAGE_OUTPUT_TOKENS: draw(st.sampled_from([0, 1, 49, 50, 100, 450])),
            }
            if draw(st.booleans()):
                attributes[semconv.REQUEST_CONTEXT_WINDOW] = draw(st.sampled_from([1000, 10_000]))
            if draw(st.booleans()):
                attributes[semconv.OUTPUT_TOKENS_PER_SECOND] = draw(st.sampled_from([0.5, 10, 99]))
        records.append(SpanRecord(TRACE, f"c{i:02d}", "root", f"c{i:02d}", start, end, attributes))
    return records


@settings(max_examples=400, deadline=None)
@given(
    llm_and_tool_calls(),
    st.builds(
        Thresholds,
        slow_llm_call_ms=st.sampled_from([0.0, 1000.0, 30_000.0]),
        slow_llm_tokens_per_s=st.sampled_from([0.0, 10.0, 1000.0]),
        slow_llm_min_output_tokens=st.sampled_from([0, 1, 50]),
        prompt_heavy_min_input_tokens=st.sampled_from([0, 2000]),
        prompt_heavy_ratio=st.sampled_from([0.0, 20.0]),
        slow_tool_call_ms=st.sampled_from([0.0, 10_000.0]),
    ),
)
def test_call_detectors_flag_what_their_helpers_flag(
    records: list[SpanRecord], limits: Thresholds
) -> None:
    tree = build_forest(records)[0]
    accounts = account(tree)
    view = TraceView(tree, accounts, subtrees(tree, accounts), limits, tree.end[0], {}, {}, [], 0)

    def flagged(findings: list) -> list[str]:  # type: ignore[type-arg]
        return [f.span_ids[0] for f in findings]

    def ids(nodes: list[int]) -> list[str]:
        return [tree.records[i].span_id for i in nodes]

    start, end = tree.start, tree.end
    slow = [
        i
        for i in accounts.llm_nodes
        if llm_slowness(
            end[i] - start[i],
            accounts.output_tokens[i] or 0,
            accounts.tokens_per_s.get(i),
            limits,
        )
        is not None
    ]
    assert flagged(detect_slow_llm(view)) == ids(slow)
    heavy = [
        i
        for i in accounts.llm_nodes
        if prompt_weight(
            accounts.operation[i],
            accounts.input_tokens[i],
            accounts.output_tokens[i] or 0,
            accounts.context_window.get(i),
            limits,
        )
        is not None
    ]
    assert flagged(detect_prompt_heavy(view)) == ids(heavy)
    tools = [i for i in accounts.tool_nodes if tool_too_slow(end[i] - start[i], limits)]
    assert flagged(detect_slow_tools(view)) == ids(tools)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.builds(
            Finding,
            kind=st.sampled_from(["a", "b", "prompt_heavy"]),
            severity=st.just("low"),
            span_ids=st.lists(st.sampled_from(["s1", "s2", "s10"]), max_size=3).map(tuple),
            estimated_savings_ms=st.sampled_from([0.0, -0.0, 1.5, 2.0, 1e9]),
            message=st.just(""),
            details=st.just({}),
        ),
        max_size=40,
    )
)
def test_findings_ordered_as_by_one_tuple_key(found: list[Finding]) -> None:
    expected = sorted(found, key=lambda f: (-f.estimated_savings_ms, f.kind, f.span_ids))
    result = ordered(list(found))
    assert [id(f) for f in result] == [id(f) for f in expected]


def _shape(trees: list[Tree]) -> list[tuple[object, ...]]:
    return [
        (t.trace_id, t.records, t.parent, t.children, t.start, t.end, t.problems) for t in trees
    ]


@settings(max_examples=500, deadline=None)
@given(st.integers(1, 40), st.integers(1, 3), st.randoms(use_true_random=False))
def test_forest_sorts_families_as_the_whole_input_sorted(
    size: int, traces: int, rng: random.Random
) -> None:
    """``build_forest`` sorts each span's children (and the roots, and the orphans) rather than
    the whole input: the trees are those of the input sorted first, whatever its order, with
    duplicated span ids, orphans and cycles of parent links among the spans."""
    records = []
    for t in range(traces):
        trace = f"{t:032x}"
        group = [
            SpanRecord(trace, r.span_id, r.parent_id, r.name, r.start_ns, r.end_ns)
            for r in random_records(rng, size)
        ]
        for _ in range(rng.randrange(3)):  # rewire a parent: an orphan or a cycle
            k = rng.randrange(len(group))
            parent = rng.choice([*[r.span_id for r in group], "missing"])
            group[k] = dataclasses.replace(group[k], parent_id=parent)
        if rng.random() < 0.3:  # a span id seen twice
            group.append(dataclasses.replace(rng.choice(group), start_ns=rng.randrange(-5, 60)))
        records.extend(group)
    rng.shuffle(records)
    in_order = sorted(records, key=lambda r: (r.start_ns, r.span_id, r.end_ns))
    assert _shape(build_forest(records)) == _shape(build_forest(in_order))
