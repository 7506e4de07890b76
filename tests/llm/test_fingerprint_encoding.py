"""The fingerprint through the C encoder built once is the digest of ``JSONEncoder.encode``'s text
(what it was first defined by), for any request, cycles included; its values never drift."""

from __future__ import annotations

from typing import Any

import pytest

from agentspans import _fingerprint

pytest.importorskip("hypothesis")  # not in the oldest-clients environment

from hypothesis import given, settings
from hypothesis import strategies as st

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
