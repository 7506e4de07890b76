"""The dependency evidence a trace carries: which tool calls each model response asked for,
which tool span executed each one, and which requests carried the results back.

All of it is ids (``agentspans.response.tool_call_ids``, ``gen_ai.tool.call.id``,
``agentspans.request.tool_result_ids``), never content. Read once per trace, for the counted
LLM calls and the tool calls alone, when a detector first asks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agentspans import semconv
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

    def any(self) -> bool:
        return bool(self.asked or self.carried or self.call_id)


def _ids(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, (list, tuple)):
        return tuple(dict.fromkeys(v for v in value if isinstance(v, str) and v))
    return ()


def read_links(tree: Tree, accounts: Accounts) -> Links:
    links = Links()
    records = tree.records
    asked_key, carried_key = semconv.RESPONSE_TOOL_CALL_IDS, semconv.REQUEST_TOOL_RESULT_IDS
    asker, executor = links.asker, links.executor
    for node in accounts.llm_nodes:
        attributes: Mapping[str, Any] = records[node].attributes
        # Most calls carry neither: one lookup each, no conversion.
        value = attributes.get(asked_key)
        if value and (asked := _ids(value)):
            links.asked[node] = asked
            for call in asked:
                if asker.setdefault(call, node) != node:
                    links.ambiguous.add(call)
        value = attributes.get(carried_key)
        if value and (carried := _ids(value)):
            links.carried[node] = carried
    id_key = semconv.GEN_AI_TOOL_CALL_ID
    for node in accounts.tool_nodes:
        value = records[node].attributes.get(id_key)
        if value and isinstance(value, str):
            links.call_id[node] = value
            executor.setdefault(value, node)
    return links
