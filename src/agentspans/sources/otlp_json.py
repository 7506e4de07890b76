"""Read OTLP/JSON into the neutral span model.

Accepted, per file: one ``ExportTraceServiceRequest`` a line (the Collector's ``file`` exporter
and our own ``file`` exporter write that), or one JSON document for the whole file (a
pretty-printed request, or the body of Jaeger's ``/api/v3/traces/{id}``, which wraps the request
in ``{"result": ...}``, possibly one wrapper a line when Jaeger streams).

What the Collector may emit is tolerated: ids in hex (OTLP/JSON) or base64 (protobuf's canonical
JSON), 64-bit integers as strings or numbers, enums as numbers or names, ``arrayValue`` and
``kvlistValue`` attributes, the older ``instrumentationLibrarySpans`` key.

Bad input never raises: each problem becomes one line naming ``file:line`` and what is wrong,
and everything else is still read. Files are streamed: JSON lines are read and decoded a line at
a time, so memory follows the spans read, not the size of the file.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from agentspans.analysis.model import SpanEvent, SpanRecord

__all__ = ["ReadResult", "decode_value", "read_files", "read_stream", "read_text"]

# Past this many problems in one source the rest are counted, not listed, so a file of garbage
# gives a screenful, not a million lines.
_MAX_PROBLEMS_PER_SOURCE = 20

# SpanFlags in the OTLP proto: bit 8 says whether bit 9 (the parent is remote) is known.
_FLAG_REMOTE_KNOWN = 0x100
_FLAG_REMOTE = 0x200

_STATUS_ERROR = 2
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_OTHER_SIGNALS = ("resourceMetrics", "resourceLogs", "resourceProfiles")


@dataclass
class ReadResult:
    """Spans read from one or more sources, and one line per problem met on the way."""

    records: list[SpanRecord] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def extend(self, other: ReadResult) -> None:
        self.records.extend(other.records)
        self.problems.extend(other.problems)


class _Problems:
    """The problem lines of one source, capped at :data:`_MAX_PROBLEMS_PER_SOURCE`."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: list[str] = []
        self.dropped = 0

    def add(self, where: str, message: str) -> None:
        if len(self.lines) < _MAX_PROBLEMS_PER_SOURCE:
            self.lines.append(f"{where}: {message}")
        else:
            self.dropped += 1

    def finish(self) -> list[str]:
        if self.dropped:
            self.lines.append(f"{self.source}: {self.dropped} more problems not shown")
        return self.lines


class _SpanError(ValueError):
    """A span that cannot be read; its message says why."""


# -- files and text -------------------------------------------------------------------------------
def read_files(paths: Iterable[str | Path]) -> ReadResult:
    """Read every file in ``paths`` (``"-"``: standard input); a span seen twice (same trace and
    span id) is kept once."""
    result = ReadResult()
    seen: set[tuple[str, str]] = set()
    for path in paths:
        one = _read_file(Path(path))
        duplicates = 0
        for record in one.records:
            key = (record.trace_id, record.span_id)
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            result.records.append(record)
        result.problems.extend(one.problems)
        if duplicates:
            result.problems.append(
                f"{path}: {duplicates} {'span was' if duplicates == 1 else 'spans were'} "
                "already read (same trace and span id); the first copy is kept"
            )
    return result


def _read_file(path: Path) -> ReadResult:
    source = "<stdin>" if str(path) == "-" else str(path)
    try:
        # "-" is standard input, as for most command-line tools (``... | agentspans report -``).
        if str(path) == "-":
            return read_stream(sys.stdin.buffer, source)
        with path.open("rb") as stream:
            return read_stream(stream, source)
    except FileNotFoundError:
        return ReadResult(problems=[f"{path}: no such file"])
    except IsADirectoryError:
        return ReadResult(problems=[f"{path}: is a directory, not an OTLP/JSON file"])
    except OSError as exc:
        return ReadResult(problems=[f"{path}: cannot read ({exc.strerror or exc})"])


# Reading is streamed: a file of JSON lines is read a line at a time, each line's spans kept as
# records and its JSON dropped, so memory follows the spans, not the file's text. A line is
# read in pieces of _PIECE_BYTES so that binary data (/dev/zero) is recognised at once.
_PIECE_BYTES = 8 * 1024 * 1024
_MAX_LINE_BYTES = 512 * 1024 * 1024
# A file that is one JSON document (pretty-printed) is parsed whole, up to this size.
_MAX_DOCUMENT_BYTES = 1024 * 1024 * 1024


class _BadBytes(ValueError):
    """The input is not text; the message says why."""


