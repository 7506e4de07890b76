"""OTLP/protobuf encoding of finished spans, byte for byte what the SDK's encoder produces.

The SDK's ``encode_spans`` builds a protobuf object per span, per attribute and per value
through several Python calls each: on the export thread that cost more per span than making
the span did, and it grows with every attribute enrichment and the analysis add. Here the wire
format is written directly (protobuf's encoding is stable and simple: tag, length, payload),
with the bytes of what repeats from span to span remembered (an attribute key, a string value
such as ``gen_ai.operation.name=execute_tool``, a span name). What is uncommon on a span
(events, links, a value of a type other than str, bool, int, float or a sequence of str) is
encoded by the SDK's own functions and only serialised here, so it is exactly theirs, including
their handling of a value they cannot encode (logged and left out).

``tests/exporters/test_otlp_proto.py`` holds the bytes equal to the SDK's for generated spans.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.common._internal import (
    _encode_attributes,
    _encode_instrumentation_scope,
    _encode_resource,
)
from opentelemetry.exporter.otlp.proto.common._internal.trace_encoder import (
    _encode_events,
    _encode_links,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, Status, StatusCode

from agentspans._spans import events_of, links_of

_pack_double = struct.Struct("<d").pack
_pack_fixed64 = struct.Struct("<Q").pack
_pack_fixed32 = struct.Struct("<I").pack
_SMALL = [bytes((n,)) for n in range(128)]
# Past this many remembered entries a cache starts again: values that vary (ids in a string
# attribute) must not grow it without bound.
_CACHE_LIMIT = 4096
# Longer strings are encoded each time, not remembered (a prompt, a trace summary).
_CACHED_STRING_CHARS = 200

# Field tags (field number << 3 | wire type) of the messages written here.
_SPAN_ATTRIBUTE = b"\x4a"  # Span.attributes (9), length-delimited
_KIND = {
    SpanKind.INTERNAL: b"\x30\x01",
    SpanKind.SERVER: b"\x30\x02",
    SpanKind.CLIENT: b"\x30\x03",
    SpanKind.PRODUCER: b"\x30\x04",
    SpanKind.CONSUMER: b"\x30\x05",
}
_INTERNAL = _KIND[SpanKind.INTERNAL]
_FLAGS_HAS_IS_REMOTE = 0x100
_FLAGS_IS_REMOTE = 0x200
_FLAGS_TAG = b"\x85\x01"  # Span.flags (16), fixed32
_EMPTY_STATUS = b"\x7a\x00"  # Span.status (15) with code UNSET and no message


def _varint(value: int) -> bytes:
    if value < 0x80:
        return _SMALL[value]
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    return tag + _varint(len(payload)) + payload


class _Caches:
    """What repeats across spans, as encoded bytes."""

    __slots__ = ("flag", "integer", "key", "name", "number", "string")

    def __init__(self) -> None:
        self.key: dict[str, bytes] = {}  # KeyValue.key field
        self.number: dict[str, bytes] = {}  # an entry up to a double's 8 bytes
        self.name: dict[str, bytes] = {}  # Span.name field
        self.string: dict[tuple[str, str], bytes] = {}  # a whole Span.attributes entry
        self.flag: dict[tuple[str, bool], bytes] = {}
        self.integer: dict[tuple[str, int], bytes] = {}  # a whole entry (counts, byte sizes)


_caches = _Caches()


def _key_field(key: str) -> bytes:
    found = _caches.key.get(key)
    if found is None:
        found = _field(b"\x0a", key.encode()) if key else b""  # proto3: "" is not written
        if len(_caches.key) >= _CACHE_LIMIT:
            _caches.key.clear()
        _caches.key[key] = found
    return found


def _entry(key: str, any_value: bytes) -> bytes:
    """One ``Span.attributes`` entry: the KeyValue with its AnyValue (field 2)."""
    return _field(_SPAN_ATTRIBUTE, _key_field(key) + _field(b"\x12", any_value))


def _string_entry(key: str, value: str) -> bytes:
    cache = _caches.string
    found = cache.get((key, value))
    if found is None:
        found = _entry(key, _field(b"\x0a", value.encode()))
        if len(value) <= _CACHED_STRING_CHARS:
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[(key, value)] = found
    return found


def _double_entry(key: str, value: float) -> bytes:
    cache = _caches.number
    prefix = cache.get(key)
    if prefix is None:
        # The entry's length is known before the value: tag, length, key, AnyValue of 9 bytes.
        key_field = _key_field(key)
        prefix = _SPAN_ATTRIBUTE + _varint(len(key_field) + 11) + key_field + b"\x12\x09\x21"
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[key] = prefix
    return prefix + _pack_double(value)


def _flag_entry(key: str, value: bool) -> bytes:
    cache = _caches.flag
    found = cache.get((key, value))
    if found is None:
        found = _entry(key, b"\x10\x01" if value else b"\x10\x00")
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[(key, value)] = found
    return found


_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def _integer_entry(key: str, value: int) -> bytes:
    cache = _caches.integer
    found = _entry(key, b"\x18" + _varint(value & 0xFFFF_FFFF_FFFF_FFFF))
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[(key, value)] = found
    return found


def _sdk_entries(key: str, value: Any) -> Iterable[bytes]:
    """The SDK's encoding of one attribute (nothing, logged, where it cannot encode it)."""
    return (
        _field(_SPAN_ATTRIBUTE, kv.SerializeToString()) for kv in _encode_attributes({key: value})
    )


