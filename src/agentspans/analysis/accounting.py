"""What a tree's spans did: which are LLM, tool and agent calls, and what they add up to.

An LLM span is one :func:`agentspans.llm_span.read_llm_call` recognises (ours, or another
instrumentation's under its own names); its tokens and cost are read there too. When two
instrumentations nest (litellm's span around openai's), only the outermost LLM span counts as a
call; a count it lacks (tokens, cost) is taken from the first LLM span nested inside it that has
it, so the call is counted once and with everything that was measured. Tool calls are
``execute_tool`` spans. A trace's totals are the sum over its counted LLM calls, and equal the
root's rollup.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agentspans import semconv
from agentspans.analysis._build import rollup as make_rollup
from agentspans.analysis._build import rollups as make_rollups
from agentspans.analysis.forest import Tree
from agentspans.analysis.model import AgentSummary, Rollup, Totals
from agentspans.llm_span import MAX_COUNT, LlmCall, count, read_llm_call


@dataclass(slots=True)
class Accounts:
    """Per tree index facts the detectors and the rollups share."""

    operation: list[str | None]
    # The span is a counted LLM call (the outermost of a nest of LLM spans).
    llm: list[bool]
    tool: list[bool]
    agent: list[bool]
    # For counted LLM calls: tokens and cost (None when nothing measured them).
    input_tokens: list[int | None]
    output_tokens: list[int | None]
    cost: list[float | None]
    # The nearest invoke_agent span at or above each span (-1 for none).
    agent_of: list[int]
    vram_peak: list[int | None]
    # Request fingerprints of counted LLM calls and tool calls.
    fingerprint: list[str | None]
    # The same facts as index lists, in tree order, so detectors need not scan every span.
    llm_nodes: list[int]
    tool_nodes: list[int]
    agent_nodes: list[int]
    # Spans with a known peak GPU memory utilization, and that utilization.
    vram_utilization: dict[int, float]
    # Counted LLM calls and tool calls whose status is ERROR.
    failed: set[int]
    # Counted LLM calls' model context window and output speed, where recorded. Read here, in
    # the one pass over every span's attributes, so that detectors need not touch them again.
    context_window: dict[int, float]
    tokens_per_s: dict[int, float]
    # The dependency evidence's raw values, where present (not empty), read in the same pass
    # while each span's attributes are at hand (detectors/_links.py makes the links of them):
    # counted LLM calls' response tool-call ids and request tool-result ids, tool calls' ids.
    asked_ids: dict[int, Any] = field(default_factory=dict)
    carried_ids: dict[int, Any] = field(default_factory=dict)
    tool_call_id: dict[int, Any] = field(default_factory=dict)


def vram_utilization(attributes: Mapping[str, Any], peak: int | None) -> float | None:
    value = attributes.get(semconv.VRAM_UTILIZATION_PEAK)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    total = attributes.get(semconv.VRAM_TOTAL_BYTES)
    if peak is not None and isinstance(total, int) and total > 0:
        return peak / total
    return None


def _empty(n: int) -> Accounts:
    return Accounts(
        operation=[None] * n,
        llm=[False] * n,
        tool=[False] * n,
        agent=[False] * n,
        input_tokens=[None] * n,
        output_tokens=[None] * n,
        cost=[None] * n,
        agent_of=[-1] * n,
        vram_peak=[None] * n,
        fingerprint=[None] * n,
        llm_nodes=[],
        tool_nodes=[],
        agent_nodes=[],
        vram_utilization={},
        failed=set(),
        context_window={},
        tokens_per_s={},
    )


def account(tree: Tree) -> Accounts:
    """Classify every span (agent, tool, counted LLM call) and read what it measured."""
    n = len(tree)
    acc = _empty(n)
    # Everything the per-span loop touches is bound locally: it runs once per span.
    agent_of, operation = acc.agent_of, acc.operation
    is_agent, is_tool = acc.agent, acc.tool
    add_agent, add_tool = acc.agent_nodes.append, acc.tool_nodes.append
    # The outermost LLM span at or above each span (-1 when not inside one).
    outer_llm = [-1] * n
    op_key, agent_op, tool_op = (
        semconv.GEN_AI_OPERATION_NAME,
        semconv.OP_INVOKE_AGENT,
        semconv.OP_EXECUTE_TOOL,
    )
    llm_ops = semconv.LLM_OPERATIONS
    in_key, out_key, cost_key = (
        semconv.GEN_AI_USAGE_INPUT_TOKENS,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
        semconv.COST_USD,
    )
    vram_key, utilization_key = semconv.VRAM_PEAK_BYTES, semconv.VRAM_UTILIZATION_PEAK
    fp_key, call_id_key = semconv.REQUEST_FINGERPRINT, semconv.GEN_AI_TOOL_CALL_ID
    fingerprint, failed, tool_call_id = acc.fingerprint, acc.failed, acc.tool_call_id
    i = -1
    for record, p in zip(tree.records, tree.parent, strict=True):  # preorder: parents first
        i += 1
        attributes = record.attributes
        op = attributes.get(op_key)
        if p >= 0:
            agent_of[i] = agent_of[p]
            above = outer_llm[i] = outer_llm[p]
        else:
            above = -1
        if vram_key in attributes or utilization_key in attributes:
            _read_vram(acc, i, attributes)
        if op is None:  # another instrumentation's LLM span, or no call at all
            call = read_llm_call(attributes)
            if call is not None:
                outer_llm[i] = _count_llm(acc, i, above, record, *_counts(call))
        elif op == agent_op:
            is_agent[i] = True
            agent_of[i] = i
            add_agent(i)
            operation[i] = op
        elif op == tool_op:  # a tool span: its fingerprint, failure and tool-call id
            operation[i] = op
            is_tool[i] = True
            add_tool(i)
            fp = attributes.get(fp_key)
            if isinstance(fp, str) and fp:
                fingerprint[i] = fp
            if record.error:
                failed.add(i)
            call_id = attributes.get(call_id_key)
            if call_id:
                tool_call_id[i] = call_id
        elif type(op) is str and op in llm_ops:
            # Our own spans carry the conventions' names with valid counts: read those three
            # directly, and anything else (other names, a bad value to drop) the full way.
            # tests/analysis/test_accounting.py holds this equal to read_llm_call.
            tokens_in = attributes.get(in_key)
            tokens_out = attributes.get(out_key)
            cost = attributes.get(cost_key)
            if _valid_counts(tokens_in, tokens_out, cost):
                outer_llm[i] = _count_llm(acc, i, above, record, op, tokens_in, tokens_out, cost)
            else:
                call = read_llm_call(attributes)
                assert call is not None  # its operation is an LLM call's
                outer_llm[i] = _count_llm(acc, i, above, record, *_counts(call))
        elif isinstance(op, str):
            operation[i] = op
    return acc


def _valid_counts(tokens_in: Any, tokens_out: Any, cost: Any) -> bool:
    """Whether our own span's counts are what read_llm_call would take as they are."""
    return (
        type(tokens_in) is int
        and 0 <= tokens_in <= MAX_COUNT
        and type(tokens_out) is int
        and 0 <= tokens_out <= MAX_COUNT
        and (cost is None or (type(cost) is float and 0.0 <= cost < math.inf))
    )


