"""Hand-computed traces: the expected path and overhead are worked out in each docstring."""

from __future__ import annotations

from agentspans.analysis import SpanRecord, Thresholds, TraceAnalysis, analyze

from ._trees import agent, path_of, span, tool

# Thresholds that keep detectors quiet unless a test is about one.
QUIET = Thresholds(parallelizable_min_calls=1000, coordination_overhead_share=1.0)


def only(records: list[SpanRecord], thresholds: Thresholds = QUIET) -> TraceAnalysis:
    (result,) = analyze(records, thresholds)
    return result


def test_sequential_tools_are_all_on_the_path_back_to_back() -> None:
    """root 0-100 runs a 10-40, b 40-70, c 70-90 one after another.

    From 100: c ends last (90) -> root 90-100, c 70-90; at 70, b ends exactly there (back to
    back counts) -> b 40-70; at 40 a -> a 10-40; nothing ends at or before 10 -> root 0-10.
    """
    result = only(
        [
            agent("root", None, 0, 100),
            tool("a", "root", 10, 40),
            tool("b", "root", 40, 70),
            tool("c", "root", 70, 90),
        ]
    )
    assert path_of(result) == [
        ("root", 0.0, 10.0),
        ("a", 10.0, 40.0),
        ("b", 40.0, 70.0),
        ("c", 70.0, 90.0),
        ("root", 90.0, 100.0),
    ]
    assert result.path_self_ms == {"root": 20.0, "a": 30.0, "b": 30.0, "c": 20.0}
    # One agent running its own tools delegated to no other agent: no coordination overhead,
    # although its own time (100 - (90 - 10) = 20) is on the path.
    assert result.coordination_overhead_ms == 0.0
    assert result.duration_ms == 100.0


def test_parallel_agents_only_the_last_to_finish_is_on_the_path() -> None:
    """x 5-60 and y 5-90 run side by side under root 0-100.

    From 100: y ends last -> root 90-100, y 5-90; at 5 nothing has ended (x ends at 60) ->
    root 0-5. x is off the path. Overhead: root's own time, 100 - |[5, 90]| = 15.
    """
    result = only(
        [
            agent("root", None, 0, 100),
            agent("x", "root", 5, 60),
            agent("y", "root", 5, 90),
        ]
    )
    assert path_of(result) == [("root", 0.0, 5.0), ("y", 5.0, 90.0), ("root", 90.0, 100.0)]
    assert "x" not in result.path_self_ms
    assert result.coordination_overhead_ms == 15.0


def test_children_that_outlive_or_precede_their_parent_are_clipped_or_dropped() -> None:
    """root 0-100; p -20-5 starts before root (clipped to 0-5); q 120-130 lies wholly after it
    (dropped); a 10-50 has t 40-80, which outlives a (clipped to 40-50).

    From 100 in root: a ends last at or before 100 (q is gone) -> root 50-100; in a from 50:
    t (clipped end 50) -> t 40-50; a resumes at 40 -> a 10-40; root at 10: p ends at 5 ->
    root 5-10, p 0-5.
    """
    result = only(
        [
            agent("root", None, 0, 100),
            tool("p", "root", -20, 5),
            tool("q", "root", 120, 130),
            agent("a", "root", 10, 50),
            tool("t", "a", 40, 80),
        ]
    )
    assert path_of(result) == [
        ("p", 0.0, 5.0),
        ("root", 5.0, 10.0),
        ("a", 10.0, 40.0),
        ("t", 40.0, 50.0),
        ("root", 50.0, 100.0),
    ]
    # Own time of root: 100 - |[0,5] u [10,50]| = 55 (q is outside root's window); a, which
    # only runs its tool t, delegated to no agent, so its own time is not coordination.
    assert result.coordination_overhead_ms == 55.0
    # Every span is still counted, clipped or not.
    assert result.totals.tool_calls == 3


def test_overlapping_children_the_later_finisher_wins_and_the_earlier_is_skipped() -> None:
    """a 0-8 and b 2-10 under root 0-10: b ends at 10 -> b 2-10; at 2 nothing has ended ->
    root 0-2."""
    result = only([span("root", None, 0, 10), tool("a", "root", 0, 8), tool("b", "root", 2, 10)])
    assert path_of(result) == [("root", 0.0, 2.0), ("b", 2.0, 10.0)]


def test_ties_go_to_the_earliest_start_then_the_lowest_span_id() -> None:
    """a 0-10 and b 5-10 both end at 10: a started first, so a 0-10 alone. c and d have the
    same window 20-30: c has the lower id."""
    result = only(
        [
            span("root", None, 0, 30),
            tool("b", "root", 5, 10),
            tool("a", "root", 0, 10),
            tool("d", "root", 20, 30),
            tool("c", "root", 20, 30),
        ]
    )
    assert path_of(result) == [("a", 0.0, 10.0), ("root", 10.0, 20.0), ("c", 20.0, 30.0)]


def test_nested_gaps_between_children_are_the_parents_own_time() -> None:
    """root 0-100 > agent 10-90 > tools 20-30 and 60-70.

    From 100: root 90-100; agent from 90: second tool -> agent 70-90, tool2 60-70; agent at 60:
    tool1 -> agent 30-60, tool1 20-30; agent 10-20; root 0-10.
    """
    result = only(
        [
            span("root", None, 0, 100),
            agent("agent", "root", 10, 90),
            tool("t1", "agent", 20, 30),
            tool("t2", "agent", 60, 70),
        ]
    )
    assert path_of(result) == [
        ("root", 0.0, 10.0),
        ("agent", 10.0, 20.0),
        ("t1", 20.0, 30.0),
        ("agent", 30.0, 60.0),
        ("t2", 60.0, 70.0),
        ("agent", 70.0, 90.0),
        ("root", 90.0, 100.0),
    ]
    assert result.path_self_ms["agent"] == 60.0


def test_zero_length_spans_never_hold_the_path() -> None:
    """A zero-length child at 5 is skipped: the whole window is root's own."""
    result = only([span("root", None, 0, 10), tool("z", "root", 5, 5)])
    assert path_of(result) == [("root", 0.0, 10.0)]


def test_a_zero_length_root_has_an_empty_path() -> None:
    result = only([span("root", None, 7, 7)])
    assert result.duration_ms == 0.0
    assert result.critical_path == ()


def test_a_deep_chain_is_walked_without_recursion() -> None:
    depth = 20_000
    records = [span("s0", None, 0, 2 * depth)]
    records += [span(f"s{i}", f"s{i - 1}", i, 2 * depth - i) for i in range(1, depth)]
    result = only(records)
    assert len(result.critical_path) == 2 * depth - 1
    assert result.critical_path[0].start_ms == 0.0
    assert result.critical_path[-1].end_ms == 2.0 * depth
