"""Statistics over many traces, per agent and per model, for the HTML report.

Each analysed root's tree is read with the analysis' own accounting (``analysis.accounting``),
so an LLM call is what the trace totals count (the outermost of nested LLM spans), an agent's
calls are its ``invoke_agent`` spans, and its tokens and cost are those of the LLM calls it made
itself, as in the per-agent table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from agentspans import semconv
from agentspans.analysis.accounting import Accounts, account, agent_name
from agentspans.analysis.forest import Tree, build_forest
from agentspans.analysis.model import SpanRecord, TraceAnalysis

UNKNOWN_MODEL = "(model unknown)"


@dataclass
class Row:
    """One agent's or one model's calls over every trace."""

    name: str
    durations_ms: list[float] = field(default_factory=list)
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    priced_calls: int = 0
    path_ms: float = 0.0

    @property
    def calls(self) -> int:
        return len(self.durations_ms)

    def percentile(self, q: float) -> float:
        """Nearest rank: the smallest duration with at least ``q`` of the calls at or below it."""
        ordered = sorted(self.durations_ms)
        return ordered[max(math.ceil(q * len(ordered)) - 1, 0)] if ordered else 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0

    @property
    def tokens_per_call(self) -> float:
        return (self.input_tokens + self.output_tokens) / self.calls if self.calls else 0.0

    @property
    def cost_per_call(self) -> float | None:
        """None when no call had a price: unknown, not free."""
        return self.cost_usd / self.calls if self.priced_calls and self.calls else None


@dataclass
class Fleet:
    agents: list[Row]
    models: list[Row]
    traces: int
    duration_ms: float  # all the analysed roots' durations together

    def path_share(self, row: Row) -> float:
        return row.path_ms / self.duration_ms if self.duration_ms > 0 else 0.0


def fleet(analyses: Sequence[TraceAnalysis], records: Sequence[SpanRecord]) -> Fleet:
    trees = {(t.trace_id, t.records[0].span_id): t for t in build_forest(records) if len(t)}
    agents: dict[str, Row] = {}
    models: dict[str, Row] = {}
    duration = 0.0
    for analysis in analyses:
        tree = trees.get((analysis.trace_id, analysis.root_span_id))
        if tree is None:
            continue
        duration += analysis.duration_ms
        accounts = account(tree)
        path = [analysis.path_self_ms.get(r.span_id, 0.0) for r in tree.records]
        _add_agents(tree, accounts, path, agents)
        _add_models(tree, accounts, path, models)
    return Fleet(list(agents.values()), list(models.values()), len(analyses), duration)


def _row(rows: dict[str, Row], name: str) -> Row:
    row = rows.get(name)
    if row is None:
        row = rows[name] = Row(name)
    return row


def _add_call(row: Row, tree: Tree, accounts: Accounts, i: int) -> None:
    row.durations_ms.append((tree.end[i] - tree.start[i]) / 1e6)
    row.errors += tree.records[i].error


def _add_usage(row: Row, accounts: Accounts, i: int) -> None:
    row.input_tokens += accounts.input_tokens[i] or 0
    row.output_tokens += accounts.output_tokens[i] or 0
    cost = accounts.cost[i]
    if cost is not None:
        row.cost_usd += cost
        row.priced_calls += 1


def _add_agents(tree: Tree, accounts: Accounts, path: list[float], rows: dict[str, Row]) -> None:
    names = {i: agent_name(tree, i) for i in accounts.agent_nodes}
    for i, name in names.items():
        _add_call(_row(rows, name), tree, accounts, i)
    for i in accounts.llm_nodes:
        owner = accounts.agent_of[i]
        if owner in names:
            _add_usage(rows[names[owner]], accounts, i)
    # The path's time in spans whose nearest agent is this one (its sub-agents count for theirs).
    for i, ms in enumerate(path):
        owner = accounts.agent_of[i]
        if ms and owner in names:
            rows[names[owner]].path_ms += ms


def _add_models(tree: Tree, accounts: Accounts, path: list[float], rows: dict[str, Row]) -> None:
    for i in accounts.llm_nodes:
        row = _row(rows, _model(tree.records[i]))
        _add_call(row, tree, accounts, i)
        row.errors += i in accounts.failed and not tree.records[i].error
        _add_usage(row, accounts, i)
        row.path_ms += sum(path[j] for j in _subtree(tree, i))


def _model(record: SpanRecord) -> str:
    for name in (semconv.GEN_AI_REQUEST_MODEL, semconv.GEN_AI_RESPONSE_MODEL):
        value = record.attributes.get(name)
        if isinstance(value, str) and value:
            return value
    return UNKNOWN_MODEL


def _subtree(tree: Tree, i: int) -> Iterable[int]:
    stack = [i]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(tree.children.get(node, ()))
