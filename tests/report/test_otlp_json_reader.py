"""Reading OTLP/JSON: our exporter's files, Collector-style lines, Jaeger bodies, bad input."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

import agentspans
from agentspans.analysis import analyze
from agentspans.analysis.model import SpanEvent, SpanRecord
from agentspans.sources.otlp_json import read_files, read_text
from agentspans.testing import capture_spans

from ._workflows import coordinator_workflow, expected_record

REMOTE_TRACE = 0x0AF7651916CD43DD8448EB211C80319C
REMOTE_PARENT = 0xB7AD6B7169203331


def _key(record: SpanRecord) -> tuple[str, str]:
    return (record.trace_id, record.span_id)


def test_a_file_written_by_the_sdk_reads_back_equal_to_the_live_spans(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    with capture_spans(exporter="file", file_path=str(path)) as spans:
        coordinator_workflow()
        # A span whose parent lives in another process: remote parent, a local root.
        remote = SpanContext(
            REMOTE_TRACE, REMOTE_PARENT, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED)
        )
        token = otel_context.attach(trace.set_span_in_context(NonRecordingSpan(remote)))
        try:
            with agentspans.agent_span("downstream"):
                pass
        finally:
            otel_context.detach(token)
        live = spans.finished()
    result = read_files([path])
    assert result.problems == []
    assert len(live) == 10
    assert sorted(result.records, key=_key) == sorted(map(expected_record, live), key=_key)
    by_name = {record.name: record for record in result.records}
    downstream = by_name["invoke_agent downstream"]
    assert downstream.parent_is_remote and downstream.parent_id == f"{REMOTE_PARENT:016x}"
    assert not by_name["invoke_agent coordinator"].parent_is_remote
    assert by_name["execute_tool flaky"].error
    assert by_name["invoke_agent coordinator"].attributes["app.tags"] == ("a", "b")
    # capture_spans joins a provider with the SDK default resource.
    assert {record.service for record in result.records} == {"unknown_service:python"}
    # The annotator's finding events survive the round trip.
    assert any(event.name == "agentspans.finding" for r in result.records for event in r.events)


def _b64(hex_id: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_id)).decode()


TRACE = "5b8efff798038103d269b633813fc60c"
ROOT = "eee19b7ec3c1b174"
CHILD = "eee19b7ec3c1b173"


def _collector_request(**span_overrides: object) -> dict[str, object]:
    """A request as a Collector (or protobuf JSON) may write it: base64 ids, numbers as text."""
    child = {
        "traceId": _b64(TRACE),
        "spanId": _b64(CHILD),
        "parentSpanId": _b64(ROOT),
        "flags": 0x301,  # sampled, remote-parent known and set
        "name": "execute_tool search",
        "kind": "SPAN_KIND_CLIENT",
        "startTimeUnixNano": 1_700_000_000_100_000_000,
        "endTimeUnixNano": "1700000000400000000",
        "attributes": [
            {"key": "gen_ai.operation.name", "value": {"stringValue": "execute_tool"}},
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": 120}},
            {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "30"}},
            {"key": "agentspans.cost.usd", "value": {"doubleValue": "0.5"}},
            {"key": "retry", "value": {"boolValue": False}},
            {
                "key": "tags",
                "value": {"arrayValue": {"values": [{"stringValue": "x"}, {"intValue": "2"}]}},
            },
            {
                "key": "meta",
                "value": {"kvlistValue": {"values": [{"key": "k", "value": {"stringValue": "v"}}]}},
            },
            {"key": "empty", "value": {}},
        ],
        "events": [{"timeUnixNano": "1700000000200000000", "name": "retry", "attributes": []}],
        "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
        **span_overrides,
    }
    root = {
        "traceId": TRACE,
        "spanId": ROOT,
        "parentSpanId": "",
        "name": "invoke_agent coordinator",
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000001000000000",
        "status": {"code": 0},
    }
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "svc-a"}}]
                },
                "scopeSpans": [{"scope": {"name": "x"}, "spans": [root]}],
            },
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "svc-b"}}]
                },
                # The key OTLP used before scopeSpans.
                "instrumentationLibrarySpans": [{"spans": [child]}],
            },
        ]
    }


EXPECTED_ROOT = SpanRecord(
    trace_id=TRACE,
    span_id=ROOT,
    parent_id=None,
    name="invoke_agent coordinator",
    start_ns=1_700_000_000_000_000_000,
    end_ns=1_700_000_001_000_000_000,
    service="svc-a",
)
EXPECTED_CHILD = SpanRecord(
    trace_id=TRACE,
    span_id=CHILD,
    parent_id=ROOT,
    name="execute_tool search",
    start_ns=1_700_000_000_100_000_000,
    end_ns=1_700_000_000_400_000_000,
    attributes={
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.usage.input_tokens": 120,
        "gen_ai.usage.output_tokens": 30,
        "agentspans.cost.usd": 0.5,
        "retry": False,
        "tags": ("x", 2),
        "meta": {"k": "v"},
    },
    error=True,
    service="svc-b",
    events=(SpanEvent("retry", 1_700_000_000_200_000_000, {}),),
    parent_is_remote=True,
)


def test_collector_style_lines_parse() -> None:
    result = read_text(json.dumps(_collector_request()) + "\n", "collector.json")
    assert result.problems == []
    assert sorted(result.records, key=_key) == [EXPECTED_CHILD, EXPECTED_ROOT]


def test_a_pretty_printed_document_and_jaeger_api_v3_bodies_parse() -> None:
    request = _collector_request()
    pretty = read_text(json.dumps(request, indent=2), "pretty.json")
    wrapped = read_text(json.dumps({"result": request}, indent=1), "jaeger.json")
    # Jaeger may stream: one {"result": ...} per line.
    streamed = read_text(
        "\n".join(
            json.dumps({"result": {"resourceSpans": [rs]}}) for rs in request["resourceSpans"]
        ),  # type: ignore[attr-defined]
        "stream.json",
    )
    for result in (pretty, wrapped, streamed):
        assert result.problems == []
        assert sorted(result.records, key=_key) == [EXPECTED_CHILD, EXPECTED_ROOT]


def _line(trace_id: str, name: str = "invoke_agent solo") -> str:
    span = {
        "traceId": trace_id,
        "spanId": "00000000000000a1",
        "name": name,
        "startTimeUnixNano": "1000000000",
        "endTimeUnixNano": "2000000000",
    }
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})


def test_each_bad_input_gives_one_message_and_the_rest_is_still_read(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(
        "\n".join(
            [
                _line("1" * 32),
                '{"resourceSpans": [ this is not json',
                "",
                json.dumps({"resourceMetrics": []}),
                _line("2" * 32),
            ]
        )
        + "\n"
    )
    not_otlp = tmp_path / "other.json"
    not_otlp.write_text(json.dumps({"hello": "world"}))
    bad_span = tmp_path / "badspan.jsonl"
    bad_span.write_text(
        _line("3" * 32).replace('"00000000000000a1"', '"xyz"') + "\n" + _line("4" * 32) + "\n"
    )
    binary = tmp_path / "binary.bin"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    pretty_broken = tmp_path / "broken.json"
    pretty_broken.write_text('{\n  "resourceSpans": [\n    {"scopeSpans": [}\n  ]\n}\n')
    missing = tmp_path / "missing.jsonl"

    result = read_files([good, not_otlp, bad_span, binary, empty, pretty_broken, missing])

    assert result.problems == [
        f"{good}:2: not JSON (Expecting value at column 21)",
        f"{good}: 1 entry holds metrics, logs or profiles, not traces; skipped",
        f"{not_otlp}:1: not OTLP/JSON (no resourceSpans; top-level keys: hello)",
        f"{bad_span}:1: span 'invoke_agent solo' skipped: spanId 'xyz' is neither 16 hex digits "
        "nor base64 of 8 bytes",
        f"{binary}: not OTLP/JSON (not UTF-8 text: byte 0 is invalid)",
        f"{empty}: empty, no spans in it",
        f"{pretty_broken}:3: not JSON (Expecting value at column 21)",
        f"{missing}: no such file",
    ]
    assert sorted(record.trace_id for record in result.records) == ["1" * 32, "2" * 32, "4" * 32]
    # What was read is analysed.
    assert sorted(analysis.trace_id for analysis in analyze(result.records)) == [
        "1" * 32,
        "2" * 32,
        "4" * 32,
    ]


def test_a_span_read_twice_is_kept_once(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text(_line("1" * 32) + "\n")
    second.write_text(_line("1" * 32) + "\n" + _line("2" * 32) + "\n")
    result = read_files([first, second])
    assert [record.trace_id for record in result.records] == ["1" * 32, "2" * 32]
    assert result.problems == [
        f"{second}: 1 span was already read (same trace and span id); the first copy is kept"
    ]


def test_a_flood_of_bad_lines_is_capped() -> None:
    text = "\n".join([_line("1" * 32)] + ["{oops"] * 100)
    result = read_text(text, "f.jsonl")
    assert len(result.problems) == 21
    assert result.problems[-1] == "f.jsonl: 80 more problems not shown"
    assert len(result.records) == 1


def test_a_jaeger_legacy_body_is_named() -> None:
    result = read_text(json.dumps({"data": [{"traceID": "ab", "spans": []}]}), "legacy.json")
    assert result.records == []
    assert result.problems == [
        "legacy.json:1: this is Jaeger's legacy /api/traces format, not OTLP/JSON; "
        "use /api/v3/traces/{trace_id}"
    ]
