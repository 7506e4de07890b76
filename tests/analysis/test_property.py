"""Random trees against references written independently of the implementation.

* ``reference_path``: the rule read literally, recursively, scanning every child linearly at
  each step (quadratic, no sorting, no shared helpers);
* ``ticks_own``: own time by counting integer ticks not covered by any clipped child;
* the tiling: segments start at 0, follow each other without gaps, and end at the duration;
  and at every tick the span holding the path is one whose clipped window contains that tick.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from agentspans import semconv
from agentspans.analysis import SpanRecord, analyze

TRACE = "f" * 32


@dataclass
class Node:
    id: str
    parent: str | None
    start: int
    end: int
    agent: bool


@st.composite
def trees(draw: st.DrawFn) -> list[Node]:
    size = draw(st.integers(1, 25))
    nodes = [Node("n00", None, draw(st.integers(0, 10)), draw(st.integers(10, 60)), True)]
    for i in range(1, size):
        parent = nodes[draw(st.integers(0, i - 1))]
        # Children mostly inside their parent, sometimes sticking out or wholly outside, now
        # and then ending before they start, with small integer times so that ties and
        # back-to-back siblings are common.
        start = draw(st.integers(parent.start - 5, parent.end + 3))
        end = start + draw(st.integers(-3, 30))
        nodes.append(Node(f"n{i:02d}", parent.id, start, end, draw(st.booleans())))
    return nodes


def to_records(nodes: list[Node]) -> list[SpanRecord]:
    return [
        SpanRecord(
            TRACE,
            n.id,
            n.parent,
            n.id,
            n.start,
            n.end,
            {semconv.GEN_AI_OPERATION_NAME: semconv.OP_INVOKE_AGENT if n.agent else "other"},
        )
        for n in nodes
    ]


def reference_path(nodes: list[Node]) -> list[tuple[str, int, int]]:
    """The rule, literally: recursive, linear scans, clipping on the way down."""
    kids: dict[str, list[Node]] = {n.id: [] for n in nodes}
    for n in nodes:
        if n.parent is not None:
            kids[n.parent].append(n)
    out: list[tuple[str, int, int]] = []  # built backwards

    def walk(node: Node, lo: int, hi: int) -> None:
        # node's clipped window is [lo, hi]; the cursor starts at its end.
        clipped = []
        for child in kids[node.id]:
            s, e = max(child.start, lo), min(child.end, hi)
            if s <= e:  # children wholly outside the window are dropped
                clipped.append((child, s, e))
        used: set[str] = set()
        cursor = hi
        while True:
            candidates = [c for c in clipped if c[2] <= cursor and c[0].id not in used]
            if not candidates:
                break
            latest = max(c[2] for c in candidates)
            candidates = [c for c in candidates if c[2] == latest]
            earliest = min(c[0].start for c in candidates)  # unclipped start
            candidates = [c for c in candidates if c[0].start == earliest]
            child, s, e = min(candidates, key=lambda c: c[0].id)
            used.add(child.id)
            if cursor > e:
                out.append((node.id, e, cursor))
            walk(child, s, e)
            cursor = s
        if cursor > lo:
            out.append((node.id, lo, cursor))

    root = nodes[0]
    walk(root, root.start, max(root.end, root.start))
    out.reverse()
    # Merge stretches of one span that touch (a zero-length pick would split them).
    merged: list[tuple[str, int, int]] = []
    for stretch in out:
        if merged and merged[-1][0] == stretch[0] and merged[-1][2] == stretch[1]:
            merged[-1] = (stretch[0], merged[-1][1], stretch[2])
        else:
            merged.append(stretch)
    return merged


def ticks_own(nodes: list[Node], node: Node) -> int:
    covered: set[int] = set()
    for child in nodes:
        if child.parent == node.id:
            covered.update(range(max(child.start, node.start), min(child.end, node.end)))
    return sum(1 for tick in range(node.start, node.end) if tick not in covered)


def clipped_window(nodes: list[Node], node: Node) -> tuple[int, int] | None:
    by_id = {n.id: n for n in nodes}
    lo, hi = node.start, node.end
    current = node
    while current.parent is not None:
        current = by_id[current.parent]
        lo, hi = max(lo, current.start), min(hi, current.end)
    return (lo, hi) if lo <= hi else None


@settings(max_examples=2000, deadline=None)
@given(trees(), st.randoms(use_true_random=False))
def test_random_trees_match_the_references(nodes: list[Node], rng: random.Random) -> None:
    records = to_records(nodes)
    (result,) = analyze(records)
    # 0. The input's order changes nothing (ties in start times are common here).
    rng.shuffle(records)
    assert analyze(records) == [result]
    root = nodes[0]
    ms = 1e6
    # 1. Equal to the literal reference.
    got = [
        (s.span_id, round(s.start_ms * ms) + root.start, round(s.end_ms * ms) + root.start)
        for s in result.critical_path
    ]
    assert got == reference_path(nodes)
    # 2. The segments tile the root's window.
    duration = root.end - root.start
    assert result.duration_ms == duration / ms
    if duration:
        assert result.critical_path[0].start_ms == 0.0
        assert result.critical_path[-1].end_ms == duration / ms
    for before, after in zip(result.critical_path, result.critical_path[1:], strict=False):
        assert before.end_ms == after.start_ms
    assert all(s.end_ms > s.start_ms for s in result.critical_path)
    assert abs(sum(result.path_self_ms.values()) * ms - duration) < 1e-6
    # 3. At every tick the span holding the path is inside its clipped window.
    for segment in result.critical_path:
        node = next(n for n in nodes if n.id == segment.span_id)
        window = clipped_window(nodes, node)
        assert window is not None
        assert window[0] <= segment.start_ms * ms + root.start
        assert segment.end_ms * ms + root.start <= window[1]
    # 4. Coordination overhead = tick-counted own time of the agents that delegated to another
    # (the root included: it is an agent here; these trees hold no LLM or tool calls).
    by_id = {n.id: n for n in nodes}

    def has_agent_below(node: Node) -> bool:
        for other in nodes:
            current = other
            while current.parent is not None:
                current = by_id[current.parent]
                if current.id == node.id and other.agent:
                    return True
        return False

    coordinators = [n for n in nodes if n.agent and has_agent_below(n)]
    expected = sum(ticks_own(nodes, n) for n in coordinators)
    assert round(result.coordination_overhead_ms * ms) == expected
