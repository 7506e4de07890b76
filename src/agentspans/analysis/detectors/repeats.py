"""``repeated_call`` and ``error_retry``: the same request made more than once.

``repeated_call``: successful (non-error) LLM and tool calls with the same
``agentspans.request.fingerprint``. A call is a *repeat* when it started at or after an
identical call had ended: that call's result was there to reuse. Identical calls made
concurrently are not repeats (nothing could have been reused while both were in flight). A
finding names the repeats and the calls they could have reused, at least
``repeated_call_min_count`` calls in all; the saving is the repeats' duration, and the details
carry the tokens and cost they wasted. Failed calls are left to ``error_retry``.

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


def _repeated_groups(view: TraceView) -> dict[str, list[int]]:
    """Successful calls by fingerprint, in start order, for the fingerprints seen twice."""
    fingerprint, failed = view.accounts.fingerprint, view.accounts.failed
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
    groups: dict[str, list[int]] = {fp: [] for fp in sorted(repeated)}
    for call in view.calls():
        fp = fingerprint[call]
        if fp in repeated and call not in failed:
            groups[fp].append(call)
    return groups


def _wasted(view: TraceView, group: list[int]) -> tuple[list[int], list[int]]:
    """The repeats in ``group`` (calls that started once an identical one had ended) and the
    calls they could have reused (for each repeat, the earliest-ending one before it)."""
    start, end = view.tree.start, view.tree.end
    repeats: list[int] = []
    reused: set[int] = set()
    done: int | None = None  # the earliest-ending call so far
    for call in group:
        if done is not None and start[call] >= end[done]:
            repeats.append(call)
            reused.add(done)
        elif done is None or end[call] < end[done]:
            done = call
    repeated = set(repeats)  # membership tests against a set: a group can hold thousands
    return [c for c in group if c in reused and c not in repeated], repeats


def detect_repeats(view: TraceView) -> list[Finding]:
    findings = []
    for fp, group in _repeated_groups(view).items():
        originals, repeats = _wasted(view, group)
        named = {*originals, *repeats}  # a set: a list here made a large group quadratic
        involved = [c for c in group if c in named]
        if repeats and len(involved) >= max(view.thresholds.repeated_call_min_count, 2):
            findings.append(_repeat_finding(view, fp, involved, repeats))
    return findings


def _repeat_finding(view: TraceView, fp: str, involved: list[int], repeats: list[int]) -> Finding:
    tree, accounts = view.tree, view.accounts
    saving = sum([tree.end[c] - tree.start[c] for c in repeats])
    tokens_in = sum([accounts.input_tokens[c] or 0 for c in repeats])
    tokens_out = sum([accounts.output_tokens[c] or 0 for c in repeats])
    costs = [cost for c in repeats if (cost := accounts.cost[c]) is not None]
    wasted = sum(costs)
    trace_cost = view.subtrees.cost[0]
    share = view.time_share(saving)
    severity = view.time_severity(saving)
    if trace_cost > 0 and costs:
        share = max(share, wasted / trace_cost)
        severity = view.higher(severity, view.cost_severity(wasted, wasted / trace_cost))
    waste_text = f", {tokens_in + tokens_out} tokens" if tokens_in or tokens_out else ""
    details: dict[str, object] = {
        "fingerprint": fp,
        "count": len(involved),
        "repeats": len(repeats),
        "wasted_input_tokens": tokens_in,
        "wasted_output_tokens": tokens_out,
    }
    if costs:
        waste_text += f", {usd(wasted)}"
        details["wasted_cost_usd"] = wasted
    return view.finding(
        REPEATED,
        involved,
        saving,
        (
            f"{view.name(involved[0])!r} was made {len(involved)} times with an identical "
            f"request; the {len(repeats)} repeat(s) started after an identical call had "
            f"returned and wasted {human_ms(saving)}{waste_text}. Cache the result (or pass it "
            "along) instead of asking again."
        ),
        details,
        severity=severity,
    )


def retry_chains(view: TraceView) -> list[list[int]]:
    """Each failed call and the equivalent attempts after it: ``[failed, ..., last]``, by the
    first attempt's start. Cached on the view: ``parallelizable_sequence`` leaves them out."""
    if view._retry_chains is None:
        view._retry_chains = _chains(view)
    return view._retry_chains


def _keys_of(view: TraceView, call: int) -> list[object]:
    keys: list[object] = [("name", view.tree.parent[call], view.name(call))]
    fp = view.accounts.fingerprint[call]
    if fp is not None:
        keys.append(("fingerprint", fp))
    return keys


def _memberships(view: TraceView, failed: list[int]) -> dict[int, list[tuple[list[int], int]]]:
    """For each failed call, the groups of equivalent calls it belongs to (each in start order)
    and its position in each. The cheap tests first: most calls share neither a parent nor a
    fingerprint with any failed call."""
    parent, fingerprint, failing = view.tree.parent, view.accounts.fingerprint, view.accounts.failed
    by_key: dict[object, list[int]] = {key: [] for call in failed for key in _keys_of(view, call)}
    parents = {parent[call] for call in failed}
    fingerprints = {fingerprint[call] for call in failed} - {None}
    memberships: dict[int, list[tuple[list[int], int]]] = {}
    names = view.tree.records
    for call in view.calls():  # every call: the cheap tests inline
        if parent[call] not in parents and fingerprint[call] not in fingerprints:
            continue
        keys: list[object] = [("name", parent[call], names[call].name)]  # _keys_of, inlined
        if fingerprint[call] is not None:
            keys.append(("fingerprint", fingerprint[call]))
        for key in keys:
            group = by_key.get(key)
            if group is None:
                continue
            if call in failing:
                memberships.setdefault(call, []).append((group, len(group)))
            group.append(call)
    return memberships


def _chains(view: TraceView) -> list[list[int]]:
    calls = view.calls()
    failing = view.accounts.failed
    if not failing:
        return []
    failed = [call for call in calls if call in failing]
    if not failed:
        return []
    start = view.tree.start
    next_of: dict[int, int] = {}
    for call, places in _memberships(view, failed).items():
        found = [r for r in (_retry_in(view, call, g, p) for g, p in places) if r is not None]
        if found:
            next_of[call] = min(found, key=lambda r: (start[r], view.span_id(r)))
    retried = set(next_of.values())
    chains = []
    for first in calls:
        if first not in next_of or first in retried:
            continue
        chain = [first]
        while chain[-1] in next_of and len(chain) <= len(calls):
            chain.append(next_of[chain[-1]])
        chains.append(chain)
    return chains


def detect_retries(view: TraceView) -> list[Finding]:
    findings = []
    for chain in retry_chains(view):
        first, last = chain[0], chain[-1]
        saving = view.tree.start[last] - view.tree.start[first]
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
