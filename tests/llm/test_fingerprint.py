"""Identical requests share ``agentspans.request.fingerprint``; a change in one message or parameter
does not; the fingerprint never depends on how the answer is delivered (stream, sync or async)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.llm.conftest import llm_spans

from agentspans import _fingerprint, semconv
from agentspans.testing import CapturedSpans

openai = pytest.importorskip("openai")

BASE: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is 2+2?"},
    ],
    "temperature": 0.0,
}


def _fingerprints(spans: CapturedSpans) -> list[str]:
    ordered = sorted(llm_spans(spans), key=lambda s: s.start_time or 0)
    return [str(s.attributes[semconv.REQUEST_FINGERPRINT]) for s in ordered]


def _variant(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


def test_equal_requests_share_a_fingerprint_and_different_ones_do_not(
    spans: CapturedSpans, openai_client: Any
) -> None:
    create = openai_client.chat.completions.create
    create(**BASE)
    create(**{**BASE, "messages": [dict(m) for m in BASE["messages"]]})  # equal, not identical
    list(create(**BASE, stream=True))  # same request, streamed
    create(**BASE, timeout=30)  # transport options are not the request
    create(**_variant(messages=[BASE["messages"][0], {"role": "user", "content": "What is 2+3?"}]))
    create(**_variant(temperature=0.5))
    create(**_variant(model="gpt-4o"))
    create(**BASE, tools=[{"type": "function", "function": {"name": "add", "parameters": {}}}])
    prints = _fingerprints(spans)
    assert prints[0] == prints[1] == prints[2] == prints[3]
    assert len(set(prints[3:])) == 5  # each change gives a new digest
    assert all(len(p) == 16 and int(p, 16) >= 0 for p in prints)


async def test_sync_and_async_clients_agree(
    spans: CapturedSpans, openai_client: Any, async_openai_client: Any
) -> None:
    openai_client.chat.completions.create(**BASE)
    await async_openai_client.chat.completions.create(**BASE)
    first, second = _fingerprints(spans)
    assert first == second


def test_fingerprint_holds_no_content(spans: CapturedSpans, openai_client: Any) -> None:
    openai_client.chat.completions.create(**BASE)
    (span,) = llm_spans(spans)
    for value in span.attributes.values():
        assert "2+2" not in str(value)


# -- the encoder built once is the JSONEncoder's own text ------------------------------------------

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.binary(max_size=8)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=6), inner, max_size=4)
        | st.dictionaries(st.integers(), inner, max_size=2)
        | st.frozensets(st.integers(), max_size=3)
    ),
    max_leaves=20,
)


def _reference(*parts: Any) -> str:
    """The digest through ``JSONEncoder.encode`` (what the fingerprint was first defined by)."""
    import hashlib

    try:
        text = _fingerprint._dumps(parts)
    except (TypeError, ValueError, RecursionError):
        text = _fingerprint._dumps(_fingerprint._normalise(parts))
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8)
    return digest.hexdigest()


@settings(max_examples=300, deadline=None)
@given(st.lists(_VALUES, max_size=5))
def test_the_fingerprint_is_the_json_encoders_digest(parts: list[Any]) -> None:
    assert _fingerprint.fingerprint(*parts) == _reference(*parts)


def test_cycles_get_the_digest_of_their_normalised_form() -> None:
    looped: list[Any] = []
    looped.append(looped)
    nested: dict[str, Any] = {"a": 1}
    nested["self"] = nested
    for value in (looped, nested):
        assert _fingerprint.fingerprint("chat", value) == _reference("chat", value)
    # Digests computed by the first implementation: the value is a contract (repeated calls
    # are recognised by it across processes and versions), so it must never drift.
    assert _fingerprint.fingerprint(looped) == "5f4f17ede32fdd34"
    request = (
        "chat",
        "gpt-4o-mini",
        [{"role": "user", "content": "hi"}],
        None,
        {"temperature": 0.2},
    )
    assert _fingerprint.fingerprint(*request) == "74c9037be1ef5c37"
