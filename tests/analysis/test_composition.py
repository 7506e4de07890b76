"""The critical path's composition attribute, written entry by entry, is the text ``json.dumps``
gives for the list of dicts it describes."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agentspans.processors.analysis import _COMPOSITION_ENTRIES, composition
from agentspans.readable import json_float, json_rounded


def by_json_dumps(analysis: Any) -> str:
    names = {segment.span_id: segment.name for segment in analysis.critical_path}
    ranked = sorted(analysis.path_self_ms.items(), key=lambda item: (-item[1], item[0]))
    duration = analysis.duration_ms
    return json.dumps(
        [
            {
                "span_id": span_id,
                "name": names.get(span_id, ""),
                "ms": round(ms, 3),
                "share": round(ms / duration, 4) if duration > 0 else 0.0,
            }
            for span_id, ms in ranked[:_COMPOSITION_ENTRIES]
        ],
        separators=(",", ":"),
    )


@settings(max_examples=500)
@given(
    st.dictionaries(
        st.text(min_size=1, max_size=18),
        st.floats(allow_nan=False, allow_infinity=False, min_value=0, max_value=1e12),
        max_size=60,
    ),
    st.dictionaries(st.text(min_size=1, max_size=18), st.text(max_size=30), max_size=60),
    st.one_of(st.just(0.0), st.floats(1e-9, 1e13), st.just(float("inf"))),
)
def test_composition_is_what_json_dumps_writes(
    self_ms: dict[str, float], names: dict[str, str], duration: float
) -> None:
    segments = [SimpleNamespace(span_id=span_id, name=name) for span_id, name in names.items()]
    segments += [
        SimpleNamespace(span_id=span_id, name=f"n{i}") for i, span_id in enumerate(self_ms)
    ]
    analysis = SimpleNamespace(critical_path=segments, path_self_ms=self_ms, duration_ms=duration)
    assert composition(analysis) == by_json_dumps(analysis)  # type: ignore[arg-type]


@settings(max_examples=5000)
@given(
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(-1e13, 1e13),
        st.floats(0, 2),
        st.integers(0, 10**9).map(lambda n: n / 2000),  # halves at the last digit kept
        st.integers(0, 10**9).map(lambda n: n / 20000),
        st.floats(1e10, 1e13),  # where the double's spacing nears the last place kept
    ),
    st.sampled_from([3, 4]),
)
def test_rounded_floats_are_written_as_repr_of_round(value: float, digits: int) -> None:
    assert json_rounded(value, digits) == json_float(round(value, digits))


def test_a_value_whose_double_is_coarser_than_the_places_kept() -> None:
    # 661793184210.7159 and 661793184210.716 are one double: repr gives the shorter.
    value = 992689776316.074 / 1.5
    assert json_rounded(value, 4) == json_float(round(value, 4)) == "661793184210.716"


def test_an_entry_that_is_the_whole_trace() -> None:
    # A trace of one span: its entry's share is ms / ms, written without the division.
    for ms in (0.004, 1.0, 123.4567, 9.99e11):
        analysis = SimpleNamespace(
            critical_path=[SimpleNamespace(span_id="ab", name="chat")],
            path_self_ms={"ab": ms},
            duration_ms=ms,
        )
        assert composition(analysis) == by_json_dumps(analysis)  # type: ignore[arg-type]
