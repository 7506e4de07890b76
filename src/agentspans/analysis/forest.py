"""From a bag of span records to one tree per root, with a message for every flaw in the input.

Every span ends up in exactly one tree:

- records are grouped by trace id; a span id seen twice in a trace keeps its earliest-starting
  record (the first in input order among equals);
- a span with no parent, or whose parent is remote (in another process) and not in the input,
  is a root;
- a span whose parent is not in the input is an *orphan*: it becomes the root of its own tree,
  because inventing a parent would put numbers on the trace that nobody measured;
- spans whose parent links go round in a circle are cut at the earliest of them, which becomes
  a root;
- a span that ends before it starts is treated as zero-length.

Trees come out in a fixed order: traces by their earliest span start (then trace id); within a
trace, real roots first, then orphans, then cut cycles, each group by (start, span id); the
children of a span by (start, span id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import attrgetter, lt

from agentspans.analysis.model import SpanRecord


@dataclass(slots=True)
class Tree:
    """One root's tree, as parallel lists indexed by position (0 is the root).

    ``start`` and ``end`` are nanoseconds from the root's start (add ``origin_ns`` for Unix time).
    """

    trace_id: str
    records: list[SpanRecord]
    parent: list[int]
    # Children by parent index, for the spans that have any, each list in tree order.
    children: dict[int, list[int]]
    start: list[int]
    end: list[int]
    problems: list[str] = field(default_factory=list)
    origin_ns: int = 0

    def __len__(self) -> int:
        return len(self.records)


_order = attrgetter("start_ns", "span_id", "end_ns")
_start = attrgetter("start_ns")
_trace = attrgetter("trace_id")


def _sorted(records: Sequence[SpanRecord]) -> list[SpanRecord]:
    """``records`` by :data:`_order`: sorted by start alone (integer keys sort several times
    faster than tuples), then each run of equal starts, usually short and rare, by the rest."""
    ordered = sorted(records, key=_start)
    starts = list(map(_start, ordered))
    n = len(ordered)
    if len(set(starts)) == n:  # no equal starts (the usual case): nothing more to order
        return ordered
    i = 1
    while i < n:
        if starts[i] != starts[i - 1]:
            i += 1
            continue
        run_start = i - 1
        while i < n and starts[i] == starts[run_start]:
            i += 1
        ordered[run_start:i] = sorted(ordered[run_start:i], key=_order)
    return ordered


def _label(record: SpanRecord) -> str:
    return f"span {record.span_id} ({record.name!r})"


def build_forest(records: Sequence[SpanRecord]) -> list[Tree]:
    if len(records) == 1:  # a lone span (a standalone LLM call): one tree, nothing to order
        lone = _lone_tree(records[0])
        if lone is not None:
            return [lone]
    # Siblings, roots and the copy of a duplicated span that is kept go by (start, span id,
    # end), so that they do not depend on the order the input came in. Only each span's
    # children are sorted (and roots and orphans), not the whole input: a chain has nothing to
    # sort, and many small families sort faster than one long list.
    traces = set(map(_trace, records))
    if len(traces) == 1:  # the usual case: one trace, one group, no per-record grouping
        return _trace_trees(traces.pop(), records)
    by_trace: dict[str, list[SpanRecord]] = {}
    for record in records:
        group = by_trace.get(record.trace_id)
        if group is None:
            by_trace[record.trace_id] = [record]
        else:
            group.append(record)
    groups = sorted(by_trace.items(), key=lambda item: (min(map(_start, item[1])), item[0]))
    forest: list[Tree] = []
    for trace_id, group in groups:
        forest.extend(_trace_trees(trace_id, group))
    return forest


def _lone_tree(record: SpanRecord) -> Tree | None:
    """The tree of a trace of one root span, or None when it has a flaw to report."""
    if record.parent_id is not None and not record.parent_is_remote:
        return None  # an orphan, or its own parent
    start, end = record.start_ns, record.end_ns
    if end < start:
        return None
    return Tree(record.trace_id, [record], [-1], {}, [0], [end - start], [], start)


@dataclass(slots=True)
class _Index:
    """One trace's records sorted into roots, orphans and children by parent id."""

    spans: dict[str, SpanRecord] = field(default_factory=dict)
    # Span ids seen more than once, and how often.
    repeats: dict[str, int] = field(default_factory=dict)
    roots: list[SpanRecord] = field(default_factory=list)
    orphans: list[SpanRecord] = field(default_factory=list)
    # Children by parent id, whether or not the parent turns out to be in the input.
    children: dict[str, list[SpanRecord]] = field(default_factory=dict)


