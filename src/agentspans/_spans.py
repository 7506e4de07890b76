"""Reading the SDK's finished spans quickly (the trace processor's worker does it per span).

A module of its own, importing nothing of agentspans, so the span pipeline can use it without
importing the analysis (``agentspans.sources`` does).
"""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import ReadableSpan


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
