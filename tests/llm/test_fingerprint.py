"""Identical requests share ``agentspans.request.fingerprint``; a change in one message or parameter
does not; the fingerprint never depends on how the answer is delivered (stream, sync or async)."""

from __future__ import annotations

from typing import Any

import pytest
from tests.llm.conftest import llm_spans

from agentspans import semconv
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
