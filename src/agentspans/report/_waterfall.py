"""The rows of a trace's waterfall: which spans to show, how deep, and their bars.

A trace of thousands of spans cannot be read row by row, so past ``max_rows`` the waterfall
keeps the spans that explain the trace (those on the critical path, longest own time first, then
the longest spans), each with its ancestors, and folds every other subtree into one summary row
under its parent ("… 480 more spans"). Selection is O(n log n) in the number of spans.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from agentspans.analysis.model import Segment, SpanRecord, TraceAnalysis

__all__ = ["BAR_EMPTY", "BAR_PATH", "BAR_SPAN", "WaterfallRow", "bar_cells", "waterfall_rows"]

BAR_EMPTY, BAR_SPAN, BAR_PATH = 0, 1, 2
_NS_PER_MS = 1_000_000


@dataclass(frozen=True, slots=True)
class WaterfallRow:
    """One line of the waterfall; ``hidden`` > 0 makes it a summary of that many folded spans."""

    depth: int
    name: str
    start_ms: float
    end_ms: float
    on_path: bool = False
    error: bool = False
    service: str | None = None
    # The span runs in another service than its parent (or is the root): a process boundary.
    new_service: bool = False
    hidden: int = 0
    segments: tuple[Segment, ...] = ()

    @property
    def duration_ms(self) -> float:
        return max(self.end_ms - self.start_ms, 0.0)


class _Tree:
    def __init__(self, records: Sequence[SpanRecord], root_id: str) -> None:
        self.by_id = {record.span_id: record for record in records}
        self.children: dict[str, list[str]] = defaultdict(list)
        for record in records:
            if (
                record.parent_id is not None
                and record.parent_id in self.by_id
                and record.span_id != root_id
            ):
                self.children[record.parent_id].append(record.span_id)
        for siblings in self.children.values():
            siblings.sort(key=lambda span_id: self.by_id[span_id].start_ns)
        self.root_id = root_id
        self.parent: dict[str, str] = {}
        self.order: list[str] = []  # the root's subtree, depth first, children by start time
        self.depth: dict[str, int] = {root_id: 0}
        stack = [root_id]
        while stack:
            span_id = stack.pop()
            self.order.append(span_id)
            for child in reversed(self.children.get(span_id, ())):
                if child in self.depth:  # a cycle in broken input: show the span once
                    continue
                self.parent[child] = span_id
                self.depth[child] = self.depth[span_id] + 1
                stack.append(child)
        # Children as the walk reached them (a span reached twice in broken input counts once).
        self._kids: dict[str, list[str]] = {
            span_id: [child for child in kids if self.parent.get(child) == span_id]
            for span_id, kids in self.children.items()
        }
        self.size: dict[str, int] = {}
        for span_id in reversed(self.order):
            self.size[span_id] = 1 + sum(self.size[child] for child in self.kids(span_id))

    def kids(self, span_id: str) -> list[str]:
        return self._kids.get(span_id, [])


class _Selection:
    """Spans chosen to show, kept closed under ancestors, counting the summary rows they need."""

    def __init__(self, tree: _Tree, max_rows: int) -> None:
        self.tree = tree
        self.max_rows = max_rows
        self.shown: set[str] = {tree.root_id}
        self.shown_children: dict[str, int] = defaultdict(int)
        self.rows = 1 + (1 if tree.kids(tree.root_id) else 0)

    def try_add(self, span_id: str, row_limit: int) -> bool:
        tree = self.tree
        chain: list[str] = []
        current = span_id
        while current not in self.shown:
            chain.append(current)
            current = tree.parent[current]
        if not chain:
            return True
        rows = len(chain)
        for position, member in enumerate(chain):
            # chain[0] starts with no shown child; each later member has the previous one shown.
            if len(tree.kids(member)) > (1 if position else 0):
                rows += 1
        if self.shown_children[current] + 1 == len(tree.kids(current)):
            rows -= 1  # the shown ancestor's last hidden child: its summary row goes away
        if self.rows + rows > row_limit:
            return False
        self.rows += rows
        self.shown_children[current] += 1
        for position, member in enumerate(chain):
            self.shown.add(member)
            if position:
                self.shown_children[member] += 1
        return True


def waterfall_rows(
    records: Sequence[SpanRecord], analysis: TraceAnalysis, *, max_rows: int = 40
) -> tuple[list[WaterfallRow], int]:
    """The rows to draw for ``analysis`` (its root's subtree) and how many spans were folded.

    ``records`` may hold other traces' spans; only this trace's are used.
    """
    mine = [record for record in records if record.trace_id == analysis.trace_id]
    tree = _Tree(mine, analysis.root_span_id)
    root = tree.by_id.get(analysis.root_span_id)
    if root is None:
        return [], 0
    segments: dict[str, list[Segment]] = defaultdict(list)
    for segment in analysis.critical_path:
        segments[segment.span_id].append(segment)
    shown = _select(tree, segments, max(max_rows, 2))
    rows: list[WaterfallRow] = []
    folded = 0
    origin = root.start_ns
    stack: list[tuple[str, bool]] = [(tree.root_id, False)]
    while stack:
        span_id, summary = stack.pop()
        depth = tree.depth[span_id]
        if summary:
            hidden = [child for child in tree.kids(span_id) if child not in shown]
            count = sum(tree.size[child] for child in hidden)
            folded += count
            rows.append(
                WaterfallRow(
                    depth=depth + 1,
                    name=f"… {count:,} more span{'s' if count != 1 else ''}",
                    start_ms=(min(tree.by_id[c].start_ns for c in hidden) - origin) / _NS_PER_MS,
                    end_ms=(max(tree.by_id[c].end_ns for c in hidden) - origin) / _NS_PER_MS,
                    hidden=count,
                )
            )
            continue
        record = tree.by_id[span_id]
        rows.append(
            WaterfallRow(
                depth=depth,
                name=record.name,
                start_ms=(record.start_ns - origin) / _NS_PER_MS,
                end_ms=(record.end_ns - origin) / _NS_PER_MS,
                on_path=span_id in segments,
                error=record.error,
                service=record.service,
                new_service=span_id == tree.root_id
                or tree.by_id[tree.parent[span_id]].service != record.service,
                segments=tuple(segments.get(span_id, ())),
            )
        )
        kids = tree.kids(span_id)
        if any(child not in shown for child in kids):
            stack.append((span_id, True))
        stack.extend((child, False) for child in reversed(kids) if child in shown)
    return rows, folded


def _select(tree: _Tree, segments: dict[str, list[Segment]], max_rows: int) -> set[str]:
    if len(tree.order) <= max_rows:
        return set(tree.order)
    selection = _Selection(tree, max_rows)
    by_duration = sorted(tree.order, key=lambda span_id: -tree.by_id[span_id].duration_ns)
    # First the shape of the run (its top two levels, the agents), on half the rows at most...
    shallow = [span_id for span_id in by_duration if tree.depth[span_id] <= 2]
    _fill(selection, shallow, max_rows // 2)
    # ...then what the critical path spends its time in, then whatever took longest.
    on_path = sorted(
        (span_id for span_id in segments if span_id in tree.depth),
        key=lambda span_id: -sum(s.end_ms - s.start_ms for s in segments[span_id]),
    )
    _fill(selection, on_path, max_rows)
    _fill(selection, by_duration, max_rows)
    return selection.shown


def _fill(selection: _Selection, candidates: Sequence[str], row_limit: int) -> None:
    misses = 0
    for span_id in candidates:
        if selection.rows >= row_limit or misses > 2 * selection.max_rows:
            return
        if span_id in selection.shown:
            continue
        if selection.rows < row_limit and selection.try_add(span_id, row_limit):
            misses = 0
        else:
            misses += 1


def bar_cells(row: WaterfallRow, total_ms: float, width: int) -> list[int]:
    """``width`` cells for ``row``'s bar on a scale of ``total_ms``: empty, span, critical path."""
    cells = [BAR_EMPTY] * width
    if width <= 0:
        return cells
    scale = width / total_ms if total_ms > 0 else 0.0

    def span_of(start_ms: float, end_ms: float) -> range:
        first = min(max(int(start_ms * scale), 0), width - 1)
        last = min(max(int(-(-end_ms * scale // 1)), first + 1), width)  # ceil, at least 1 cell
        return range(first, last)

    for index in span_of(row.start_ms, row.end_ms):
        cells[index] = BAR_SPAN
    for segment in row.segments:
        if segment.end_ms > segment.start_ms:
            for index in span_of(segment.start_ms, segment.end_ms):
                cells[index] = BAR_PATH
    return cells
