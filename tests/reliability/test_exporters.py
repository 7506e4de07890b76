"""The exporters under bad strings, SDK limits, refusing backends and slow final exports."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link

import agentspans
from agentspans._setup import GuardedExporter, _SilenceExporterRetries
from agentspans.exporters.otlp_json import OtlpJsonFileExporter
from agentspans.sources.otlp_json import read_files

LONE = "chatcmpl-\ud800-x"  # a lone surrogate, as json.loads gives for "\ud800" off the wire


def _spans_with(value: str, count: int = 3) -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    for index in range(count):
        with tracer.start_as_current_span(f"chat {value}") as span:
            span.set_attribute("gen_ai.response.id", value)
            span.set_attribute("gen_ai.response.finish_reasons", (value, "stop"))
            span.add_event("e", {"k": value})
            span.set_attribute("index", index)
    return list(exporter.get_finished_spans())


class _Backend(ThreadingHTTPServer):
    """An OTLP/HTTP receiver that answers every export with ``status``."""

    daemon_threads = True

    def __init__(self, status: int) -> None:
        self.status = status
        self.bodies: list[bytes] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(handler) -> None:
                length = int(handler.headers.get("content-length") or 0)
                self.bodies.append(handler.rfile.read(length))
                body = b"" if self.status == 200 else b"Unauthorized: bad token"
                handler.send_response(self.status)
                handler.send_header("content-type", "application/x-protobuf")
                handler.send_header("content-length", str(len(body)))
                handler.end_headers()
                handler.wfile.write(body)

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/traces"


@pytest.fixture
def silencer() -> Iterator[None]:
    quiet = _SilenceExporterRetries()
    quiet.install()
    yield
    quiet.remove()


def test_a_lone_surrogate_does_not_lose_the_file_batch(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    guarded = GuardedExporter(OtlpJsonFileExporter(path), str(path), 3.0)
    assert guarded.export(_spans_with(LONE)) is SpanExportResult.SUCCESS
    assert guarded.export(_spans_with("fine")) is SpanExportResult.SUCCESS  # no drop window
    guarded.shutdown()
    read = read_files([path])
    assert not read.problems
    assert len(read.records) == 6
    assert {record.attributes["gen_ai.response.id"] for record in read.records} == {
        "chatcmpl-\ufffd-x",
        "fine",
    }


def test_a_lone_surrogate_does_not_lose_the_otlp_batch(silencer: None) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    backend = _Backend(200)
    guarded = GuardedExporter(OTLPSpanExporter(endpoint=backend.endpoint), "backend", 3.0)
    try:
        assert guarded.export(_spans_with(LONE)) is SpanExportResult.SUCCESS
        assert guarded.export(_spans_with("fine")) is SpanExportResult.SUCCESS
    finally:
        guarded.shutdown()
        backend.shutdown()
    assert len(backend.bodies) == 2
    assert "\ufffd".encode() in backend.bodies[0]


@pytest.mark.parametrize("status", [401, 403])
def test_a_refusing_backend_is_named_as_such(
    status: int, silencer: None, caplog: pytest.LogCaptureFixture
) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    backend = _Backend(status)
    guarded = GuardedExporter(OTLPSpanExporter(endpoint=backend.endpoint), "backend", 3.0)
    try:
        with caplog.at_level(logging.WARNING, logger="agentspans"):
            assert guarded.export(_spans_with("x", 1)) is SpanExportResult.FAILURE
    finally:
        guarded.shutdown()
        backend.shutdown()
    (line,) = [r.getMessage() for r in caplog.records if r.name == "agentspans"]
    assert "refused the spans" in line and str(status) in line
    assert "OTEL_EXPORTER_OTLP_HEADERS" in line and "ENDPOINT" not in line


def test_rebuilt_spans_keep_the_sdk_dropped_counts(tmp_path: Path) -> None:
    limits = SpanLimits(max_span_attributes=4, max_events=2, max_links=1)
    provider = TracerProvider(span_limits=limits)
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    path = tmp_path / "t.jsonl"
    provider.add_span_processor(SimpleSpanProcessor(OtlpJsonFileExporter(path)))
    agentspans.instrument(tracer_provider=provider, resources=False, metrics=False)
    try:
        tracer = provider.get_tracer("t")
        other = tracer.start_span("other")
        links = [Link(other.get_span_context()) for _ in range(4)]
        with agentspans.agent_span("a"), tracer.start_as_current_span("busy", links=links) as s:
            for index in range(10):
                s.set_attribute(f"k{index}", index)
                s.add_event(f"e{index}")
        other.end()
        provider.force_flush()
    finally:
        agentspans.uninstrument()
    (busy,) = [span for span in memory.get_finished_spans() if span.name == "busy"]
    assert (busy.dropped_attributes, busy.dropped_events, busy.dropped_links) == (6, 8, 3)
    (agent,) = [span for span in memory.get_finished_spans() if span.name == "invoke_agent a"]
    assert agent.attributes  # rebuilt with enrichment and analysis attributes
    encoded = [
        span
        for line in path.read_text().splitlines()
        for rs in json.loads(line)["resourceSpans"]
        for ss in rs["scopeSpans"]
        for span in ss["spans"]
        if span["name"] == "busy"
    ]
    assert encoded[0]["droppedAttributesCount"] == 6
    assert encoded[0]["droppedEventsCount"] == 8
    assert encoded[0]["droppedLinksCount"] == 3


class _SlowExporter(SpanExporter):
    def __init__(self, takes_s: float) -> None:
        self.takes_s = takes_s
        self.delivered = 0
        self._stop = threading.Event()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._stop.wait(self.takes_s):
            return SpanExportResult.FAILURE
        self.delivered += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._stop.set()


def test_shutdown_waits_for_a_slow_healthy_backend_up_to_the_timeout() -> None:
    inner = _SlowExporter(1.2)
    guarded = GuardedExporter(inner, "slow", shutdown_timeout_s=3.0)
    guarded.begin_shutdown()
    assert guarded.export(_spans_with("x", 5)) is SpanExportResult.SUCCESS
    assert inner.delivered == 5 and guarded.lost == 0


def test_shutdown_gives_up_at_the_timeout_and_says_what_was_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    inner = _SlowExporter(30)
    guarded = GuardedExporter(inner, "stuck", shutdown_timeout_s=0.5)
    guarded.begin_shutdown()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="agentspans"):
        assert guarded.export(_spans_with("x", 4)) is SpanExportResult.FAILURE
    assert time.monotonic() - started < 2.0
    assert guarded.lost == 4
    assert any("gave up" in r.getMessage() and "4 spans" in r.getMessage() for r in caplog.records)
