"""The real Collector's file exporter output reads back as the spans the app sent."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from agentspans import report
from agentspans.analysis import SpanRecord, analyze
from agentspans.sources.otlp_json import read_files
from agentspans.testing import capture_spans

from ._workflows import coordinator_workflow, expected_record
from .test_cli import agentspans_cli

REPO = Path(__file__).resolve().parents[2]

CONFIG = """
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{port}
exporters:
  file:
    path: {path}
    flush_interval: 100ms
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
"""


def _otelcol() -> Path:
    """The Collector binary: ``$AGENTSPANS_OTELCOL``, else the one scripts/build-stack.sh built."""
    if os.environ.get("AGENTSPANS_OTELCOL"):
        return _with_file_exporter(Path(os.environ["AGENTSPANS_OTELCOL"]))
    out = subprocess.run(
        ["bash", str(REPO / "scripts" / "build-stack.sh"), "--paths"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(
        dict(line.split("=", 1) for line in out.splitlines() if "=" in line)["AGENTSPANS_OTELCOL"]
    )
    if not path.is_file():
        pytest.fail(
            f"needs the Collector built by scripts/build-stack.sh (expected {path})", pytrace=False
        )
    return _with_file_exporter(path)


def _with_file_exporter(path: Path) -> Path:
    components = subprocess.run(
        [str(path), "components"], capture_output=True, text=True, check=True
    ).stdout
    if "exporter/fileexporter" not in components:
        # The stack's build carries exactly what collector/*.yaml use; the file exporter is only
        # there while a configuration writes OTLP/JSON files.
        pytest.skip(f"{path} is built without the file exporter (collector/builder-config.yaml)")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "the Collector exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"the Collector did not listen on {port}")


@pytest.mark.stack
def test_the_collector_file_exporter_output_reads_back_and_analyses_the_same(
    tmp_path: Path,
) -> None:
    port = _free_port()
    out = tmp_path / "collector.jsonl"
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(port=port, path=out))
    log = (tmp_path / "collector.log").open("wb")
    collector = subprocess.Popen([str(_otelcol()), "--config", str(config)], stdout=log, stderr=log)
    try:
        _wait_listening(port, collector)
        with capture_spans(
            exporter="otlp",
            otlp_protocol="http/protobuf",
            otlp_endpoint=f"http://127.0.0.1:{port}/v1/traces",
        ) as spans:
            coordinator_workflow()
            live = spans.finished()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(read_files([out]).records) < len(live):
            time.sleep(0.1)
    finally:
        collector.send_signal(signal.SIGTERM)
        collector.wait(timeout=20)
        log.close()
    result = read_files([out])
    assert result.problems == []

    def key(record: SpanRecord) -> tuple[str, str]:
        return (record.trace_id, record.span_id)

    assert sorted(result.records, key=key) == sorted(map(expected_record, live), key=key)
    # What the Collector wrote analyses exactly as the app's own in-process analysis did.
    (root,) = [span for span in live if span.parent is None]
    done = agentspans_cli("report", "--format", "json", str(out))
    assert done.returncode == 0, done.stderr
    (trace,) = json.loads(done.stdout)["traces"]
    assert (root.attributes or {})["agentspans.trace.duration_ms"] == round(trace["duration_ms"], 6)
    assert trace == json.loads(report.render_json(analyze(result.records)))["traces"][0]
