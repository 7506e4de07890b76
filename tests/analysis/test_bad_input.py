"""Bad input is analysed as far as it goes, with one clear message per problem; never raises."""

from __future__ import annotations

import itertools
import random
from typing import Any

from agentspans.analysis import analyze

from ._trees import TRACE, agent, span, tool


def test_several_roots_are_each_analysed_with_one_message() -> None:
    results = analyze(
        [
            agent("r2", None, 50, 80),
            agent("r1", None, 0, 100),
            tool("t", "r2", 60, 70),
        ]
    )
    assert [r.root_span_id for r in results] == ["r1", "r2"]
    assert results[0].problems == (
        f"trace {TRACE} has 2 root spans (r1, r2); each root's tree is analysed on its own",
    )
    assert results[1].problems == ()
    assert results[1].span_ids == ("r2", "t")


def test_orphans_become_roots_of_their_own_trees() -> None:
    results = analyze(
        [agent("root", None, 0, 100), tool("o", "gone", 10, 20), tool("k", "o", 12, 18)]
    )
    assert [r.root_span_id for r in results] == ["root", "o"]
    assert results[1].span_ids == ("o", "k")
    assert results[1].problems == (
        "span o ('o') has parent gone, which is not in the input; its subtree is analysed on its own",
    )


def test_no_root_at_all() -> None:
    results = analyze([tool("a", "x", 0, 10), tool("b", "a", 1, 5)])
    (result,) = results
    assert result.root_span_id == "a"
    assert result.problems[0].startswith(f"trace {TRACE} has no root span")
    assert "has parent x, which is not in the input" in result.problems[1]


def test_remote_parent_is_a_local_root_not_a_problem() -> None:
    (result,) = analyze([span("local", "remote-parent", 0, 10, remote=True)])
    assert result.problems == ()


def test_a_remote_parent_in_the_input_joins_the_trees() -> None:
    """A whole distributed trace (Jaeger, or several processes' files): the server's local root
    has a remote parent that is in the input, so the trace is one tree."""
    (result,) = analyze(
        [
            agent("client", None, 0, 100),
            span("server", "client", 10, 90, remote=True),
            tool("work", "server", 20, 80),
        ]
    )
    assert result.span_ids == ("client", "server", "work")
    assert result.problems == ()
    assert [s.span_id for s in result.critical_path] == [
        "client",
        "server",
        "work",
        "server",
        "client",
    ]


def test_duplicated_span_ids_keep_the_first_copy() -> None:
    (result,) = analyze(
        [agent("root", None, 0, 100), tool("t", "root", 0, 10), tool("t", "root", 0, 90)]
    )
    assert result.span_ids == ("root", "t")
    assert result.problems == (
        "span t ('t') appears 2 times in the input; the earliest copy is analysed",
    )
    assert result.totals.tool_calls == 1


def test_negative_duration_is_zero_length_with_a_message() -> None:
    (result,) = analyze([agent("root", None, 0, 100), tool("t", "root", 50, 40)])
    assert result.problems == ("span t ('t') ends 10 ms before it starts; treated as zero-length",)
    assert [s.span_id for s in result.critical_path] == ["root"]


def test_cycles_are_cut_and_every_span_is_accounted_for() -> None:
    results = analyze(
        [
            agent("root", None, 0, 100),
            tool("a", "b", 10, 20),
            tool("b", "a", 5, 30),
            tool("self", "self", 40, 50),
        ]
    )
    assert sorted(sid for r in results for sid in r.span_ids) == ["a", "b", "root", "self"]
    problems = [p for r in results for p in r.problems]
    assert any("names itself as its parent" in p for p in problems)
    assert any("cycle of parent links" in p for p in problems)


def test_traces_are_separated_and_ordered_by_start() -> None:
    late = "1" * 32
    results = analyze([span("x", None, 500, 600, trace=late), span("y", None, 0, 10)])
    assert [(r.trace_id, r.root_span_id) for r in results] == [(TRACE, "y"), (late, "x")]


def test_empty_input() -> None:
    assert analyze([]) == []


def test_output_does_not_depend_on_input_order() -> None:
    records = [
        agent("root", None, 0, 100),
        tool("a", "root", 10, 40),
        tool("b", "root", 40, 70),
        tool("c", "root", 70, 90),
        tool("o", "gone", 0, 5),
        agent("r2", None, 1, 2),
    ]
    expected = analyze(records)
    rng = random.Random(3)
    for _ in range(20):
        shuffled = records[:]
        rng.shuffle(shuffled)
        assert analyze(shuffled) == expected


def test_garbage_attribute_values_are_ignored_not_fatal() -> None:
    weird: list[Any] = [None, "x", -5, float("nan"), True, [1, 2], {"a": 1}]
    records = [agent("root", None, 0, 100)]
    for i, value in enumerate(itertools.islice(itertools.cycle(weird), 14)):
        records.append(
            span(
                f"c{i}",
                "root",
                i,
                i + 1,
                op="chat" if i % 2 else value,
                gen_ai__usage__input_tokens=value,
                gen_ai__usage__output_tokens=value,
                agentspans__cost__usd=value,
                agentspans__request__fingerprint=value,
                agentspans__gpu__memory__peak_utilization=value,
                agentspans__request__context_window=value,
            )
        )
    (result,) = analyze(records)
    assert result.totals.llm_calls == 7
    assert result.totals.input_tokens == 0
