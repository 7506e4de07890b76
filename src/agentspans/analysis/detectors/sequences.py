"""``parallelizable_sequence``: sibling calls that ran one after another and need not have.

Under each parent, its direct children that are tool calls or (counted) LLM calls are taken in
start order. A call that overlaps a sibling call already ran in parallel: it ends the current
run and belongs to none; the others extend the run, each starting at or after the previous
one ended. A run of
at least ``parallelizable_min_calls`` calls is reported when running it concurrently would save
at least ``parallelizable_min_savings_ms``: the saving is the sum of the calls' durations minus
the longest, which is what the run would take if they all ran at once. Whether the calls really
are independent the trace cannot say; the message asks the reader to check.
"""

from __future__ import annotations

from agentspans.analysis.detectors._view import TraceView, human_ms, ms, name_counts
from agentspans.analysis.model import Finding

KIND = "parallelizable_sequence"


def detect(view: TraceView) -> list[Finding]:
    tree, accounts, limits = view.tree, view.accounts, view.thresholds
    start, end = tree.start, tree.end
    findings: list[Finding] = []
    for parent, kids in tree.children.items():
        if len(kids) < limits.parallelizable_min_calls:
            continue
        calls = [c for c in kids if accounts.llm[c] or accounts.tool[c]]
        if len(calls) < limits.parallelizable_min_calls:
            continue
        # Siblings are already in (start, span id) order in the tree.
        run: list[int] = []
        latest_end = None
        last = len(calls) - 1
        for position, call in enumerate(calls):
            overlaps = (latest_end is not None and start[call] < latest_end) or (
                position < last and start[calls[position + 1]] < end[call]
            )
            if latest_end is None or end[call] > latest_end:
                latest_end = end[call]
            if overlaps:
                _close(view, parent, run, findings)
                run = []
            else:
                run.append(call)
        _close(view, parent, run, findings)
    return findings


def _close(view: TraceView, parent: int, run: list[int], findings: list[Finding]) -> None:
    limits = view.thresholds
    if len(run) < limits.parallelizable_min_calls:
        return
    start, end = view.tree.start, view.tree.end
    durations = [end[c] - start[c] for c in run]
    saving = sum(durations) - max(durations)
    if ms(saving) < limits.parallelizable_min_savings_ms or saving <= 0:
        return
    shown = name_counts([view.name(c) for c in run])
    findings.append(
        view.finding(
            KIND,
            run,
            saving,
            (
                f"{len(run)} calls under {view.name(parent)!r} ran one after another "
                f"({shown}; {human_ms(sum(durations))} in all). If they do not depend on each "
                f"other, run them concurrently (asyncio.gather or a thread pool) to save about "
                f"{human_ms(saving)}."
            ),
            {
                "parent_span_id": view.span_id(parent),
                "calls": len(run),
                "sequential_ms": ms(sum(durations)),
                "longest_ms": ms(max(durations)),
            },
        )
    )
