"""Reading a request's parameters without a ``sent`` call per plain value gives what the reading
with one gave (the references below are the code as it was), whatever the arguments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from openai import NOT_GIVEN

from agentspans import semconv
from agentspans.wrappers._fields import items_of, sent
from agentspans.wrappers._llm import (
    TRANSPORT_PARAMETERS,
    fingerprint_parameters,
    request_parameters,
)
from agentspans.wrappers.openai import (
    _CHAT_PARAMETERS,
    _EMBEDDINGS_PARAMETERS,
    _RESPONSES_PARAMETERS,
)

pytest.importorskip("hypothesis")  # not in the oldest-clients environment

from hypothesis import given, settings
from hypothesis import strategies as st


def reference_request_parameters(
    kwargs: Mapping[str, Any], names: Mapping[str, str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    extra = kwargs.get("extra_body")
    if not isinstance(extra, Mapping):
        extra = {}
    for argument, attribute in names.items():
        if argument in kwargs:
            value = kwargs[argument]
        elif argument in extra:
            value = extra[argument]
        else:
            continue
        if not sent(value):
            continue
        if attribute == semconv.GEN_AI_REQUEST_STOP_SEQUENCES:
            stops = [value] if isinstance(value, str) else items_of(value)
            if stops and all(isinstance(s, str) for s in stops):
                out[attribute] = stops
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out.setdefault(attribute, value)
    return out


def reference_fingerprint_parameters(
    kwargs: Mapping[str, Any], content: tuple[str, ...]
) -> dict[str, Any]:
    skip = TRANSPORT_PARAMETERS.union(content)
    return {k: v for k, v in kwargs.items() if k not in skip and v is not None and sent(v)}


class Count(int):
    pass


_NAMES = sorted({*_CHAT_PARAMETERS, *_RESPONSES_PARAMETERS, *_EMBEDDINGS_PARAMETERS, "model", "x"})
_VALUES = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.text(max_size=3),
    st.lists(st.one_of(st.text(max_size=2), st.integers()), max_size=3),
    st.just(NOT_GIVEN),
    st.builds(Count, st.integers()),
    st.tuples(st.text(max_size=2)),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
_KWARGS = st.dictionaries(st.sampled_from(_NAMES), _VALUES, max_size=6)


@settings(max_examples=400)
@given(_KWARGS, st.one_of(st.none(), _KWARGS, st.just({}), st.integers()))
def test_request_parameters(kwargs: dict[str, Any], extra: Any) -> None:
    if extra is not None:
        kwargs = {**kwargs, "extra_body": extra}
    for names in (_CHAT_PARAMETERS, _RESPONSES_PARAMETERS, _EMBEDDINGS_PARAMETERS):
        found = request_parameters(kwargs, names)
        expected = reference_request_parameters(kwargs, names)
        assert list(found.items()) == list(expected.items())
        assert [type(v) for v in found.values()] == [type(v) for v in expected.values()]


@settings(max_examples=300)
@given(_KWARGS)
def test_fingerprint_parameters(kwargs: dict[str, Any]) -> None:
    for content in (("model", "messages", "tools"), ("model", "input")):
        found = fingerprint_parameters(kwargs, content)
        assert list(found.items()) == list(
            reference_fingerprint_parameters(kwargs, content).items()
        )
