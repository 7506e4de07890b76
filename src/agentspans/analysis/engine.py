"""``analyze``: records in, one :class:`TraceAnalysis` per root's tree out. Never raises on
data: what is wrong with the input becomes a message in ``TraceAnalysis.problems``."""

from __future__ import annotations

from collections.abc import Sequence

from agentspans.analysis._build import segment_new
from agentspans.analysis.accounting import Accounts, account, agent_summaries, subtrees, totals_of
from agentspans.analysis.critical_path import critical_path, own_times
from agentspans.analysis.detectors import TraceView, find
from agentspans.analysis.forest import Tree, build_forest
from agentspans.analysis.model import Segment, SpanRecord, TraceAnalysis
from agentspans.analysis.thresholds import Thresholds

_MS = 1e6


def analyze(
    records: Sequence[SpanRecord], thresholds: Thresholds | None = None
) -> list[TraceAnalysis]:
    """Analyse every trace in ``records``: one result per root (see ``forest`` for how orphans,
    several roots and cycles are split), in a fixed order."""
    limits = thresholds if thresholds is not None else Thresholds()
    # No gc.disable() around this: the library leaves the process's collector as the app set
    # it (docs/analysis.md, Performance, measures what the collector's passes cost).
    return [analyze_tree(tree, limits) for tree in build_forest(records)]


def _coordinators(tree: Tree, accounts: Accounts) -> list[int]:
    """The spans whose own time is coordination overhead (the contract in docs/analysis.md):
    every agent span that delegates to at least one other agent span, and the root, when the
    trace delegated at all (an agent span beneath it). A lone LLM call, tools alone, or one
    agent working with its own model and tools delegate nothing, so they get none."""
    parent, agent_of = tree.parent, accounts.agent_of
    # The nearest agent above an agent span delegates to it.
    delegating = {agent_of[parent[i]] for i in accounts.agent_nodes if i > 0}
    delegating.discard(-1)
    found = [i for i in accounts.agent_nodes if i in delegating and i != 0]
    if any(i != 0 for i in accounts.agent_nodes):
        found.insert(0, 0)
    return found


def analyze_tree(tree: Tree, limits: Thresholds) -> TraceAnalysis:
    duration_ns = tree.end[0] - tree.start[0]
    records = tree.records
    segments: list[Segment] = []
    add = segments.append
    nodes, starts, ends = critical_path(tree)
    on_path = [0] * len(records)
    # A deep chain has two stretches per span: the segment is built here without a Python
    # call (``_build.segment`` is the same ``tuple.__new__``), a frame saved per stretch.
    # Tree times are ns from the root's start: the root starts at 0.
    new_segment = segment_new
    for node, start, end in zip(nodes, starts, ends, strict=True):
        on_path[node] += end - start
        record = records[node]
        add(new_segment(Segment, (record.span_id, record.name, start / _MS, end / _MS)))
    # Each span's own time on the path, in the order the spans first appear on it.
    path_self = {node: on_path[node] for node in dict.fromkeys(nodes)}
    accounts = account(tree)
    below = subtrees(tree, accounts)
    coordinators = _coordinators(tree, accounts)
    own = own_times(tree, accounts.agent_nodes)
    overhead = sum([own[i] for i in coordinators])
    view = TraceView(
        tree, accounts, below, limits, duration_ns, path_self, own, coordinators, overhead
    )
    span_ids = [r.span_id for r in records]
    # The root's first, then every agent span's (the root's again when it is one: equal).
    rollups = below.rollups(span_ids, [0, *accounts.agent_nodes])
    return TraceAnalysis(
        trace_id=tree.trace_id,
        root_span_id=span_ids[0],
        duration_ms=duration_ns / 1e6,
        critical_path=tuple(segments),
        coordination_overhead_ms=overhead / 1e6,
        totals=totals_of(below.rollup(0)),
        agents=tuple(agent_summaries(tree, accounts, own, below)),
        findings=find(view),
        problems=tuple(tree.problems),
        path_self_ms={span_ids[i]: ns / 1e6 for i, ns in path_self.items()},
        rollups=rollups,
        span_ids=tuple(span_ids),
    )
