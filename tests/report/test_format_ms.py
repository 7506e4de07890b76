"""``format_ms`` prints durations by integer rounding where it can: the same text as the float
formats it replaced, for every float."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from agentspans.readable import format_ms


def by_float_formats(ms: float) -> str:
    """What format_ms wrote before its integer fast paths."""
    if ms >= 10_000:
        return f"{ms / 1000:.0f} s"
    if ms >= 1000:
        return f"{ms / 1000:.1f} s"
    return f"{ms:.0f} ms" if ms >= 1 else f"{ms:.2f} ms"


@settings(max_examples=3000)
@given(
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(0, 20_000),
        # exact halves, where rounding to even must agree
        st.integers(1, 40_000).map(lambda n: n + 0.5),
        st.integers(10, 40_000).map(lambda n: n * 1000 + 500.0),
    )
)
def test_format_ms_writes_what_the_float_formats_write(ms: float) -> None:
    assert format_ms(ms) == by_float_formats(ms)


def test_format_ms_edges() -> None:
    for ms in (
        0.0,
        0.999,
        1.0,
        2.5,
        3.5,
        999.4,
        999.5,
        999.9999,
        1000.0,
        9999.9,
        10_000.0,
        10_500.0,
        11_500.0,
        1e15,
        1e300,
        math.inf,
        -1.0,
        math.nan,
    ):
        assert format_ms(ms) == by_float_formats(ms)
