"""Reading the SDK's finished spans quickly (the trace processor's worker does it per span).

A module of its own, importing nothing of agentspans, so the span pipeline can use it without
importing the analysis (``agentspans.sources`` does).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import Link


def plain_attributes(span: ReadableSpan) -> dict[str, Any]:
    """A plain dict copy of the span's attributes.

    ``span.attributes`` is a mapping proxy over the SDK's ``BoundedAttributes``, whose item
    access is Python code behind ``Mapping.get``: reading a dozen attributes through it cost
    more than the rest of a span's enrichment. Its ``_dict`` is copied at C speed instead.
    """
    own = getattr(span, "_attributes", None)
    inner = getattr(own, "_dict", own)
    if type(inner) is dict:
        return inner.copy()
    return dict(span.attributes or {})


def _items(span: ReadableSpan, name: str) -> tuple[Any, ...] | None:
    """The span's ``_events``/``_links`` as a tuple at C speed: the public properties copy the
    SDK's ``BoundedList`` through its locked Python ``__iter__`` on every read."""
    own = getattr(span, name, None)
    inner: Any = getattr(own, "_dq", own)
    if type(inner) is tuple:
        return inner
    if isinstance(inner, (deque, list)):
        return tuple(inner)
    return None


def events_of(span: ReadableSpan) -> Sequence[Event]:
    found = _items(span, "_events")
    return found if found is not None else span.events


def links_of(span: ReadableSpan) -> Sequence[Link]:
    found = _items(span, "_links")
    return found if found is not None else span.links
