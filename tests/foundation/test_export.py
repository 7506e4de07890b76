"""Exporting: the OTLP/JSON file, a Collector that is not there, and joining the app's provider."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agentspans
from agentspans import semconv

SRC = str(Path(__file__).resolve().parents[2] / "src")

WORKFLOW = textwrap.dedent(
    """
    import agentspans
    from concurrent.futures import ThreadPoolExecutor

    @agentspans.tool
    def search(q):
        return q.upper()

    @agentspans.agent(name="research")
    def research(topic):
        return [search(topic + str(i)) for i in range(3)]

    def main():
        with agentspans.agent_span("coordinator"):
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(research, ["a", "b"]))
    """
)


def _run(script: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full_env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": SRC, "AGENTSPANS_STRICT": "1", **env}
    return subprocess.run(
        [sys.executable, "-c", script],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_file_exporter_writes_otlp_json_lines(tmp_path: Path) -> None:
    out = tmp_path / "traces.jsonl"
    result = _run(
        WORKFLOW + "\nagentspans.instrument(service_name='file-test')\nmain()\n",
        {"AGENTSPANS_EXPORTER": "file", "AGENTSPANS_FILE_PATH": str(out)},
    )
    assert result.returncode == 0, result.stderr
    lines = out.read_text().splitlines()
    assert lines
    spans = []
    for line in lines:
        request = json.loads(line)
        for resource_spans in request["resourceSpans"]:
            resource = {a["key"]: a["value"] for a in resource_spans["resource"]["attributes"]}
            assert resource["service.name"] == {"stringValue": "file-test"}
            for scope_spans in resource_spans["scopeSpans"]:
                assert scope_spans["scope"]["name"] == "agentspans"
                spans.extend(scope_spans["spans"])
    assert len(spans) == 1 + 2 + 6
    for span in spans:
        assert len(span["traceId"]) == 32 and int(span["traceId"], 16)
        assert len(span["spanId"]) == 16 and int(span["spanId"], 16)
        assert int(span["endTimeUnixNano"]) >= int(span["startTimeUnixNano"]) > 0
        assert span["kind"] == 1
    by_id = {s["spanId"]: s for s in spans}
    (root,) = [s for s in spans if "parentSpanId" not in s]
    assert root["name"] == "invoke_agent coordinator"
    for span in spans:
        if span["name"] == "execute_tool search":
            assert by_id[span["parentSpanId"]]["name"] == "invoke_agent research"
        elif span is not root:
            assert span["parentSpanId"] == root["spanId"]


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_closed_collector_port_does_not_slow_or_hang_the_app(protocol: str) -> None:
    port = _closed_port()
    script = textwrap.dedent(
        """
        import time, agentspans
        agentspans.instrument()

        @agentspans.tool
        def work(i):
            return i + 1

        started = time.perf_counter()
        with agentspans.agent_span("batch"):
            for i in range(10_000):
                work(i)
        print(f"CALLS {time.perf_counter() - started:.3f}")
        """
    )
    started = time.monotonic()
    result = _run(
        script,
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        },
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    calls_s = float(result.stdout.split("CALLS ")[1])
    print(f"{protocol}: 10,000 calls in {calls_s:.2f}s, process exited after {elapsed:.2f}s")
    assert elapsed < 10, f"process took {elapsed:.1f}s to exit"
    warnings = [line for line in result.stderr.splitlines() if "cannot export spans" in line]
    assert len(warnings) == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "Transient error" not in result.stderr


def test_joins_existing_provider_and_restores_it() -> None:
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    app_processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(app_processor)
    before = provider._active_span_processor._span_processors

    agentspans.instrument(tracer_provider=provider, resources=False)
    try:
        # The app's own processor now sits behind ours and receives enriched spans.
        assert provider._active_span_processor._span_processors != before

        @agentspans.tool
        def search(q: str) -> str:
            return q

        with agentspans.agent_span("a"):
            search("x")
        provider.force_flush()
    finally:
        agentspans.uninstrument()
    assert provider._active_span_processor._span_processors == before
    spans = exporter.get_finished_spans()
    assert sorted(s.name for s in spans) == ["execute_tool search", "invoke_agent a"]
    assert all(semconv.CPU_TIME_S in s.attributes for s in spans)

    tracer = provider.get_tracer("app")
    with tracer.start_as_current_span("after"):
        pass
    assert "after" in [s.name for s in exporter.get_finished_spans()]


def test_no_network_at_import_or_instrument() -> None:
    script = textwrap.dedent(
        """
        import socket
        def refuse(*a, **k):
            raise AssertionError("network call during import/instrument")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        import agentspans
        agentspans.instrument(service_name="offline")
        print("OK", flush=True)
        import os
        os._exit(0)
        """
    )
    result = _run(script, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector.invalid:4317"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "OK"