def _attribute_entries(attributes: Mapping[str, Any], out: list[bytes]) -> None:
    # The remembered entries are looked up here, not through the helpers: a span has a dozen.
    strings, flags, numbers, integers = (
        _caches.string,
        _caches.flag,
        _caches.number,
        _caches.integer,
    )
    append = out.append
    for key, value in attributes.items():
        kind = type(value)
        try:
            if type(key) is not str:
                out.extend(_sdk_entries(key, value))
            elif kind is str:
                append(strings.get((key, value)) or _string_entry(key, value))
            elif kind is float:
                prefix = numbers.get(key)
                append(prefix + _pack_double(value) if prefix else _double_entry(key, value))
            elif kind is bool:
                append(flags.get((key, value)) or _flag_entry(key, value))
            elif kind is int and _INT64_MIN <= value <= _INT64_MAX:
                append(integers.get((key, value)) or _integer_entry(key, value))
            elif (kind is tuple or kind is list) and all(type(item) is str for item in value):
                values = b"".join(_field(b"\x0a", _field(b"\x0a", item.encode())) for item in value)
                append(_entry(key, _field(b"\x2a", values)))
            else:
                out.extend(_sdk_entries(key, value))
        except UnicodeError:
            out.extend(_sdk_entries(key, value))  # a lone surrogate: the SDK logs and drops it


def _items(span: ReadableSpan, name: str, read: Any) -> Sequence[Any]:
    """The span's events or links; the usual empty ones found without copying them."""
    own = getattr(span, name, None)
    if own is not None and not getattr(own, "_dq", own):
        return ()
    found: Sequence[Any] = read(span)
    return found


def _plain(attributes: Any) -> Mapping[str, Any] | None:
    """A span's attributes without the SDK's locked ``BoundedAttributes`` iteration."""
    inner = getattr(attributes, "_dict", attributes)
    return inner if type(inner) is dict else attributes


def encode_span(span: ReadableSpan) -> bytes:
    """One ``Span`` message, without its tag and length (fields in number order, as upb
    writes them)."""
    out: list[bytes] = []
    flags = _ids(span, out)
    name = span.name
    if name:
        name_field = _caches.name.get(name)
        if name_field is None:
            name_field = _field(b"\x2a", name.encode())
            if len(_caches.name) >= _CACHE_LIMIT:
                _caches.name.clear()
            _caches.name[name] = name_field
        out.append(name_field)
    kind = span.kind
    out.append(_INTERNAL if kind is SpanKind.INTERNAL else _KIND[kind])
    start, end = span.start_time, span.end_time
    if start:
        out += (b"\x39", _pack_fixed64(start))
    if end:
        out += (b"\x41", _pack_fixed64(end))
    attributes = _plain(getattr(span, "_attributes", None) or span.attributes)
    if attributes:
        _attribute_entries(attributes, out)
    _events_and_links(span, out)
    out += (_status(span.status), _FLAGS_TAG, _pack_fixed32(flags))
    return b"".join(out)