def _read_vram(acc: Accounts, i: int, attributes: Mapping[str, Any]) -> None:
    peak = acc.vram_peak[i] = count(
        attributes.get(semconv.VRAM_PEAK_BYTES), semconv.VRAM_PEAK_BYTES
    )
    share = vram_utilization(attributes, peak)
    if share is not None:
        acc.vram_utilization[i] = share


def _counts(call: LlmCall) -> tuple[str, int | None, int | None, float | None]:
    return call.operation, call.input_tokens, call.output_tokens, call.cost_usd


def _count_llm(
    acc: Accounts,
    i: int,
    above: int,
    record: Any,
    operation: str,
    tokens_in: int | None,
    tokens_out: int | None,
    cost: float | None,
) -> int:
    """Count span ``i`` as an LLM call, or (inside one, ``above``) fill in what that call lacks;
    returns the counted call's index."""
    acc.operation[i] = operation
    attributes = record.attributes
    fp = _text(attributes.get(semconv.REQUEST_FINGERPRINT))
    if above < 0:
        acc.llm[i] = True
        acc.llm_nodes.append(i)
        acc.input_tokens[i], acc.output_tokens[i] = tokens_in, tokens_out
        acc.cost[i], acc.fingerprint[i] = cost, fp
        if record.error:
            acc.failed.add(i)
        asked = attributes.get(semconv.RESPONSE_TOOL_CALL_IDS)
        if asked:
            acc.asked_ids[i] = asked
        carried = attributes.get(semconv.REQUEST_TOOL_RESULT_IDS)
        if carried:
            acc.carried_ids[i] = carried
        above = i
    else:
        if acc.input_tokens[above] is None:
            acc.input_tokens[above] = tokens_in
        if acc.output_tokens[above] is None:
            acc.output_tokens[above] = tokens_out
        if acc.cost[above] is None:
            acc.cost[above] = cost
        if acc.fingerprint[above] is None:
            acc.fingerprint[above] = fp
    window = attributes.get(semconv.REQUEST_CONTEXT_WINDOW)
    if window is not None and (window := positive(window)) is not None:
        acc.context_window.setdefault(above, window)
    speed = attributes.get(semconv.OUTPUT_TOKENS_PER_SECOND)
    if speed is not None and (speed := positive(speed)) is not None:
        acc.tokens_per_s.setdefault(above, speed)
    return above


