"""The critical path of a tree and each span's own time, by the rule in ARCHITECTURE.md.

The rule: walk back from the root's end. Every child is first clipped to its parent's (clipped)
window; children wholly outside it are dropped. At cursor ``t`` inside a span, the child that
finishes last at or before ``t`` is on the path: the gap between its end and ``t`` is the
parent's own time, the walk continues inside the child from its end, then resumes in the parent
at the child's start. With no such child the rest, back to the span's start, is the span's own.

Ties, for a deterministic answer: among children ending at the same instant, the one that
started first (by its own start, before clipping) is taken, because it explains the most of the
wait; among children that started at the same instant too, the lowest span id. Zero-length
stretches are not segments, so a zero-length span is never on the path.

Each child is considered at most once and found by binary search over its siblings sorted by
end, so the walk costs O(n log n); it is iterative, so a 100k-deep chain is fine.
"""

from __future__ import annotations

from bisect import bisect_right

from agentspans.analysis.forest import Tree


def clipped_windows(tree: Tree) -> tuple[list[int], list[int]]:
    """Each span's window clipped to its parent's clipped window. A span wholly outside its
    parent's window comes out inverted (its start after its end), and so does everything under
    it, clipped to that: the spans the rule drops are those with ``start > end``."""
    starts, parent = tree.start, tree.parent
    clip_start = starts[:]
    clip_end = tree.end[:]
    for i in range(1, len(parent)):  # preorder: every parent comes before its children
        p = parent[i]
        if clip_start[i] < clip_start[p]:
            clip_start[i] = clip_start[p]
        if clip_end[i] > clip_end[p]:
            clip_end[i] = clip_end[p]
    return clip_start, clip_end


def critical_path(tree: Tree) -> tuple[list[int], list[int], list[int]]:
    """The path's stretches in chronological order, as columns: the span, and the start and
    end of its stretch (ns from the root's start). Together they tile the root's window.
    Columns rather than a tuple per stretch: no container to allocate (and for the cyclic
    collector to count) per stretch, and ``zip`` reads them back without one either."""
    n = len(tree)
    if not n:
        return [], [], []
    clip_start, clip_end = clipped_windows(tree)
    parent = tree.parent
    # Zero-length children cannot hold the path, so they are left out (which also means two
    # stretches of one span are never adjacent). Siblings sit in the tree in (start, span id)
    # order, so taking spans in reverse tree order and sorting them (stably) by end leaves each
    # span's children in ascending (end, -start, -id) order: the last one with end <= t is the
    # rule's pick, ties going to the earliest start, then the lowest span id.
    # Dropped spans (inverted windows) are left out with them.
    order = [i for i in range(n - 1, 0, -1) if clip_end[i] > clip_start[i]]
    order.sort(key=clip_end.__getitem__)
    kids: list[list[int] | None] = [None] * n
    kid_ends: list[list[int] | None] = [None] * n
    for i in order:
        p = parent[i]
        found = kids[p]
        if found is None:
            kids[p] = [i]
            kid_ends[p] = [clip_end[i]]
        else:
            found.append(i)
            kid_ends[p].append(clip_end[i])  # type: ignore[union-attr]

    nodes_back: list[int] = []
    starts_back: list[int] = []
    ends_back: list[int] = []
    t = clip_end[0]
    nodes = [0]
    # How many of each stacked span's sorted children are still candidates.
    limits = [len(kids[0] or ())]
    while nodes:
        node = nodes[-1]
        found = kids[node]
        pick = bisect_right(kid_ends[node], t, 0, limits[-1]) - 1 if found else -1  # type: ignore[arg-type]
        if pick >= 0:
            assert found is not None
            child = found[pick]
            end = clip_end[child]
            if t > end:
                nodes_back.append(node)
                starts_back.append(end)
                ends_back.append(t)
            limits[-1] = pick
            below = kids[child]
            if below:
                nodes.append(child)
                limits.append(len(below))
                t = end
            else:
                t = clip_start[child]
                nodes_back.append(child)
                starts_back.append(t)
                ends_back.append(end)
        else:
            start = clip_start[node]
            if t > start:
                nodes_back.append(node)
                starts_back.append(start)
                ends_back.append(t)
            t = start
            nodes.pop()
            limits.pop()
    nodes_back.reverse()
    starts_back.reverse()
    ends_back.reverse()
    return nodes_back, starts_back, ends_back


def own_times(tree: Tree, agents: list[int]) -> dict[int, int]:
    """``own_time_ns`` of the root and of each span in ``agents`` (in tree order, root first):
    a span with no child or one (every agent of a delegation chain) without a call."""
    starts, ends, children = tree.start, tree.end, tree.children.get
    own = {0: own_time_ns(tree, 0)}
    for node in agents:
        kids = children(node)
        start, end = starts[node], ends[node]
        if not kids:
            own[node] = end - start
        elif len(kids) == 1:
            child = kids[0]
            s = starts[child] if starts[child] > start else start
            e = ends[child] if ends[child] < end else end
            own[node] = (end - start) - (e - s if e > s else 0)
        else:
            own[node] = own_time_ns(tree, node)
    return own


def own_time_ns(tree: Tree, node: int) -> int:
    """The span's duration minus the union of its children clipped to its window."""
    starts, ends = tree.start, tree.end
    start, end = starts[node], ends[node]
    kids = tree.children.get(node)
    if not kids:
        return end - start
    if len(kids) == 1:  # a chain: no union to take (every agent of a deep delegation chain)
        child = kids[0]
        s = starts[child] if starts[child] > start else start
        e = ends[child] if ends[child] < end else end
        return (end - start) - (e - s if e > s else 0)
    # Siblings sit in the tree in start order, and clipping to the parent's window keeps that
    # order: the union is merged in one pass, without a list of windows or a sort. Should a
    # child start before the current run (not in start order), the general way takes over.
    covered = 0
    run_start = run_end = start
    for child in kids:
        s = starts[child] if starts[child] > start else start
        e = ends[child] if ends[child] < end else end
        if e <= s:
            continue
        if s > run_end:
            covered += run_end - run_start
            run_start, run_end = s, e
        elif s < run_start:
            return _own_time_unordered(starts, ends, start, end, kids)
        elif e > run_end:
            run_end = e
    covered += run_end - run_start
    return (end - start) - covered


def _own_time_unordered(
    starts: list[int], ends: list[int], start: int, end: int, kids: list[int]
) -> int:
    """``own_time_ns`` for children in any order: their clipped windows sorted, then merged."""
    spans = []
    for child in kids:
        s = starts[child] if starts[child] > start else start
        e = ends[child] if ends[child] < end else end
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
