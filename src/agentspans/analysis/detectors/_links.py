"""The dependency evidence a trace carries: which tool calls each model response asked for,
which tool span executed each one, and which requests carried the results back.

All of it is ids (``agentspans.response.tool_call_ids``, ``gen_ai.tool.call.id``,
``agentspans.request.tool_result_ids``), never content. ``account``'s one pass over the spans
keeps their raw values (for the counted LLM calls and the tool calls alone, while each span's
attributes are at hand); the links are made of them once per trace, when a detector first asks.

The ids make a dependency graph: a model call -> every tool span executing a call its response
asked for, and every later model call whose request carried one of those results back; a tool
span -> every model call whose request carried its result. :meth:`Links.downstream` follows it
transitively (what needs a span's output, directly or through other calls), one walk per
question; :meth:`Links.in_a_cycle_with` answers from one pass over the whole graph. Detectors
ask only where calls could be linked (some request carried results back), so a long agent loop
whose every request carries the whole history costs a pass or two, not one walk per call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from agentspans.analysis.accounting import Accounts
from agentspans.analysis.forest import Tree


@dataclass(slots=True)
class Links:
    # Counted LLM call -> the tool-call ids its response asked for, in the response's order.
    asked: dict[int, tuple[str, ...]] = field(default_factory=dict)
    # Counted LLM call -> the tool-call ids of the results its request carried back.
    carried: dict[int, tuple[str, ...]] = field(default_factory=dict)
    # Tool call -> the id of the tool call it executed.
    call_id: dict[int, str] = field(default_factory=dict)
    # Tool-call id -> the earliest tool span executing it (tree order is start order).
    executor: dict[str, int] = field(default_factory=dict)
    # Tool-call id -> the first LLM call whose response asked for it.
    asker: dict[str, int] = field(default_factory=dict)
    # Ids that several responses asked for (ids are unique per call, so the evidence is
    # ambiguous: such calls are left out of any batch).
    ambiguous: set[str] = field(default_factory=set)
    # Tool-call id -> every tool span executing it (a retry may reuse the id).
    executors: dict[str, list[int]] = field(default_factory=dict)
    # Tool-call id -> every LLM call whose request carried its result back, and each linked
    # call's strongly connected component in the id graph: built when first needed.
    _carriers: dict[str, list[int]] | None = None
    _components: dict[int, int] | None = None

    def any(self) -> bool:
        return bool(self.asked or self.carried or self.call_id)

    def downstream(self, sources: Iterable[int]) -> set[int]:
        """Every LLM or tool call that needs the output of one of ``sources`` through the id
        chain (response ids -> ``gen_ai.tool.call.id`` -> request result ids), transitively:
        one walk for all of them. Only requests that carried results back lead on from a tool
        call, so without any (``carried`` empty) no tool call needs another."""
        return _walk(sources, self._after)

    def in_a_cycle_with(self, a: int, b: int) -> bool:
        """Whether ``a`` and ``b`` each need the other's output through the id chain (one
        strongly connected component: only a malformed trace has such a cycle). One pass over
        the graph for the whole trace (Tarjan's), however many pairs are asked about."""
        if self._components is None:
            self._components = _strongly_connected(
                [*self.asked, *self.carried, *self.call_id], self._after
            )
        components = self._components
        return a in components and components.get(b) == components[a]

    def _after(self, node: int) -> Iterator[int]:
        """The calls that need ``node``'s output directly."""
        carriers = self._carriers
        if carriers is None:
            carriers = self._carriers = {}
            for later, carried in self.carried.items():
                for result in carried:
                    carriers.setdefault(result, []).append(later)
        call = self.call_id.get(node)
        if call is not None:
            yield from carriers.get(call, ())
        for wanted in self.asked.get(node, ()):
            executing = self.executors.get(wanted)
            # The requests carrying the result need the model call through its executor;
            # the direct edge matters only when no span executed the call.
            yield from executing if executing else carriers.get(wanted, ())


def _walk(sources: Iterable[int], step: Callable[[int], Iterator[int]]) -> set[int]:
    """The nodes reachable from ``sources`` by ``step`` (a source only when it is reached)."""
    seen: set[int] = set()
    stack = list(sources)
    while stack:
        for nxt in step(stack.pop()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _strongly_connected(
    nodes: Iterable[int], step: Callable[[int], Iterator[int]]
) -> dict[int, int]:
    """Node -> its strongly connected component (named by one member), by Tarjan's algorithm
    without recursion (a long agent loop is a deep chain)."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    component: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    for root in nodes:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, step(root))]
        while work:
            node, successors = work[-1]
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, step(nxt)))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    above = work[-1][0]
                    low[above] = min(low[above], low[node])
                if low[node] == index[node]:
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component[member] = node
                        if member == node:
                            break
    return component


def _ids(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, (list, tuple)):
        return tuple(dict.fromkeys(v for v in value if isinstance(v, str) and v))
    return ()


def read_links(tree: Tree, accounts: Accounts) -> Links:
    """The links of the raw ids ``account`` read (counted LLM calls and tool calls only), in
    tree order."""
    links = Links()
    asker = links.asker
    for node, value in accounts.asked_ids.items():
        if asked := _ids(value):
            links.asked[node] = asked
            for call in asked:
                if asker.setdefault(call, node) != node:
                    links.ambiguous.add(call)
    for node, value in accounts.carried_ids.items():
        if carried := _ids(value):
            links.carried[node] = carried
    executor, executors = links.executor, links.executors
    for node, value in accounts.tool_call_id.items():
        if isinstance(value, str):
            links.call_id[node] = value
            executor.setdefault(value, node)
            executors.setdefault(value, []).append(node)
    return links