def positive(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if 0 < value < math.inf else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(slots=True)
class Subtrees:
    """Every span's subtree totals as parallel lists; :meth:`rollup` builds one on demand."""

    input_tokens: list[int]
    output_tokens: list[int]
    cost: list[float]
    llm_calls: list[int]
    tool_calls: list[int]
    priced_calls: list[int]
    vram_peak: list[int | None]

    def rollups(self, span_ids: list[str], nodes: list[int]) -> dict[str, Rollup]:
        """The rollups of ``nodes``, by span id (``rollup``'s, in one loop)."""
        columns = (
            self.input_tokens,
            self.output_tokens,
            self.cost,
            self.llm_calls,
            self.tool_calls,
            self.priced_calls,
            self.vram_peak,
        )
        return make_rollups(span_ids, nodes, columns)

    def rollup(self, i: int) -> Rollup:
        return make_rollup(
            self.input_tokens[i],
            self.output_tokens[i],
            self.cost[i],
            self.llm_calls[i],
            self.tool_calls[i],
            self.priced_calls[i],
            self.vram_peak[i],
        )


def subtrees(tree: Tree, accounts: Accounts) -> Subtrees:
    """The subtree totals of every span (children folded into parents)."""
    n = len(tree)
    parent = tree.parent
    inputs = [0] * n
    outputs = [0] * n
    cost = [0.0] * n
    llm_calls = [0] * n
    tool_calls = [0] * n
    priced = [0] * n
    vram: list[int | None] = list(accounts.vram_peak)
    for i in accounts.llm_nodes:
        inputs[i] = accounts.input_tokens[i] or 0
        outputs[i] = accounts.output_tokens[i] or 0
        llm_calls[i] = 1
        c = accounts.cost[i]
        if c is not None:
            cost[i] = c
            priced[i] = 1
    for i in accounts.tool_nodes:
        tool_calls[i] = 1
    if accounts.llm_nodes:
        _fold_calls(parent, inputs, outputs, cost, llm_calls, tool_calls, priced)
    elif accounts.tool_nodes:  # no LLM call: their columns stay zero, only the tools add up
        for i in range(n - 1, 0, -1):
            tool_calls[parent[i]] += tool_calls[i]
    if vram.count(None) < n:  # some span measured its GPU memory
        for i in range(n - 1, 0, -1):
            v = vram[i]
            if v is not None:
                p = parent[i]
                pv = vram[p]
                if pv is None or v > pv:
                    vram[p] = v
    return Subtrees(inputs, outputs, cost, llm_calls, tool_calls, priced, vram)


def _fold_calls(
    parent: list[int],
    inputs: list[int],
    outputs: list[int],
    cost: list[float],
    llm_calls: list[int],
    tool_calls: list[int],
    priced: list[int],
) -> None:
    """Each span's call counts folded into its parent's, children before parents."""
    for i in range(len(parent) - 1, 0, -1):  # reverse preorder: children before parents
        p = parent[i]
        inputs[p] += inputs[i]
        outputs[p] += outputs[i]
        cost[p] += cost[i]
        llm_calls[p] += llm_calls[i]
        tool_calls[p] += tool_calls[i]
        priced[p] += priced[i]


def totals_of(rollup: Rollup) -> Totals:
    return Totals(
        input_tokens=rollup.input_tokens,
        output_tokens=rollup.output_tokens,
        cost_usd=rollup.cost_usd,
        llm_calls=rollup.llm_calls,
        tool_calls=rollup.tool_calls,
        priced_calls=rollup.priced_calls,
    )


def agent_name(tree: Tree, node: int) -> str:
    name = tree.records[node].attributes.get(semconv.GEN_AI_AGENT_NAME)
    return name if isinstance(name, str) and name else tree.records[node].name


def agents_by_name(tree: Tree, accounts: Accounts) -> tuple[dict[int, str], dict[str, list[int]]]:
    """Each agent span's name (:func:`agent_name`), and each name's agent spans, names in the
    order first seen."""
    names: dict[int, str] = {}
    spans_of: dict[str, list[int]] = {}
    records, name_key = tree.records, semconv.GEN_AI_AGENT_NAME
    for i in accounts.agent_nodes:  # a deep delegation chain has one per span
        record = records[i]
        name = record.attributes.get(name_key)  # agent_name, inlined
        if not (isinstance(name, str) and name):
            name = record.name
        names[i] = name
        spans = spans_of.get(name)
        if spans is None:
            spans_of[name] = [i]
        else:
            spans.append(i)
    return names, spans_of


@dataclass(slots=True)
class _AgentRow:
    """One agent's running totals while :func:`agent_summaries` adds them up. At module level:
    a dataclass defined inside the function was rebuilt on every call (about 70% of the
    in-process analysis of a one-span trace)."""

    calls: int = 0
    duration_ns: int = 0
    own_ns: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    llm_calls: int = 0
    tool_calls: int = 0
    vram: int | None = None


def _span_totals(
    spans: list[int], tree: Tree, own_ns: Mapping[int, int], vram: list[int | None]
) -> _AgentRow:
    """One agent's row from its spans alone (integer sums: their order does not matter)."""
    start, end, own = tree.start, tree.end, own_ns.get
    peaks = [peak for i in spans if (peak := vram[i]) is not None]
    return _AgentRow(
        calls=len(spans),
        duration_ns=sum([end[i] - start[i] for i in spans]),
        own_ns=sum([own(i, 0) for i in spans]),
        vram=max(peaks) if peaks else None,
    )


def agent_summaries(
    tree: Tree, accounts: Accounts, own_ns: Mapping[int, int], subtree: Subtrees
) -> list[AgentSummary]:
    """One row per agent name: its invoke_agent spans, and the LLM and tool calls it made
    itself (those whose nearest agent span is one of its own; its sub-agents have their own
    rows), so the rows add up to the totals less the calls made outside any agent."""

    names, spans_of = agents_by_name(tree, accounts)
    rows = {
        name: _span_totals(spans, tree, own_ns, subtree.vram_peak)
        for name, spans in spans_of.items()
    }
    for i in accounts.llm_nodes:
        owner = accounts.agent_of[i]
        if owner >= 0:
            row = rows[names[owner]]
            row.llm_calls += 1
            row.input_tokens += accounts.input_tokens[i] or 0
            row.output_tokens += accounts.output_tokens[i] or 0
            row.cost += accounts.cost[i] or 0.0
    for i in accounts.tool_nodes:
        owner = accounts.agent_of[i]
        if owner >= 0:
            rows[names[owner]].tool_calls += 1
    # Rows in the order their first span appears depth-first from the root.
    return [
        AgentSummary(
            name=name,
            calls=row.calls,
            duration_ms=row.duration_ns / 1e6,
            input_tokens=row.input_tokens,
            output_tokens=row.output_tokens,
            cost_usd=row.cost,
            own_ms=row.own_ns / 1e6,
            vram_peak_bytes=row.vram,
            llm_calls=row.llm_calls,
            tool_calls=row.tool_calls,
        )
        for name, row in rows.items()
    ]
