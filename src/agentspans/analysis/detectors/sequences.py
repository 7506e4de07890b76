"""``parallelizable_sequence``: independent calls that ran one after another.

The trace's dependency evidence decides what is independent; a finding never advises running
concurrently two steps that it links. Three patterns are reported, each saying in
``details["evidence"]`` what it rests on:

1. ``tool_call_ids``: one model response asked for several tool calls (its
   ``agentspans.response.tool_call_ids``) and the tool spans executing them (matched by
   ``gen_ai.tool.call.id``, anywhere in the trace) ran one after another. The model wrote every
   call's arguments before any ran, so none needs another's result. A tool span whose result
   reached the response's own request (directly or through other calls) ran before it was
   asked for: it served an earlier request, not this response, and is left out.
2. ``structure``, tools: without ids, tool calls in a row under one parent. A model call among
   the siblings is a dependency point: in an agent loop (model -> the tools it asked for -> the
   model reading their results) the model call needs the tools before it and the tools after
   it need the model call, so a run never includes or crosses one. Tools right after a model
   call whose response asked for tool calls (as many ids as tools ran, or a ``tool_calls`` /
   ``tool_use`` finish reason) were asked for by that one response; other tools (no model call
   before them, or one that finished with ``stop``) are the app's own code, and the message asks
   the reader to check they do not feed each other.
3. ``structure``, delegations: the same agent delegated to several times in a row under one
   parent, with no model or tool call between and no tool result of one carried into another's
   requests. Different agents in a row are not reported: a pipeline (CrewAI's sequential
   process, research -> write) hands each agent's output to the next, and nothing in the trace
   tells it from independent work.

In every pattern, a call that needs an earlier member's output through the id chain (response
ids -> ``gen_ai.tool.call.id`` -> request result ids, transitively: ``Links.downstream``) ends
the run before it, and delegations any of whose calls are so linked are not reported. Calls
that overlap a sibling already ran in parallel and end a run; failed calls and their
retries (``error_retry``'s) end it too, since a retry waits for the failure by nature. A run of
at least ``parallelizable_min_calls`` is reported when running it concurrently would save at
least ``parallelizable_min_savings_ms``: the saving is the time the run's spans covered (the
union of their windows) minus the longest of them, which is what the run would take if they
all ran at once.
"""

from __future__ import annotations

from bisect import bisect_left

from agentspans import semconv
from agentspans.analysis.accounting import agent_name
from agentspans.analysis.detectors._links import Links
from agentspans.analysis.detectors._view import TraceView, human_ms, ms, name_counts
from agentspans.analysis.detectors.repeats import retry_chains
from agentspans.analysis.model import Finding

KIND = "parallelizable_sequence"
# Finish reasons of a response that asked for tool calls (OpenAI chat, Anthropic, older OpenAI).
_TOOL_REASONS = frozenset({"tool_calls", "tool_use", "function_call"})
BY_IDS = "tool_call_ids"
BY_STRUCTURE = "structure"


def detect(view: TraceView) -> list[Finding]:
    retrying = {node for chain in retry_chains(view) for node in chain}
    findings, matched = _batches(view, retrying)
    accounts = view.accounts
    min_calls = _min_calls(view)
    excluded = retrying | matched
    llm, tool, agent = accounts.llm, accounts.tool, accounts.agent
    for parent, kids in view.tree.children.items():
        if len(kids) < min_calls:
            continue
        steps = [k for k in kids if llm[k] or tool[k] or agent[k]]
        if len(steps) >= min_calls:
            _sibling_runs(view, parent, steps, excluded, findings)
    return findings


def _batches(view: TraceView, retrying: set[int]) -> tuple[list[Finding], set[int]]:
    """Pattern 1: the tool calls each response asked for, matched by id. Returns the findings
    and every tool span matched to a response (left out of the structural runs)."""
    links = view.links()
    findings: list[Finding] = []
    matched: set[int] = set()
    start = view.tree.start
    min_calls = _min_calls(view)
    for llm, asked in links.asked.items():
        tools = [links.executor[c] for c in asked if c in links.executor]
        # An id several responses asked for is no evidence of which one the tool served.
        tools = [t for t in tools if links.call_id[t] not in links.ambiguous]
        matched.update(tools)
        tools = sorted({t for t in tools if t not in retrying}, key=start.__getitem__)
        if len(tools) < min_calls:
            continue
        if links.carried and _saving(view, tools) is not None:
            # A tool whose result this response's request carried back (transitively) ran
            # for an earlier request: it needs the response (which asked for it) and the
            # response needs it, a cycle (only a malformed trace has one, so it is looked for
            # only where a finding would follow). Every other chain between two of these
            # tools would pass through another response asking for one of them: an
            # ambiguous id, left out above.
            tools = [t for t in tools if not links.in_a_cycle_with(t, llm)]
        if len(tools) >= min_calls:
            _report(view, tools, findings, evidence=BY_IDS, asked_by=llm)
    return findings, matched


