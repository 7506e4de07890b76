"""A response's attributes set directly on an SDK span (``wrappers._attributes``) leave the span
exactly as ``Span.set_attributes`` would: same keys, values, types and order, limits honoured."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import SpanLimits, TracerProvider

from agentspans.wrappers import _attributes

pytest.importorskip("hypothesis")  # not in the oldest-clients environment

from hypothesis import given, settings
from hypothesis import strategies as st

_KEYS = st.sampled_from(["a", "b", "gen_ai.response.id", "gen_ai.usage.input_tokens", "k"])
_VALUES = (
    st.text(max_size=12)
    | st.integers()
    | st.floats(allow_nan=False)
    | st.booleans()
    | st.tuples(st.text(max_size=4), st.text(max_size=4))
    | st.lists(st.text(max_size=4), max_size=3)
    | st.none()
)


def _span(limits: SpanLimits | None = None, start: dict[str, Any] | None = None) -> Any:
    provider = TracerProvider(span_limits=limits) if limits else TracerProvider()
    return provider.get_tracer("t").start_span("s", attributes=start or {"a": 1, "z": "x"})


def _state(span: Any) -> list[tuple[str, Any, type]]:
    return [(k, v, type(v)) for k, v in span.attributes.items()]


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(_KEYS, _VALUES, max_size=5),
    st.sampled_from([None, SpanLimits(max_attributes=4), SpanLimits(max_attribute_length=3)]),
)
def test_direct_and_public_paths_agree(attributes: dict[str, Any], limits: Any) -> None:
    direct, public = _span(limits), _span(limits)
    _attributes.set_attributes(direct, attributes)
    public.set_attributes(attributes)
    assert _state(direct) == _state(public)
    assert direct.dropped_attributes == public.dropped_attributes


def test_plain_values_are_set_directly_and_an_ended_span_is_left_alone() -> None:
    span = _span()
    calls: list[Any] = []
    original = type(span).set_attributes
    try:
        type(span).set_attributes = lambda self, attrs: calls.append(attrs)  # type: ignore[method-assign]
        _attributes.set_attributes(span, {"gen_ai.response.id": "r", "n": 3})
        # the class's method replaced: the direct path steps aside for whoever replaced it
        assert calls == [{"gen_ai.response.id": "r", "n": 3}]
    finally:
        type(span).set_attributes = original  # type: ignore[method-assign]
    _attributes.set_attributes(span, {"gen_ai.response.id": "r", "reasons": ("stop",)})
    assert span.attributes["gen_ai.response.id"] == "r"
    assert span.attributes["reasons"] == ("stop",)
    span.end()
    _attributes.set_attributes(span, {"late": 1})
    assert "late" not in span.attributes
