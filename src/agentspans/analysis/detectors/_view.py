"""What every detector reads: the tree, its accounts, the path, and the thresholds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agentspans.analysis._build import finding as make_finding
from agentspans.analysis.accounting import Accounts, Subtrees
from agentspans.analysis.detectors._links import Links, read_links
from agentspans.analysis.forest import Tree
from agentspans.analysis.model import Finding
from agentspans.analysis.thresholds import Thresholds


@dataclass(slots=True)
class TraceView:
    tree: Tree
    accounts: Accounts
    subtrees: Subtrees
    thresholds: Thresholds
    # The root's duration.
    duration_ns: int
    # Own time on the critical path, by tree index, for the spans on it.
    path_self_ns: dict[int, int]
    # Own time of the root and of every agent span.
    own_ns: dict[int, int]
    # The root and the agent spans that delegate to another agent: whose own time is
    # coordination overhead.
    coordinators: list[int]
    overhead_ns: int
    _calls: list[int] | None = None
    _links: Links | None = None
    _retry_chains: list[list[int]] | None = None
    _linked_calls: list[int] | None = None
    _subtree_ends: list[int] | None = None

    def calls(self) -> list[int]:
        """Counted LLM calls and tool calls, by start (ties in tree order)."""
        if self._calls is None:
            found = sorted([*self.accounts.llm_nodes, *self.accounts.tool_nodes])
            found.sort(key=self.tree.start.__getitem__)
            self._calls = found
        return self._calls

    def links(self) -> Links:
        """The trace's dependency evidence (tool-call ids), read on first use."""
        if self._links is None:
            self._links = read_links(self.tree, self.accounts)
        return self._links

    def linked_calls(self) -> list[int]:
        """Every call the dependency evidence names (it asked for, carried or executed a tool
        call), in tree order."""
        if self._linked_calls is None:
            links = self.links()
            self._linked_calls = sorted({*links.asked, *links.carried, *links.call_id})
        return self._linked_calls

    def subtree_ends(self) -> list[int]:
        """For each span, the tree index just past its subtree (preorder keeps a subtree in one
        contiguous range of indices)."""
        if self._subtree_ends is None:
            parent = self.tree.parent
            size = [1] * len(parent)
            for i in range(len(parent) - 1, 0, -1):
                size[parent[i]] += size[i]
            self._subtree_ends = [i + s for i, s in enumerate(size)]
        return self._subtree_ends

    def span_id(self, node: int) -> str:
        return self.tree.records[node].span_id

    def name(self, node: int) -> str:
        return self.tree.records[node].name

    def duration(self, node: int) -> int:
        return self.tree.end[node] - self.tree.start[node]

    def severity(self, share: float) -> str:
        """The rank of a share of the trace's duration (or cost): at or above
        ``severity_high_share`` high, at or above ``severity_medium_share`` medium, else low."""
        limits = self.thresholds
        return _rank(share, limits.severity_high_share, limits.severity_medium_share)

    def time_severity(self, saving_ns: float) -> str:
        """A time finding's severity: the lower of its share's rank and its absolute saving's
        (``severity_high_ms`` / ``severity_medium_ms``), so that 3 ms saved on a 5 ms trace is
        not high."""
        limits = self.thresholds
        absolute = _rank(ms(saving_ns), limits.severity_high_ms, limits.severity_medium_ms)
        return lower(self.severity(self.time_share(saving_ns)), absolute)

    def cost_severity(self, usd: float, share: float) -> str:
        """A cost finding's severity: the lower of its cost share's rank and its absolute
        cost's (``severity_high_usd`` / ``severity_medium_usd``): a $0.002 trace is not high."""
        limits = self.thresholds
        absolute = _rank(usd, limits.severity_high_usd, limits.severity_medium_usd)
        return lower(self.severity(share), absolute)

    @staticmethod
    def higher(a: str, b: str) -> str:
        return a if _ORDER[a] >= _ORDER[b] else b

    def time_share(self, ns: float) -> float:
        return ns / self.duration_ns if self.duration_ns > 0 else 0.0

    def finding(
        self,
        kind: str,
        nodes: Iterable[int],
        saving_ns: float,
        message: str,
        details: Mapping[str, Any],
        *,
        share: float | None = None,
        severity: str | None = None,
    ) -> Finding:
        """A finding about ``nodes``; its severity from ``share`` when given, else that of a time
        finding (:meth:`time_severity`), unless ``severity`` is given."""
        if severity is None:
            severity = self.time_severity(saving_ns) if share is None else self.severity(share)
        records = self.tree.records
        # Through a list comprehension: a finding can name thousands of spans, and a generator
        # with a span_id() call per node costs more.
        span_ids = tuple([records[n].span_id for n in nodes])
        return make_finding(kind, severity, span_ids, ms(saving_ns), message, details)


_ORDER = {"low": 0, "medium": 1, "high": 2}


def _rank(value: float, high: float, medium: float) -> str:
    if value >= high:
        return "high"
    if value >= medium:
        return "medium"
    return "low"


def lower(a: str, b: str) -> str:
    return a if _ORDER[a] <= _ORDER[b] else b


def ms(ns: float) -> float:
    return ns / 1e6


def human_ms(ns: float) -> str:
    """A duration for a message: '740 ms', '12.5 s'."""
    millis = ns / 1e6
    if millis < 1000:
        return f"{millis:.3g} ms" if millis < 10 else f"{millis:.0f} ms"
    return f"{millis / 1000:.3g} s"


def usd(amount: float) -> str:
    if 0 < amount < 0.0001:
        return "<$0.0001"
    return f"${amount:.4f}" if amount < 1 else f"${amount:,.2f}"


def name_counts(names: list[str], limit: int = 4) -> str:
    """'a, b x3 and 2 more': names in first-seen order, repeats counted."""
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    shown = [f"{name} x{count}" if count > 1 else name for name, count in counts.items()]
    extra = len(shown) - limit
    return ", ".join(shown[:limit]) + (f" and {extra} more" if extra > 0 else "")