def _sibling_runs(
    view: TraceView, parent: int, steps: list[int], excluded: set[int], findings: list[Finding]
) -> None:
    """Patterns 2 and 3 among one parent's children ``steps`` (in start order)."""
    accounts, start, end = view.accounts, view.tree.start, view.tree.end
    is_llm, is_agent, is_tool = accounts.llm, accounts.agent, accounts.tool
    # This loop runs once per sibling (a wide trace has thousands): _close is called only for
    # a run long enough to report (its own first test), and the id chain is followed only where
    # some request carried results back (without any, no call needs another's output).
    min_calls = _min_calls(view)
    links = view.links()
    chain = _RunLinks(links) if links.carried else None
    run: list[int] = []
    # The model call the current run follows, with only tool calls between (-1: none).
    model = -1
    latest_end: int | None = None
    last = len(steps) - 1
    for position, step in enumerate(steps):
        step_end = end[step]
        overlaps = (latest_end is not None and start[step] < latest_end) or (
            position < last and start[steps[position + 1]] < step_end
        )
        if latest_end is None or step_end > latest_end:
            latest_end = step_end
        if is_llm[step]:
            _end_run(view, parent, run, findings, model, chain, min_calls)
            run, model = [], step
            continue
        if model >= 0 and is_agent[step]:
            model = -1  # a delegation between: the tools after it are not the response's alone
        if overlaps or step in excluded:
            if run:  # an empty run has nothing to end
                _end_run(view, parent, run, findings, model, chain, min_calls)
                run = []
            continue
        # Tool after tool with no id chain to follow always joins: _joins's answer, inlined.
        if run and not (
            (is_tool[run[-1]] and is_tool[step] and chain is None)
            or _joins(view, run[-1], step, chain)
        ):
            _end_run(view, parent, run, findings, model, chain, min_calls)
            run = []
        run.append(step)
        if chain is not None:
            chain.add(step)
    _close(view, parent, run, findings, model)


def _end_run(
    view: TraceView,
    parent: int,
    run: list[int],
    findings: list[Finding],
    model: int,
    chain: _RunLinks | None,
    min_calls: int,
) -> None:
    """A run stops: reported when it is long enough (``_close`` judges the rest)."""
    if len(run) >= min_calls:
        _close(view, parent, run, findings, model)
    if chain is not None:
        chain.clear()


def _joins(view: TraceView, previous: int, step: int, chain: _RunLinks | None) -> bool:
    """Whether ``step`` can extend the run that ends with ``previous``: a call of the same kind
    that needs none of the run's results."""
    tool = view.accounts.tool
    if not ((tool[previous] and tool[step]) or _same_kind(view, previous, step)):
        return False
    return chain is None or not chain.needs_any(step)


def _same_kind(view: TraceView, previous: int, step: int) -> bool:
    """Tools run with tools; a delegation runs only with delegations to the same agent."""
    accounts, tree = view.accounts, view.tree
    if accounts.tool[previous] and accounts.tool[step]:
        return True
    return (
        accounts.agent[previous]
        and accounts.agent[step]
        and agent_name(tree, previous) == agent_name(tree, step)
    )


def _min_calls(view: TraceView) -> int:
    """The threshold, at least 1: a run has a call, and a ``Thresholds`` made directly with 0
    (``from_mapping`` refuses it) must not make an empty run a finding."""
    return max(view.thresholds.parallelizable_min_calls, 1)


def _close(
    view: TraceView, parent: int, run: list[int], findings: list[Finding], model: int
) -> None:
    if len(run) < _min_calls(view):
        return
    if view.accounts.agent[run[0]]:
        if not _linked(view, run):
            _report(view, run, findings, evidence=BY_STRUCTURE, parent=parent)
        return
    _report(
        view,
        run,
        findings,
        evidence=BY_STRUCTURE,
        parent=parent,
        after_model=model >= 0 and _asked_for(view, model, len(run)),
    )


def _asked_for(view: TraceView, model: int, count: int) -> bool:
    """Whether the model call's response asked for (at least) ``count`` tool calls: by its ids
    when recorded, else by its finish reason. A response that finished with ``stop`` asked for
    none: the tools after it are the app's own code."""
    asked = view.links().asked.get(model)
    if asked is not None:
        return len(asked) >= count
    reasons = view.tree.records[model].attributes.get(semconv.GEN_AI_RESPONSE_FINISH_REASONS)
    if isinstance(reasons, str):
        reasons = (reasons,)
    return isinstance(reasons, (list, tuple)) and any(r in _TOOL_REASONS for r in reasons)