def _lines(stream: IO[bytes]) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of each line of ``stream``, checked to be UTF-8 text."""
    offset = 0
    number = 0
    while True:
        pieces: list[bytes] = []
        size = 0
        while True:
            piece = stream.readline(_PIECE_BYTES)
            if not piece:
                break
            nul = piece.find(b"\x00")
            if nul >= 0:
                raise _BadBytes(f"not OTLP/JSON (binary data: byte {offset + size + nul} is NUL)")
            pieces.append(piece)
            size += len(piece)
            if piece.endswith(b"\n"):
                break
            if size > _MAX_LINE_BYTES:
                raise _BadBytes(
                    f"line {number + 1} is longer than {_MAX_LINE_BYTES >> 20} MiB; "
                    "not OTLP/JSON lines"
                )
        if not pieces:
            return
        raw = b"".join(pieces)
        number += 1
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise _BadBytes(
                f"not OTLP/JSON (not UTF-8 text: byte {offset + exc.start} is invalid)"
            ) from None
        offset += len(raw)
        yield number, text


def read_stream(stream: IO[bytes], source: str) -> ReadResult:
    """Read OTLP/JSON from a binary ``stream``: JSON lines a line at a time, or one document.

    Whether it is JSON lines is decided by the first non-empty line: one that parses on its own
    starts a file of JSON lines; otherwise the whole stream is read as one document (and, if
    that fails too, line by line, as :func:`read_text` does).
    """
    problems = _Problems(source)
    records: list[SpanRecord] = []
    lines = _lines(stream)
    buffered: list[str] = []
    other_signals = 0
    try:
        for number, text in lines:
            if not text.strip():
                buffered.append(text)
                continue
            try:
                document = json.loads(text)
            except (json.JSONDecodeError, RecursionError):
                buffered.append(text)
                return _read_document(buffered, lines, source)
            # JSON lines: from here on, one document a line, each dropped once decoded.
            other_signals += _take(document, f"{source}:{number}", records, problems)
            for number, text in lines:
                if not text.strip():
                    continue
                where = f"{source}:{number}"
                try:
                    document = json.loads(text)
                except json.JSONDecodeError as exc:
                    problems.add(where, f"not JSON ({exc.msg} at column {exc.colno})")
                    continue
                except RecursionError:
                    problems.add(where, "not JSON we can read (nested too deeply)")
                    continue
                other_signals += _take(document, where, records, problems)
            break
        else:
            problems.add(source, "empty, no spans in it")
    except _BadBytes as exc:
        problems.add(source, str(exc))
    if other_signals:
        problems.add(
            source,
            f"{other_signals} {'entry holds' if other_signals == 1 else 'entries hold'} metrics, "
            "logs or profiles, not traces; skipped",
        )
    return ReadResult(records, problems.finish())


def _take(document: Any, where: str, records: list[SpanRecord], problems: _Problems) -> int:
    """Decode one document into ``records``; 1 if it held another signal instead, else 0."""
    if _is_other_signal(document):
        return 1
    try:
        records.extend(_decode_document(document, where, problems))
    except RecursionError:
        problems.add(where, "not OTLP/JSON we can read (attributes nested too deeply)")
    return 0


def _read_document(buffered: list[str], rest: Iterator[tuple[int, str]], source: str) -> ReadResult:
    """The stream is not JSON lines: read it whole (bounded) as :func:`read_text` does."""
    size = sum(len(text) for text in buffered)
    for _, text in rest:
        size += len(text)
        if size > _MAX_DOCUMENT_BYTES:
            return ReadResult(
                problems=[
                    f"{source}: not OTLP/JSON lines, and larger than "
                    f"{_MAX_DOCUMENT_BYTES >> 20} MiB to read as one document"
                ]
            )
        buffered.append(text)
    return read_text("".join(buffered), source)


def read_text(text: str, source: str) -> ReadResult:
    """Read OTLP/JSON ``text``; problems are named ``source`` or ``source:line``."""
    problems = _Problems(source)
    records: list[SpanRecord] = []
    if not text.strip():
        problems.add(source, "empty, no spans in it")
        return ReadResult(records, problems.finish())
    documents = _documents(text, source, problems)
    other_signals = 0
    for where, document in documents:
        other_signals += _take(document, where, records, problems)
    if other_signals:
        problems.add(
            source,
            f"{other_signals} {'entry holds' if other_signals == 1 else 'entries hold'} metrics, "
            "logs or profiles, not traces; skipped",
        )
    return ReadResult(records, problems.finish())


def _documents(text: str, source: str, problems: _Problems) -> list[tuple[str, Any]]:
    """The JSON documents in ``text``, each with where it was found."""
    try:
        document = json.loads(text)
    except RecursionError:
        problems.add(source, "not JSON we can read (nested too deeply)")
        return []
    except json.JSONDecodeError as whole_error:
        by_line: list[tuple[str, Any]] = []
        line_errors: list[tuple[str, str]] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{source}:{number}"
            try:
                by_line.append((where, json.loads(line)))
            except json.JSONDecodeError as exc:
                line_errors.append((where, f"not JSON ({exc.msg} at column {exc.colno})"))
            except RecursionError:
                line_errors.append((where, "not JSON we can read (nested too deeply)"))
        if any(isinstance(document, dict) for _, document in by_line):
            for where, message in line_errors:
                problems.add(where, message)
            return by_line
        # Not JSON lines: report the whole document's first error, where it is.
        problems.add(
            f"{source}:{whole_error.lineno}",
            f"not JSON ({whole_error.msg} at column {whole_error.colno})",
        )
        return []
    # A one-line file is a file of JSON lines like any other: its problems name line 1.
    return [(source if "\n" in text.strip() else f"{source}:1", document)]


def _is_other_signal(document: Any) -> bool:
    return (
        isinstance(document, dict)
        and "resourceSpans" not in document
        and any(key in document for key in _OTHER_SIGNALS)
    )


# -- documents ------------------------------------------------------------------------------------
def _decode_document(document: Any, where: str, problems: _Problems) -> list[SpanRecord]:
    if not isinstance(document, dict):
        problems.add(
            where,
            f"not OTLP/JSON (expected an object with resourceSpans, found {_kind(document)})",
        )
        return []
    if "error" in document and "resourceSpans" not in document:
        problems.add(where, f"the source answered with an error: {_error_text(document['error'])}")
        return []
    if isinstance(document.get("result"), dict):  # Jaeger's api_v3 wraps TracesData
        document = document["result"]
    if "resourceSpans" not in document:
        if isinstance(document.get("data"), list):
            problems.add(
                where,
                "this is Jaeger's legacy /api/traces format, not OTLP/JSON; "
                "use /api/v3/traces/{trace_id}",
            )
        else:
            keys = ", ".join(sorted(str(key) for key in document)[:5]) or "none"
            problems.add(where, f"not OTLP/JSON (no resourceSpans; top-level keys: {keys})")
        return []
    resource_spans = document["resourceSpans"]
    if resource_spans is None:
        return []
    if not isinstance(resource_spans, list):
        problems.add(where, f"resourceSpans is {_kind(resource_spans)}, not a list")
        return []
    records: list[SpanRecord] = []
    for index, entry in enumerate(resource_spans):
        if not isinstance(entry, dict):
            problems.add(where, f"resourceSpans[{index}] is {_kind(entry)}, not an object")
            continue
        service = _service_name(entry.get("resource"))
        scopes = entry.get("scopeSpans", entry.get("instrumentationLibrarySpans")) or []
        for scope in scopes if isinstance(scopes, list) else ():
            spans = scope.get("spans") if isinstance(scope, dict) else None
            for span in spans if isinstance(spans, list) else ():
                try:
                    records.append(_decode_span(span, service))
                except _SpanError as exc:
                    problems.add(where, f"span {_span_label(span)} skipped: {exc}")
    return records


def _service_name(resource: Any) -> str | None:
    if not isinstance(resource, dict):
        return None
    try:
        name = _decode_attributes(resource.get("attributes")).get("service.name")
    except _SpanError:
        return None
    return name if isinstance(name, str) else None


def _decode_span(span: Any, service: str | None) -> SpanRecord:
    if not isinstance(span, dict):
        raise _SpanError(f"expected an object, found {_kind(span)}")
    trace_id = decode_id(span.get("traceId"), 16, "traceId")
    span_id = decode_id(span.get("spanId"), 8, "spanId")
    if trace_id is None or span_id is None:
        raise _SpanError("no traceId" if trace_id is None else "no spanId")
    parent_id = decode_id(span.get("parentSpanId"), 8, "parentSpanId")
    start_ns = _decode_time(span.get("startTimeUnixNano"), "startTimeUnixNano")
    end_ns = _decode_time(span.get("endTimeUnixNano"), "endTimeUnixNano")
    flags = _decode_flags(span.get("flags"))
    events_raw = span.get("events") or []
    if not isinstance(events_raw, list):
        raise _SpanError(f"events is {_kind(events_raw)}, not a list")
    name = span.get("name", "")
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=parent_id,
        name=name if isinstance(name, str) else str(name),
        start_ns=start_ns,
        end_ns=end_ns,
        attributes=_decode_attributes(span.get("attributes")),
        error=_is_error(span.get("status")),
        service=service,
        events=tuple(_decode_event(event) for event in events_raw),
        parent_is_remote=parent_id is not None
        and flags & (_FLAG_REMOTE_KNOWN | _FLAG_REMOTE) == _FLAG_REMOTE_KNOWN | _FLAG_REMOTE,
    )


def _decode_event(event: Any) -> SpanEvent:
    if not isinstance(event, dict):
        raise _SpanError(f"an event is {_kind(event)}, not an object")
    name = event.get("name", "")
    return SpanEvent(
        name=name if isinstance(name, str) else str(name),
        time_ns=_decode_time(event.get("timeUnixNano"), "event timeUnixNano"),
        attributes=_decode_attributes(event.get("attributes")),
    )


# -- fields ---------------------------------------------------------------------------------------
def decode_id(value: Any, size: int, what: str) -> str | None:
    """A trace or span id (hex or base64) as lowercase hex; None when absent or all zeros."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _SpanError(f"{what} is {_kind(value)}, not a string")
    if len(value) == 2 * size and _HEX_DIGITS.issuperset(value):
        digits = value.lower()
    else:
        try:
            raw = base64.b64decode(value.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != size:
            raise _SpanError(
                f"{what} {value[:40]!r} is neither {2 * size} hex digits nor base64 of {size} bytes"
            )
        digits = raw.hex()
    return None if digits.strip("0") == "" else digits


def _decode_time(value: Any, what: str) -> int:
    if value is None:
        raise _SpanError(f"no {what}")
    try:
        return _as_int(value)
    except ValueError:
        raise _SpanError(f"{what} {value!r} is not an integer") from None


def _decode_flags(value: Any) -> int:
    if value is None:
        return 0
    try:
        return _as_int(value)
    except ValueError:
        raise _SpanError(f"flags {value!r} is not an integer") from None


def _as_int(value: Any) -> int:
    # OTLP/JSON writes 64-bit integers as decimal strings; some writers use plain numbers.
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return int(value.strip())
    raise ValueError(value)


def _is_error(status: Any) -> bool:
    if not isinstance(status, dict):
        return False
    code = status.get("code")
    if isinstance(code, str):
        return code.upper() in {"STATUS_CODE_ERROR", "ERROR", "2"}
    return code == _STATUS_ERROR


def _decode_attributes(attributes: Any) -> dict[str, Any]:
    if not attributes:
        return {}
    if not isinstance(attributes, list):
        raise _SpanError(f"attributes is {_kind(attributes)}, not a list")
    decoded: dict[str, Any] = {}
    for item in attributes:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise _SpanError("an attribute has no string key")
        value = decode_value(item.get("value"))
        if value is not None:
            decoded[item["key"]] = value
    return decoded


def decode_value(value: Any) -> Any:
    """An OTLP ``AnyValue`` as a Python value: arrays become tuples, kvlists dicts."""
    if value is None or value == {}:
        return None
    if not isinstance(value, dict):
        raise _SpanError(f"an attribute value is {_kind(value)}, not an AnyValue object")
    try:
        if "stringValue" in value:
            return str(value["stringValue"])
        if "boolValue" in value:
            flag = value["boolValue"]
            return flag if isinstance(flag, bool) else str(flag).lower() == "true"
        if "intValue" in value:
            return _as_int(value["intValue"])
        if "doubleValue" in value:
            return _as_float(value["doubleValue"])
        if "arrayValue" in value:
            items = (value["arrayValue"] or {}).get("values") or []
            return tuple(decode_value(item) for item in items)
        if "kvlistValue" in value:
            return _decode_attributes((value["kvlistValue"] or {}).get("values"))
        if "bytesValue" in value:
            return base64.b64decode(value["bytesValue"])
    except (ValueError, TypeError, AttributeError, binascii.Error) as exc:
        raise _SpanError(f"an attribute value {_short(value)} cannot be read ({exc})") from None
    raise _SpanError(f"an attribute value {_short(value)} has no known type")


def _as_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, (int, float)):
        return float(value)
    # proto3 JSON spells the special values as strings.
    special = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
    if isinstance(value, str):
        return special[value] if value in special else float(value)
    raise ValueError(value)


# -- wording --------------------------------------------------------------------------------------
def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = json.dumps(value, default=repr)
    return text if len(text) <= 60 else text[:57] + "..."


def _span_label(span: Any) -> str:
    if isinstance(span, dict):
        name = span.get("name")
        span_id = span.get("spanId")
        if isinstance(name, str) and name:
            return repr(name)
        if isinstance(span_id, str) and span_id:
            return span_id
    return "(unnamed)"


def _error_text(error: Any) -> str:
    if isinstance(error, Mapping):
        message = error.get("message") or error.get("msg")
        code = error.get("httpCode") or error.get("code")
        if message:
            return f"{message} (code {code})" if code else str(message)
    return _short(error)
