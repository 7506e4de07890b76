"""The critical path of a tree and each span's own time, by the rule in ARCHITECTURE.md.

The rule: walk back from the root's end. Every child is first clipped to its parent's (clipped)
window; children wholly outside it are dropped. At cursor ``t`` inside a span, the child that
finishes last at or before ``t`` is on the path: the gap between its end and ``t`` is the
parent's own time, the walk continues inside the child from its end, then resumes in the parent
at the child's start. With no such child the rest, back to the span's start, is the span's own.

Ties, for a deterministic answer: among children ending at the same instant, the one that
started first (the longest) is taken, because it explains the most of the wait; among children
with identical windows, the lowest span id. Zero-length stretches are not segments, so a
zero-length span is never on the path, and consecutive stretches of one span are merged.

Each child is considered at most once and found by binary search over its siblings sorted by
end, so the walk costs O(n log n); it is iterative, so a 100k-deep chain is fine.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from agentspans.analysis.forest import Tree


@dataclass(frozen=True, slots=True)
class PathStretch:
    """Tree index ``node`` was doing its own work from ``start_ns`` to ``end_ns``."""

    node: int
    start_ns: int
    end_ns: int


def clipped_windows(tree: Tree) -> tuple[list[int], list[int], list[bool]]:
    """Each span's window clipped to its parent's clipped window, and whether it survived."""
    n = len(tree)
    starts, ends, parent = tree.start, tree.end, tree.parent
    clip_start = [0] * n
    clip_end = [0] * n
    kept = [True] * n
    if n:
        clip_start[0], clip_end[0] = starts[0], ends[0]
    for i in range(1, n):  # preorder: every parent comes before its children
        p = parent[i]
        if not kept[p]:
            kept[i] = False
            continue
        s = starts[i] if starts[i] > clip_start[p] else clip_start[p]
        e = ends[i] if ends[i] < clip_end[p] else clip_end[p]
        if s > e:
            kept[i] = False
        else:
            clip_start[i], clip_end[i] = s, e
    return clip_start, clip_end, kept


def _id_rank(tree: Tree) -> list[int]:
    ids = [r.span_id for r in tree.records]
    order = sorted(range(len(ids)), key=ids.__getitem__)
    rank = [0] * len(ids)
    for position, index in enumerate(order):
        rank[index] = position
    return rank


def critical_path(tree: Tree) -> list[PathStretch]:
    """The path's stretches in chronological order; together they tile the root's window."""
    if not len(tree):
        return []
    clip_start, clip_end, kept = clipped_windows(tree)
    rank = _id_rank(tree)
    # Per span: its kept children sorted so the last index is the preferred pick at any cursor.
    # Key ascending (end, -start, -rank): the highest index with end <= t ends latest, then
    # started first, then has the lowest span id.
    sorted_kids: dict[int, list[int]] = {}
    sorted_ends: dict[int, list[int]] = {}

    def kids_of(node: int) -> tuple[list[int], list[int]]:
        found = sorted_kids.get(node)
        if found is None:
            found = [c for c in tree.children[node] if kept[c]]
            found.sort(key=lambda c: (clip_end[c], -clip_start[c], -rank[c]))
            sorted_kids[node] = found
            sorted_ends[node] = [clip_end[c] for c in found]
        return found, sorted_ends[node]

    backwards: list[PathStretch] = []

    def emit(node: int, start: int, end: int) -> None:
        if end <= start:
            return
        if backwards and backwards[-1].node == node and backwards[-1].start_ns == end:
            end = backwards[-1].end_ns
            backwards.pop()
        backwards.append(PathStretch(node, start, end))

    t = clip_end[0]
    # Frames: (span, how many of its sorted children are still candidates).
    stack: list[tuple[int, int]] = [(0, len(kids_of(0)[0]))]
    while stack:
        node, limit = stack[-1]
        kids, ends = kids_of(node)
        pick = bisect_right(ends, t, 0, limit) - 1
        if pick >= 0:
            child = kids[pick]
            emit(node, clip_end[child], t)
            stack[-1] = (node, pick)
            t = clip_end[child]
            stack.append((child, len(kids_of(child)[0])))
        else:
            emit(node, clip_start[node], t)
            t = clip_start[node]
            stack.pop()
    backwards.reverse()
    return backwards


def own_time_ns(tree: Tree, node: int) -> int:
    """The span's duration minus the union of its children clipped to its window."""
    start, end = tree.start[node], tree.end[node]
    spans = []
    for child in tree.children[node]:
        s = tree.start[child] if tree.start[child] > start else start
        e = tree.end[child] if tree.end[child] < end else end
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
    covered += run_end - run_start
    return (end - start) - covered
