"""Setting a response's attributes on an SDK span without the SDK's per-value cleaning.

``Span.set_attributes`` runs every value through ``_clean_attribute_value`` (a chain of
``isinstance`` checks, an ABC check and a rebuilt tuple for a sequence, a locked insert per key):
for the five or six attributes of a response that cost more than the rest of reading it. The
values agentspans sets are built by its readers and already are what that cleaning returns:
``str``, ``int``, ``float``, ``bool``, or a tuple of ``str``. Where the span is the SDK's own
and nothing could change a value (no value-length limit, room under the attribute-count
limit, the span not ended), those values are put into the span's attribute dict as
``BoundedAttributes`` does it, under the same locks; anything else goes through
``Span.set_attributes``. Either way the span ends up with the same attributes in the same order
(``tests/llm/test_attributes.py`` holds the two equal).

This reads SDK internals (``Span._lock``, ``_end_time``, ``_attributes``; ``BoundedAttributes``'
``_dict``, ``_lock``, ``maxlen``, ``max_value_len``, ``_immutable``), unchanged from SDK 1.30
to 1.45; a version without any of them, or a span of another SDK, takes the public path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import Span
from opentelemetry.util.types import AttributeValue

_SCALARS = frozenset({str, int, float, bool})


def _sdk_parts() -> tuple[type, Any, type] | None:
    try:
        from opentelemetry.attributes import BoundedAttributes
        from opentelemetry.sdk.trace import Span as SdkSpan
        from opentelemetry.sdk.trace import _Span
    except ImportError:
        return None
    set_attributes = SdkSpan.__dict__.get("set_attributes")
    if getattr(set_attributes, "__module__", None) != "opentelemetry.sdk.trace":
        return None  # replaced by someone: respect it
    return _Span, set_attributes, BoundedAttributes


_SDK = _sdk_parts()


def _all_plain(attributes: Mapping[str, AttributeValue]) -> bool:
    """Whether every key is a non-empty ``str`` and the SDK's cleaning returns every value as it
    is (for a tuple of ``str``: an equal tuple). One loop, no call per value."""
    scalars = _SCALARS
    for key, value in attributes.items():
        if type(key) is not str or not key:
            return False
        kind = type(value)
        if kind in scalars:
            continue
        if kind is not tuple:
            return False
        for item in value:  # type: ignore[union-attr]
            if type(item) is not str:
                return False
    return True


def set_attributes(span: Span, attributes: Mapping[str, AttributeValue]) -> None:
    """``span.set_attributes(attributes)``, directly where that changes nothing."""
    if not attributes:
        return
    if _SDK is not None and _set_directly(span, attributes, _SDK):
        return
    span.set_attributes(attributes)


def set_directly(span: Span, attributes: Mapping[str, AttributeValue]) -> bool:
    """Set ``attributes`` on ``span`` directly if that changes nothing (see the module's
    docstring); False, with nothing set, where the public path must be taken instead (an
    ended span among those)."""
    return _SDK is not None and _set_directly(span, attributes, _SDK)


def _set_directly(
    span: Span, attributes: Mapping[str, AttributeValue], sdk: tuple[type, Any, type]
) -> bool:
    sdk_span, sdk_set_attributes, bounded_type = sdk
    cls = type(span)
    if cls is not sdk_span or cls.set_attributes is not sdk_set_attributes:
        return False
    found = getattr(span, "_attributes", None)
    if type(found) is not bounded_type:
        return False
    bounded: Any = found
    sdk_state: Any = span
    try:
        if bounded.max_value_len is not None or bounded._immutable:
            return False
        maxlen = bounded.maxlen
        if maxlen is not None and len(bounded._dict) + len(attributes) > maxlen:
            return False
        if not _all_plain(attributes):
            return False
        with sdk_state._lock:
            if sdk_state._end_time is not None:
                return False  # the public path logs the SDK's warning
            with bounded._lock:
                fields = bounded._dict
                for key, value in attributes.items():
                    if key in fields:
                        del fields[key]  # a key set again moves to the end, as in the SDK
                    fields[key] = value
    except AttributeError:  # an SDK version without one of these
        return False
    return True