def _index(group: Sequence[SpanRecord], ordered: bool) -> _Index | None:
    """One pass over the records, then one over the (far fewer) parent ids. ``ordered``: the
    records are in :data:`_order`; otherwise each family is sorted into it afterwards, and a
    span id seen twice returns None (the copy kept depends on the order: sort, and ask again)."""
    index = _Index()
    spans, repeats, children = index.spans, index.repeats, index.children
    for record in group:
        span_id = record.span_id
        if span_id in spans:
            if not ordered:
                return None
            repeats[span_id] = repeats.get(span_id, 1) + 1
            continue
        spans[span_id] = record
        parent_id = record.parent_id
        if parent_id is None:
            index.roots.append(record)
        elif parent_id == span_id:
            index.orphans.append(record)
        else:
            siblings = children.get(parent_id)
            if siblings is None:
                children[parent_id] = [record]
            else:
                siblings.append(record)
    absent = [parent_id for parent_id in children if parent_id not in spans]
    if absent:
        for parent_id in absent:
            for record in children.pop(parent_id):
                # A remote parent that is in the input (a whole distributed trace, from Jaeger
                # or from several processes' files) joins the trees; one that is not makes a
                # local root. A missing local parent makes an orphan.
                (index.roots if record.parent_is_remote else index.orphans).append(record)
    if absent or not ordered:
        index.roots.sort(key=_order)
        index.orphans.sort(key=_order)
    if not ordered:
        _order_families(children)
    return index


def _order_families(children: dict[str, list[SpanRecord]]) -> None:
    """Each span's children into :data:`_order` (span ids are unique here: a total order)."""
    for parent_id, kids in children.items():
        if len(kids) > 32:  # integer keys first (see _sorted): a wide parent's thousands
            children[parent_id] = _sorted(kids)
        elif len(kids) > 1:
            kids.sort(key=_order)


def _orphan_tree(trace_id: str, orphan: SpanRecord, index: _Index) -> Tree:
    tree = _grow(trace_id, orphan, index.children)
    missing = orphan.parent_id
    reason = (
        "names itself as its parent"
        if missing == orphan.span_id
        else f"has parent {missing}, which is not in the input"
    )
    tree.problems.append(f"{_label(orphan)} {reason}; its subtree is analysed on its own")
    return tree


def _cycle_trees(trace_id: str, index: _Index, trees: list[Tree]) -> list[Tree]:
    """Whatever no root reached sits on a cycle of parent links (or under one). Every span has
    one parent, so a walk from a root never meets a span twice; only here, inside a cycle, must
    the walk check."""
    seen = {record.span_id for tree in trees for record in tree.records}
    cut: list[Tree] = []
    for record in _sorted([r for r in index.spans.values() if r.span_id not in seen]):
        if record.span_id in seen:
            continue
        tree = _grow(trace_id, record, index.children, seen)
        tree.problems.append(
            f"{_label(record)} is part of a cycle of parent links; "
            "the cycle is cut there and analysed as its own tree"
        )
        cut.append(tree)
    return cut


def _trace_problems(trace_id: str, index: _Index) -> list[str]:
    problems = [
        f"{_label(index.spans[span_id])} appears {count} times in the input; "
        "the earliest copy is analysed"
        for span_id, count in sorted(index.repeats.items())
    ]
    roots = index.roots
    if not roots:
        problems.insert(
            0,
            f"trace {trace_id} has no root span (every span has a parent); "
            "the topmost spans found are analysed as roots",
        )
    elif len(roots) > 1:
        problems.insert(
            0,
            f"trace {trace_id} has {len(roots)} root spans "
            f"({', '.join(r.span_id for r in roots)}); each root's tree is analysed on its own",
        )
    return problems


