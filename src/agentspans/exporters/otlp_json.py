"""OTLP/JSON lines: one ``ExportTraceServiceRequest`` a line, as the Collector file exporter writes.

Ids are lowercase hex (as OTLP/JSON requires, unlike protobuf's canonical JSON base64), 64-bit
integers are decimal strings, enums are numbers. ``agentspans report`` and the Collector's
``otlpjsonfile`` receiver both read it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from agentspans._errors import warn_once


def encode_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bytes):
        return {"bytesValue": base64.b64encode(value).decode("ascii")}
    if isinstance(value, Sequence):
        return {"arrayValue": {"values": [encode_value(item) for item in value]}}
    if isinstance(value, Mapping):
        return {"kvlistValue": {"values": encode_attributes(value)}}
    return {"stringValue": str(value)}


def encode_attributes(attributes: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    if not attributes:
        return []
    return [{"key": key, "value": encode_value(value)} for key, value in attributes.items()]


def _encode_span(span: ReadableSpan) -> dict[str, Any]:
    context = span.context
    assert context is not None
    encoded: dict[str, Any] = {
        "traceId": format(context.trace_id, "032x"),
        "spanId": format(context.span_id, "016x"),
        "flags": int(context.trace_flags)
        | 0x100
        | (0x200 if span.parent and span.parent.is_remote else 0),
        "name": span.name,
        "kind": span.kind.value + 1,  # the API's INTERNAL is 0, OTLP's SPAN_KIND_INTERNAL is 1
        "startTimeUnixNano": str(span.start_time or 0),
        "endTimeUnixNano": str(span.end_time or 0),
    }
    if span.parent is not None:
        encoded["parentSpanId"] = format(span.parent.span_id, "016x")
    trace_state = context.trace_state.to_header() if context.trace_state else ""
    if trace_state:
        encoded["traceState"] = trace_state
    if span.attributes:
        encoded["attributes"] = encode_attributes(span.attributes)
    if span.events:
        encoded["events"] = [
            {
                "timeUnixNano": str(event.timestamp),
                "name": event.name,
                **({"attributes": encode_attributes(event.attributes)} if event.attributes else {}),
            }
            for event in span.events
        ]
    if span.links:
        encoded["links"] = [
            {
                "traceId": format(link.context.trace_id, "032x"),
                "spanId": format(link.context.span_id, "016x"),
                **({"attributes": encode_attributes(link.attributes)} if link.attributes else {}),
            }
            for link in span.links
        ]
    # The SDK's limits dropped these; a rebuilt span keeps the counts (processors/pipeline.py).
    for key, count in (
        ("droppedAttributesCount", span.dropped_attributes),
        ("droppedEventsCount", span.dropped_events),
        ("droppedLinksCount", span.dropped_links),
    ):
        if count:
            encoded[key] = count
    status: dict[str, Any] = {}
    if span.status.status_code.value:
        status["code"] = span.status.status_code.value
    if span.status.description:
        status["message"] = span.status.description
    encoded["status"] = status
    return encoded


def encode_request(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """Group ``spans`` by resource and scope into one ``ExportTraceServiceRequest``."""
    by_resource: dict[int, tuple[Any, dict[tuple[str, str | None], list[dict[str, Any]]]]] = {}
    for span in spans:
        resource = span.resource
        _, scopes = by_resource.setdefault(id(resource), (resource, {}))
        instrumentation_scope = span.instrumentation_scope
        key = (
            (instrumentation_scope.name, instrumentation_scope.version)
            if instrumentation_scope is not None
            else ("", None)
        )
        scopes.setdefault(key, []).append(_encode_span(span))
    resource_spans = []
    for resource, scopes in by_resource.values():
        scope_spans = []
        for (name, version), encoded in scopes.items():
            scope: dict[str, Any] = {"name": name}
            if version:
                scope["version"] = version
            scope_spans.append({"scope": scope, "spans": encoded})
        entry: dict[str, Any] = {
            "resource": {"attributes": encode_attributes(resource.attributes)},
            "scopeSpans": scope_spans,
        }
        if resource.schema_url:
            entry["schemaUrl"] = resource.schema_url
        resource_spans.append(entry)
    return {"resourceSpans": resource_spans}


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` with each lone surrogate (which UTF-8 cannot carry) replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def encode_line(spans: Sequence[ReadableSpan]) -> bytes:
    """One OTLP/JSON line, UTF-8. A lone surrogate (from a response id or model name that
    came off the wire that way) becomes U+FFFD instead of failing the whole batch."""
    line = json.dumps(encode_request(spans), separators=(",", ":"), ensure_ascii=False) + "\n"
    try:
        return line.encode("utf-8")
    except UnicodeEncodeError:
        return clean_text(line).encode("utf-8")


class OtlpJsonFileExporter(SpanExporter):
    """Appends one OTLP/JSON line per export batch to ``path``.

    Each line goes out in one unbuffered ``write`` on a file opened for appending, so a forked
    child that inherits the file never re-writes a parent's half-buffered line; the child gets a
    fresh lock (one inherited mid-write would never be released).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._file: IO[bytes] | None = None
        self._closed = False
        if hasattr(os, "register_at_fork"):
            ref = weakref.ref(self)

            def after_fork_in_child() -> None:
                me = ref()
                if me is not None:
                    me._lock = threading.Lock()

            os.register_at_fork(after_in_child=after_fork_in_child)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not spans:
            return SpanExportResult.SUCCESS
        data = encode_line(spans)
        with self._lock:
            if self._closed:
                return SpanExportResult.FAILURE
            try:
                if self._file is None:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    self._file = self.path.open("ab", buffering=0)
                view = memoryview(data)
                while view:  # a raw write may be partial
                    written = self._file.write(view)
                    view = view[written or 0 :]
            except OSError as exc:
                warn_once(
                    f"file-export:{self.path}", "agentspans: cannot write %s: %s", self.path, exc
                )
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            if self._file is not None:
                self._file.close()
                self._file = None