class _RunLinks:
    """Whether a tool call and one of the current run are linked by the id chain, either way (a
    malformed trace may link a call to one that started before it); a tool call without an id
    is in no chain. The run's calls with an id, and everything downstream of them, are kept as
    the run grows: following ``Links.downstream`` from the whole run at every step made a long
    run of tool calls with ids quadratic (4,000 of them: 1.7 s)."""

    __slots__ = ("_last", "_links", "_members", "_reach")

    def __init__(self, links: Links) -> None:
        self._links = links
        self._members: set[int] = set()
        self._reach: set[int] = set()  # what needs a member's output, transitively
        self._last: tuple[int, set[int]] = (-1, set())  # the last step's own downstream

    def _downstream(self, step: int) -> set[int]:
        if self._last[0] != step:
            self._last = (step, self._links.downstream((step,)))
        return self._last[1]

    def needs_any(self, step: int) -> bool:
        if not self._members or step not in self._links.call_id:
            return False
        return step in self._reach or not self._downstream(step).isdisjoint(self._members)

    def add(self, step: int) -> None:
        """``step`` joined the run."""
        if step in self._links.call_id:
            self._members.add(step)
            self._reach |= self._downstream(step)

    def clear(self) -> None:
        """A new run starts."""
        if self._members:
            self._members.clear()
            self._reach.clear()


def _linked(view: TraceView, run: list[int]) -> bool:
    """Whether a call inside one delegation needs the output of a call inside another through
    the id chain (a conversation handed on, a tool result passed along): then they are not
    independent."""
    links = view.links()
    if not links.carried:
        return False
    # The run's delegations are siblings: each one's subtree is its own contiguous range of
    # tree (preorder) indices, so the linked calls inside it are found by bisection in the
    # sorted list of linked calls, not by walking every linked call of the trace up to the run
    # (which, for a trace of many delegation runs, was quadratic).
    linked, subtree_end = view.linked_calls(), view.subtree_ends()
    owner: dict[int, int] = {}  # linked call -> the delegation whose subtree holds it
    inside: dict[int, list[int]] = {}
    for delegation in run:
        low = bisect_left(linked, delegation)
        nodes = linked[low : bisect_left(linked, subtree_end[delegation], low)]
        if nodes:
            inside[delegation] = nodes
            owner.update(dict.fromkeys(nodes, delegation))
    return any(
        owner.get(needing, delegation) != delegation
        for delegation, nodes in inside.items()
        for needing in links.downstream(nodes)
    )


def _report(
    view: TraceView,
    run: list[int],
    findings: list[Finding],
    *,
    evidence: str,
    parent: int | None = None,
    asked_by: int | None = None,
    after_model: bool = False,
) -> None:
    saving = _saving(view, run)
    if saving is None:
        return
    start, end = view.tree.start, view.tree.end
    durations = [end[c] - start[c] for c in run]
    shown = name_counts([view.name(c) for c in run])
    details: dict[str, object] = {
        "evidence": evidence,
        "calls": len(run),
        "sequential_ms": ms(sum(durations)),
        "longest_ms": ms(max(durations)),
    }
    if asked_by is not None:
        details["requested_by_span_id"] = view.span_id(asked_by)
        where = f"{view.name(asked_by)!r} asked for {len(run)} tool calls in one response"
        advice = (
            "The model wrote all of their arguments at once, so none needs another's result: "
            "run them concurrently (asyncio.gather or a thread pool; most agent frameworks "
            "have a parallel tool-call option)"
        )
    else:
        assert parent is not None
        details["parent_span_id"] = view.span_id(parent)
        where = f"{len(run)} calls under {view.name(parent)!r}"
        if view.accounts.agent[run[0]]:
            advice = (
                "Nothing in the trace links them (no model call between the delegations, no "
                "result handed on); if each does not need the one before it, run them "
                "concurrently"
            )
        elif after_model:
            advice = (
                "They come between two model calls, so one response asked for all of them: "
                "run them concurrently (asyncio.gather, a thread pool, or the framework's "
                "parallel tool-call option)"
            )
        else:
            advice = (
                "If they do not depend on each other, run them concurrently (asyncio.gather "
                "or a thread pool)"
            )
    findings.append(
        view.finding(
            KIND,
            run,
            saving,
            (
                f"{where} ran one after another ({shown}; {human_ms(sum(durations))} in all). "
                f"{advice} to save about {human_ms(saving)}."
            ),
            details,
        )
    )


def _saving(view: TraceView, run: list[int]) -> int | None:
    """What running ``run`` concurrently would save (ns), when enough to report."""
    start, end = view.tree.start, view.tree.end
    saving = _covered(view, run) - max([end[c] - start[c] for c in run])
    if saving <= 0 or ms(saving) < view.thresholds.parallelizable_min_savings_ms:
        return None
    return saving


def _covered(view: TraceView, run: list[int]) -> int:
    """The length of the union of the run's windows (runs are in start order)."""
    start, end = view.tree.start, view.tree.end
    total = 0
    reach: int | None = None
    for node in run:
        s, e = start[node], end[node]
        if reach is None or s >= reach:
            total += e - s
            reach = e
        elif e > reach:
            total += e - reach
            reach = e
    return total
