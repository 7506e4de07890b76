"""Findings about shares of the whole: ``coordination_overhead``, ``cost_hotspot``,
``vram_pressure``.

``coordination_overhead``: the coordinators' own time above ``coordination_overhead_share`` of
the root's duration and at least ``coordination_overhead_min_ms``. A coordinator is an agent
span that delegates to another agent span, and the root when there is an agent span beneath it
(see ``engine._coordinators``). A trace where no agent delegated to an agent (a lone LLM call,
tools alone, one agent working through its own model and tools) has none. The saving claimed is the
part of the overhead on the critical path: time that would come off the trace if the
coordinators did not idle.

``cost_hotspot``: in a trace that cost at least ``cost_hotspot_min_cost_usd``, one LLM call (of
at least two priced ones, and dearer than any other), or one agent's own calls (at least two of
them, among at least two agents with a cost, and not already explained by one hot call of its
own), carrying at least
``cost_hotspot_share`` of the cost. Severity: the lower of the share's rank and the cost's own
(``severity_high_usd``, ``severity_medium_usd``); no time saving.

``vram_pressure``: spans whose peak GPU memory use (``agentspans.gpu.memory.peak_utilization``,
or peak over total bytes) reached ``vram_pressure_utilization``; one finding per trace, naming
the innermost such spans (those with no child also over it), which are nearest the allocation.
High from ``vram_pressure_high_utilization``, else medium.
"""

from __future__ import annotations

import heapq

from agentspans.analysis.accounting import agents_by_name
from agentspans.analysis.detectors._view import TraceView, human_ms, ms, usd
from agentspans.analysis.model import Finding

COORDINATION = "coordination_overhead"
COST = "cost_hotspot"
VRAM = "vram_pressure"


def detect_coordination(view: TraceView) -> list[Finding]:
    limits = view.thresholds
    share = view.time_share(view.overhead_ns)
    if (
        not view.coordinators
        or share <= limits.coordination_overhead_share
        or (ms(view.overhead_ns) < limits.coordination_overhead_min_ms)
    ):
        return []
    heavy = sorted(
        (c for c in view.coordinators if view.own_ns.get(c, 0) > 0),
        key=lambda c: (-view.own_ns[c], view.span_id(c)),
    )
    on_path = sum(view.path_self_ns.get(c, 0) for c in heavy)
    worst = heavy[0]
    where = (
        f"all in {view.name(worst)!r}"
        if len(heavy) == 1
        else f"most in {view.name(worst)!r} ({human_ms(view.own_ns[worst])})"
    )
    return [
        view.finding(
            COORDINATION,
            heavy,
            on_path,
            (
                f"Coordinators spent {human_ms(view.overhead_ns)} ({share:.0%} of the trace) in "
                f"their own code between delegations, {where}. Look there for blocking work, "
                "sleeps or waits that could overlap with the agents' work."
            ),
            {"overhead_ms": ms(view.overhead_ns), "share": share},
        )
    ]


def detect_cost(view: TraceView) -> list[Finding]:
    total = view.subtrees.cost[0]
    if total <= 0 or total < view.thresholds.cost_hotspot_min_cost_usd:
        return []
    priced = [i for i in view.accounts.llm_nodes if view.accounts.cost[i] is not None]
    hot = _hot_calls(view, priced, total)
    # Agents whose cost one hot call already explains get no finding of their own.
    explained = {view.accounts.agent_of[i] for i in hot}
    return [*hot.values(), *_hot_agents(view, priced, total, explained)]


def _hot_calls(view: TraceView, priced: list[int], total: float) -> dict[int, Finding]:
    """The one dearest call, when it carries at least ``cost_hotspot_share`` of the cost."""
    if len(priced) < 2:
        return {}
    cost_of = view.accounts.cost
    top, second = heapq.nlargest(2, [cost_of[i] or 0.0 for i in priced])
    # Two calls costing the same are no hot spot, whatever their share.
    if not top > second:
        return {}
    findings: dict[int, Finding] = {}
    for i in priced:
        cost = cost_of[i] or 0.0
        if cost != top:  # only the dearest call can be the hot one
            continue
        share = cost / total
        if share >= view.thresholds.cost_hotspot_share:
            findings[i] = view.finding(
                COST,
                (i,),
                0.0,
                f"{view.name(i)!r} cost {usd(cost)}, {share:.0%} of the trace's "
                f"{usd(total)}. Use a cheaper model for it, or send fewer tokens.",
                {"cost_usd": cost, "share": share},
                severity=view.cost_severity(cost, share),
            )
    return findings


def _hot_agents(
    view: TraceView, priced: list[int], total: float, explained: set[int]
) -> list[Finding]:
    """One agent's own calls (two or more, among two or more agents with a cost) carrying at
    least ``cost_hotspot_share`` of the cost."""
    accounts = view.accounts
    names, by_agent = agents_by_name(view.tree, accounts)
    explained_names = {names[a] for a in explained if a >= 0}
    own_cost: dict[str, float] = {}
    own_calls: dict[str, int] = {}
    for i in priced:
        owner = accounts.agent_of[i]
        if owner >= 0:
            name = names[owner]
            own_cost[name] = own_cost.get(name, 0.0) + (accounts.cost[i] or 0.0)
            own_calls[name] = own_calls.get(name, 0) + 1
    if len(own_cost) < 2:
        return []
    findings = []
    for name in sorted(own_cost):
        share = own_cost[name] / total
        if share < view.thresholds.cost_hotspot_share or own_calls[name] < 2:
            continue
        if name in explained_names:
            continue
        findings.append(
            view.finding(
                COST,
                by_agent[name],
                0.0,
                f"Agent {name!r} made {own_calls[name]} LLM calls costing "
                f"{usd(own_cost[name])}, {share:.0%} of the trace's {usd(total)}. "
                "Give it a cheaper model or fewer, shorter calls.",
                {"agent": name, "cost_usd": own_cost[name], "share": share},
                severity=view.cost_severity(own_cost[name], share),
            )
        )
    return findings


def detect_vram(view: TraceView) -> list[Finding]:
    tree, limits = view.tree, view.thresholds
    over = {
        i: share
        for i, share in view.accounts.vram_utilization.items()
        if share >= limits.vram_pressure_utilization
    }
    if not over:
        return []
    parents_over = {tree.parent[i] for i in over if tree.parent[i] in over}
    innermost = sorted(
        (i for i in over if i not in parents_over),
        key=lambda i: (-over[i], tree.start[i], view.span_id(i)),
    )
    peak = max(over.values())
    shown = innermost[:5]
    names = ", ".join(repr(view.name(i)) for i in shown)
    return [
        view.finding(
            VRAM,
            shown,
            0.0,
            (
                f"GPU memory reached {peak:.0%} of the device during {names}. Lower the batch "
                "size or context length, free cached tensors, or quantise the model before it "
                "runs out of memory."
            ),
            {"peak_utilization": peak, "spans_over": len(over)},
            severity="high" if peak >= limits.vram_pressure_high_utilization else "medium",
        )
    ]
