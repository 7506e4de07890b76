"""``repeated_call`` and ``error_retry``: the same request made more than once.

``repeated_call``: successful (non-error) LLM and tool calls with the same
``agentspans.request.fingerprint``, at least ``repeated_call_min_count`` of them in one trace.
Every call after the first (by start) is a repeat; the saving is the repeats' duration, and the
details carry the tokens and cost they wasted. Failed calls are left to ``error_retry``.

``error_retry``: a failed LLM or tool call followed by an equivalent one, where equivalent means
the same fingerprint, or the same span name under the same parent (a retry often changes an
argument, such as the attempt number). The
retry must start after the failure ended and within ``error_retry_max_gap_ms`` of it; a chain of
failures is one finding. The saving is the time from the first failed attempt's start to the
last attempt's start: what the failures and the back-off cost.
"""

from __future__ import annotations

from agentspans.analysis.detectors._view import TraceView, human_ms, usd
from agentspans.analysis.model import Finding

REPEATED = "repeated_call"
RETRY = "error_retry"
_LOOKAHEAD = 64


def _retry_in(view: TraceView, failed: int, group: list[int], position: int) -> int | None:
    """The first call after ``group[position]`` (the failed one) that starts after it ended,
    within ``error_retry_max_gap_ms``."""
    tree = view.tree
    max_gap = view.thresholds.error_retry_max_gap_ms * 1e6
    # Bounded look-ahead: a retry comes soon after, and a huge group of overlapping calls must
    # not make this quadratic.
    for later in group[position + 1 : position + 1 + _LOOKAHEAD]:
        gap = tree.start[later] - tree.end[failed]
        if gap > max_gap:
            return None
        if gap >= 0:
            return later
    return None


def detect_repeats(view: TraceView) -> list[Finding]:
    tree, accounts = view.tree, view.accounts
    fingerprint, failed = accounts.fingerprint, accounts.failed
    # Most requests are unique: find the repeated fingerprints with sets first, and build
    # groups for those alone.
    once: set[str] = set()
    repeated: set[str] = set()
    for call in view.calls():
        fp = fingerprint[call]
        if fp is not None and call not in failed:
            if fp in once:
                repeated.add(fp)
            else:
                once.add(fp)
    if not repeated:
        return []
    groups: dict[str, list[int]] = {fp: [] for fp in sorted(repeated)}
    for call in view.calls():
        fp = fingerprint[call]
        if fp in repeated and call not in failed:
            groups[fp].append(call)
    findings = []
    trace_cost = view.subtrees.cost[0]
    for fp, group in groups.items():
        if len(group) < max(view.thresholds.repeated_call_min_count, 2):
            continue
        repeats = group[1:]
        saving = sum([tree.end[c] - tree.start[c] for c in repeats])
        tokens_in = sum(accounts.input_tokens[c] or 0 for c in repeats)
        tokens_out = sum(accounts.output_tokens[c] or 0 for c in repeats)
        costs = [accounts.cost[c] for c in repeats if accounts.cost[c] is not None]
        wasted = sum(c for c in costs if c is not None)
        share = view.time_share(saving)
        if trace_cost > 0 and costs:
            share = max(share, wasted / trace_cost)
        waste_text = ""
        if tokens_in or tokens_out:
            waste_text = f", {tokens_in + tokens_out} tokens"
        if costs:
            waste_text += f", {usd(wasted)}"
        details: dict[str, object] = {
            "fingerprint": fp,
            "count": len(group),
            "wasted_input_tokens": tokens_in,
            "wasted_output_tokens": tokens_out,
        }
        if costs:
            details["wasted_cost_usd"] = wasted
        findings.append(
            view.finding(
                REPEATED,
                group,
                saving,
                (
                    f"{view.name(group[0])!r} was made {len(group)} times with an identical "
                    f"request; the {len(repeats)} repeat(s) wasted {human_ms(saving)}"
                    f"{waste_text}. Cache the result (or pass it along) instead of asking again."
                ),
                details,
                share=share,
            )
        )
    return findings


def detect_retries(view: TraceView) -> list[Finding]:
    tree = view.tree
    calls = view.calls()
    failed = [call for call in calls if call in view.accounts.failed]
    if not failed:
        return []
    fingerprint, parent, records = view.accounts.fingerprint, tree.parent, tree.records
    failing = view.accounts.failed

    def keys_of(call: int) -> list[object]:
        keys: list[object] = [("name", parent[call], records[call].name)]
        fp = fingerprint[call]
        if fp is not None:
            keys.append(("fingerprint", fp))
        return keys

    # Only the groups a failed call belongs to matter; each in start order, with the position
    # of every failed call in it. The cheap tests first: most calls share neither a parent nor
    # a fingerprint with any failed call.
    by_key: dict[object, list[int]] = {key: [] for call in failed for key in keys_of(call)}
    parents = {parent[call] for call in failed}
    fingerprints = {fingerprint[call] for call in failed} - {None}
    memberships: dict[int, list[tuple[list[int], int]]] = {}
    for call in calls:
        if parent[call] not in parents and fingerprint[call] not in fingerprints:
            continue
        for key in keys_of(call):
            group = by_key.get(key)
            if group is None:
                continue
            if call in failing:
                memberships.setdefault(call, []).append((group, len(group)))
            group.append(call)
    next_of: dict[int, int] = {}
    for call, places in memberships.items():
        found = [r for r in (_retry_in(view, call, g, p) for g, p in places) if r is not None]
        if found:
            next_of[call] = min(found, key=lambda r: (tree.start[r], view.span_id(r)))
    retried = set(next_of.values())
    findings = []
    for first in calls:
        if first not in next_of or first in retried:
            continue
        chain = [first]
        while chain[-1] in next_of and len(chain) <= len(calls):
            chain.append(next_of[chain[-1]])
        last = chain[-1]
        saving = tree.start[last] - tree.start[first]
        failures = len(chain) - 1
        outcome = "failed too" if last in view.accounts.failed else "succeeded"
        findings.append(
            view.finding(
                RETRY,
                chain,
                saving,
                (
                    f"{view.name(first)!r} failed {failures} time(s) and was retried (the last "
                    f"attempt {outcome}); failures and back-off cost {human_ms(saving)}. Find "
                    "why it fails (rate limits, timeouts, bad arguments) rather than retrying."
                ),
                {"attempts": len(chain), "failures": failures},
            )
        )
    return findings
