"""``parallelizable_sequence``'s running record of a run's id chain (``_RunLinks``) against the
definition it replaces: a tool call ``step`` and the run are linked when ``step`` is downstream
of the run's calls with an id, or one of them is downstream of ``step`` (``Links.downstream``
asked afresh at every step). Random id graphs; random runs that grow and restart."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from agentspans.analysis.detectors._links import Links
from agentspans.analysis.detectors.sequences import _RunLinks


def reference(links: Links, step: int, run: list[int]) -> bool:
    if not links.carried or step not in links.call_id:
        return False
    members = [m for m in run if m in links.call_id]
    return bool(members) and (
        step in links.downstream(members) or not links.downstream((step,)).isdisjoint(members)
    )


@st.composite
def graphs(draw: st.DrawFn) -> Links:
    """Model calls 0-4 and tool calls 10-19 over the ids c0..c5."""
    ids = [f"c{k}" for k in range(6)]
    links = Links()
    for model in range(5):
        asked = tuple(draw(st.lists(st.sampled_from(ids), max_size=3, unique=True)))
        if asked:
            links.asked[model] = asked
        carried = tuple(draw(st.lists(st.sampled_from(ids), max_size=3, unique=True)))
        if carried:
            links.carried[model] = carried
    for tool in range(10, 20):
        if draw(st.booleans()):
            call = draw(st.sampled_from(ids))
            links.call_id[tool] = call
            links.executor.setdefault(call, tool)
            links.executors.setdefault(call, []).append(tool)
    return links


@settings(max_examples=300)
@given(graphs(), st.lists(st.tuples(st.integers(10, 19), st.booleans()), max_size=30))
def test_running_record_answers_as_the_definition(
    links: Links, steps: list[tuple[int, bool]]
) -> None:
    chain = _RunLinks(links)
    run: list[int] = []
    for step, restart in steps:
        assert chain.needs_any(step) == reference(links, step, run)
        if restart:
            run = []
            chain.clear()
        run.append(step)
        chain.add(step)
