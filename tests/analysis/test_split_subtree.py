"""The worker's split of a held trace at a local root that ended: the shortcut that sees every
span under the root without walking must agree with the walk, for any forest."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext

from agentspans.processors.pipeline import _all_under_one_root, _split_subtree

TRACE = 0xABC


def walked(spans: list[tuple[ReadableSpan, Any]], root_id: int) -> tuple[list[Any], list[Any]]:
    """The definition: the spans reached from the root by parent links, and the rest."""
    children: dict[int, list[int]] = {}
    for span, _ in spans:
        if span.parent is not None and span.context is not None:
            children.setdefault(span.parent.span_id, []).append(span.context.span_id)
    inside, stack = {root_id}, [root_id]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in inside:
                inside.add(child)
                stack.append(child)
    return (
        [item for item in spans if item[0].context.span_id in inside],  # type: ignore[union-attr]
        [item for item in spans if item[0].context.span_id not in inside],  # type: ignore[union-attr]
    )


@st.composite
def forests(draw: st.DrawFn) -> tuple[list[tuple[ReadableSpan, Any]], int]:
    count = draw(st.integers(1, 12))
    ids = draw(st.lists(st.integers(1, 40), min_size=count, max_size=count))  # duplicates too
    spans = []
    for i, span_id in enumerate(ids):
        choice = draw(st.integers(-2, i - 1)) if i else draw(st.integers(-2, -1))
        if choice == -2:
            parent = None
        elif choice == -1:
            parent = SpanContext(TRACE, draw(st.integers(1, 60)), is_remote=True)
        else:
            parent = SpanContext(TRACE, ids[choice], is_remote=False)
        span = ReadableSpan(name=str(i), context=SpanContext(TRACE, span_id, False), parent=parent)
        spans.append((span, None))
    draw(st.randoms()).shuffle(spans)  # arrival order is not creation order
    root_id = draw(st.sampled_from(ids))
    return spans, root_id


@settings(max_examples=1500)
@given(forests())
def test_split_agrees_with_the_walk(forest: tuple[list[tuple[ReadableSpan, Any]], int]) -> None:
    spans, root_id = forest
    assert _split_subtree(spans, root_id) == walked(spans, root_id)


def test_a_whole_trace_under_its_root_is_seen_without_the_walk() -> None:
    root = ReadableSpan(name="root", context=SpanContext(TRACE, 1, False), parent=None)
    child = ReadableSpan(name="c", context=SpanContext(TRACE, 2, False), parent=root.context)
    leaf = ReadableSpan(name="l", context=SpanContext(TRACE, 3, False), parent=child.context)
    spans = [(leaf, None), (child, None), (root, None)]
    assert _all_under_one_root(spans, 1)
    assert _split_subtree(spans, 1) == (spans, [])
    # a second tree of the same trace, still open: the walk decides
    other = ReadableSpan(
        name="o", context=SpanContext(TRACE, 4, False), parent=SpanContext(TRACE, 9, False)
    )
    assert not _all_under_one_root([*spans, (other, None)], 1)
    assert _split_subtree([*spans, (other, None)], 1) == (spans, [(other, None)])
