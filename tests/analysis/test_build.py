"""The fast constructors make objects equal to the dataclasses' own, field for field."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from agentspans.analysis import Finding, Rollup, Segment, SpanEvent, SpanRecord
from agentspans.analysis._build import finding, rollup, rollups, segment, span_record


def test_segment_equals_its_dataclass() -> None:
    made = segment("00f067aa0ba902b7", "execute_tool search", 1.5, 2.25)
    expected = Segment("00f067aa0ba902b7", "execute_tool search", 1.5, 2.25)
    assert made == expected
    assert hash(made) == hash(expected)
    assert repr(made) == repr(expected)
    assert type(made) is Segment
    assert Segment._fields == ("span_id", "name", "start_ms", "end_ms")


def test_rollup_equals_its_dataclass() -> None:
    values = (10, 20, 0.5, 2, 3, 1, 4096)
    assert rollup(*values) == Rollup(*values)
    assert dataclasses.astuple(rollup(*values)) == values
    # Every field is set: a field added to Rollup must be added to the builder too.
    assert len(dataclasses.fields(Rollup)) == len(values)


def test_rollup_is_a_real_frozen_rollup() -> None:
    """Filled as an unfrozen twin and then given its class: it must be a Rollup in every way."""
    values = (10, 20, 0.5, 2, 3, 1, None)
    made, expected = rollup(*values), Rollup(*values)
    assert type(made) is Rollup
    assert hash(made) == hash(expected)
    assert repr(made) == repr(expected)
    assert pickle.loads(pickle.dumps(made)) == expected
    assert dataclasses.asdict(made) == dataclasses.asdict(expected)
    assert dataclasses.replace(made, llm_calls=5) == dataclasses.replace(expected, llm_calls=5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.llm_calls = 3  # type: ignore[misc]


def test_span_record_equals_its_dataclass() -> None:
    values = (
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "00f067aa0ba902b7",
        None,
        "chat gpt-4o",
        100,
        250,
        {"gen_ai.operation.name": "chat"},
        True,
        "svc",
        (SpanEvent("exception", 120, {"exception.type": "ValueError"}),),
        False,
    )
    made = span_record(*values)
    assert made == SpanRecord(*values)
    assert hash(made.span_id) == hash(SpanRecord(*values).span_id)
    assert tuple(getattr(made, f.name) for f in dataclasses.fields(SpanRecord)) == values
    assert len(dataclasses.fields(SpanRecord)) == len(values)


def test_finding_is_a_real_frozen_finding() -> None:
    """``_build.finding`` fills an unfrozen twin, then gives it Finding's class."""
    values = ("slow_tool_call", "high", ("00f067aa0ba902b7",), 12.5, "took long", {"ms": 1.0})
    made, expected = finding(*values), Finding(*values)
    assert type(made) is Finding
    assert made == expected
    assert repr(made) == repr(expected)
    assert pickle.loads(pickle.dumps(made)) == expected
    assert dataclasses.astuple(made) == values
    assert len(dataclasses.fields(Finding)) == len(values)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.kind = "other"  # type: ignore[misc]


def test_rollups_equal_rollup_one_by_one() -> None:
    columns = ([1, 2, 3], [4, 5, 6], [0.5, 0.0, 1.5], [1, 0, 2], [0, 3, 1], [1, 0, 1], [None, 7, 9])
    made = rollups(["a", "b", "c"], [0, 2, 0], columns)
    assert list(made) == ["a", "c"]
    for key, i in (("a", 0), ("c", 2)):
        assert type(made[key]) is Rollup
        assert made[key] == rollup(*(column[i] for column in columns))