def _ids(span: ReadableSpan, out: list[bytes]) -> int:
    """Trace id, span id, trace state and parent id (fields 1-4); the span's flags."""
    context = span.get_span_context()
    assert context is not None
    out += (
        b"\x0a\x10",
        context.trace_id.to_bytes(16, "big"),
        b"\x12\x08",
        context.span_id.to_bytes(8, "big"),
    )
    trace_state = context.trace_state
    if trace_state:
        out.append(_field(b"\x1a", ",".join([f"{k}={v}" for k, v in trace_state.items()]).encode()))
    flags = _FLAGS_HAS_IS_REMOTE
    parent = span.parent
    if parent is not None:
        out += (b"\x22\x08", parent.span_id.to_bytes(8, "big"))
        if parent.is_remote:
            flags |= _FLAGS_IS_REMOTE
    return flags


def _events_and_links(span: ReadableSpan, out: list[bytes]) -> None:
    """Fields 10-14: the dropped counts, and events and links as the SDK encodes them."""
    dropped = span.dropped_attributes
    if dropped:
        out += (b"\x50", _varint(dropped))
    events = _items(span, "_events", events_of)
    if events:
        out.extend(_field(b"\x5a", e.SerializeToString()) for e in _encode_events(events) or ())
    dropped = span.dropped_events
    if dropped:
        out += (b"\x60", _varint(dropped))
    links = _items(span, "_links", links_of)
    if links:
        out.extend(_field(b"\x6a", li.SerializeToString()) for li in _encode_links(links) or ())
    dropped = span.dropped_links
    if dropped:
        out += (b"\x70", _varint(dropped))


def _status(status: Status) -> bytes:
    """Field 15, always written (the SDK always sets it): message 2, code 3."""
    code, description = status.status_code, status.description
    if code is StatusCode.UNSET and not description:
        return _EMPTY_STATUS
    number = code.value
    payload = _field(b"\x12", description.encode()) if description else b""
    return _field(b"\x7a", payload + (b"\x18" + _varint(number) if number else b""))


def encode_request(spans: Sequence[ReadableSpan]) -> bytes:
    """The serialised ``ExportTraceServiceRequest`` for ``spans``: grouped by resource, then by
    instrumentation scope, each group in the order first seen, as the SDK's encoder does."""
    # Resources and scopes are grouped by equality as the SDK's dicts do, but each distinct
    # object is hashed once (a Resource hashes through json.dumps of its attributes).
    by_identity: dict[tuple[int, int], list[bytes]] = {}
    groups: dict[Any, dict[Any, list[bytes]]] = {}
    for span in spans:
        resource = span.resource
        scope = span.instrumentation_scope or None
        identity = (id(resource), id(scope))
        bucket = by_identity.get(identity)
        if bucket is None:
            bucket = groups.setdefault(resource, {}).setdefault(scope, [])
            by_identity[identity] = bucket
        bucket.append(_field(b"\x12", encode_span(span)))
    out = []
    for resource, scopes in groups.items():
        body = [_field(b"\x0a", _encode_resource(resource).SerializeToString())]
        for scope, encoded in scopes.items():
            scope_spans = [
                _field(b"\x0a", _encode_instrumentation_scope(scope).SerializeToString())
            ]
            scope_spans += encoded
            if scope is not None and scope.schema_url:
                scope_spans.append(_field(b"\x1a", scope.schema_url.encode()))
            body.append(_field(b"\x12", b"".join(scope_spans)))
        if resource.schema_url:
            body.append(_field(b"\x1a", resource.schema_url.encode()))
        out.append(_field(b"\x0a", b"".join(body)))
    return b"".join(out)