def _trace_trees(trace_id: str, group: Sequence[SpanRecord]) -> list[Tree]:
    index = _index(group, False)
    if index is None:  # a span id seen twice: the records in order decide which copy is kept
        index = _index(_sorted(group), True)
        assert index is not None
    trees = [_grow(trace_id, root, index.children) for root in index.roots]
    trees.extend(_orphan_tree(trace_id, orphan, index) for orphan in index.orphans)
    if sum(len(tree) for tree in trees) < len(index.spans):
        trees.extend(_cycle_trees(trace_id, index, trees))
    trees[0].problems[:0] = _trace_problems(trace_id, index)
    return trees


def _grow(
    trace_id: str,
    root: SpanRecord,
    children_of: dict[str, list[SpanRecord]],
    seen: set[str] | None = None,
) -> Tree:
    """The tree under ``root`` in depth-first preorder (iterative: chains can be very deep)."""
    records: list[SpanRecord] = []
    parent: list[int] = []
    children: dict[int, list[int]] = {}
    if seen is None:
        _walk(root, children_of, records, parent, children)
    else:
        _walk_cut(root, children_of, seen, records, parent)
        for i in range(1, len(records)):
            siblings = children.get(parent[i])
            if siblings is None:
                children[parent[i]] = [i]
            else:
                siblings.append(i)
    # Relative to the root's start: fresh int objects, allocated in walk order, which is the
    # order the later passes read them in (a large trace reads much faster so).
    origin = root.start_ns
    starts = [record.start_ns - origin for record in records]
    ends = [record.end_ns - origin for record in records]
    problems: list[str] = []
    if any(map(lt, ends, starts)):
        for i in [i for i in range(len(records)) if ends[i] < starts[i]]:
            problems.append(
                f"{_label(records[i])} ends {(starts[i] - ends[i]) / 1e6:g} ms before it starts; "
                "treated as zero-length"
            )
            ends[i] = starts[i]
    return Tree(trace_id, records, parent, children, starts, ends, problems, origin)


def _walk(
    root: SpanRecord,
    children_of: dict[str, list[SpanRecord]],
    records: list[SpanRecord],
    parent: list[int],
    children: dict[int, list[int]],
) -> None:
    """Depth-first preorder from ``root`` into ``records`` and ``parent``, with each span's
    children (tree indices) into ``children``. Every span has one parent, so from a real root
    no span is met twice. The first child is walked into directly and only its later siblings
    wait on the stack: a chain (a deep delegation) never touches it."""
    stack: list[SpanRecord] = []
    stack_parents: list[int] = []
    pop, pop_parent = stack.pop, stack_parents.pop
    add_record, add_parent = records.append, parent.append
    kids_of = children_of.get
    index = 0
    record, p = root, -1
    while True:
        while True:
            add_record(record)
            add_parent(p)
            p = index
            index += 1
            kids = kids_of(record.span_id)
            if not kids:
                break
            if len(kids) > 1:
                stack.extend(kids[:0:-1])  # the later siblings, the second on top
                stack_parents.extend([p] * (len(kids) - 1))
            children[p] = [index]  # the first child: walked into next, at ``index``
            record = kids[0]
        if not stack:
            break
        record = pop()
        p = pop_parent()
        children[p].append(index)  # a later sibling: its parent's list has the first


def _walk_cut(
    root: SpanRecord,
    children_of: dict[str, list[SpanRecord]],
    seen: set[str],
    records: list[SpanRecord],
    parent: list[int],
) -> None:
    """``_walk`` inside a cycle of parent links: every span met is checked against ``seen``."""
    stack = [root]
    stack_parents = [-1]
    seen.add(root.span_id)
    index = 0
    while stack:
        record = stack.pop()
        records.append(record)
        parent.append(stack_parents.pop())
        for kid in reversed(children_of.get(record.span_id) or ()):
            if kid.span_id not in seen:
                seen.add(kid.span_id)
                stack.append(kid)
                stack_parents.append(index)
        index += 1
