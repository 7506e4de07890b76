"""The smaller points of the views issue (#16), each as a user meets it."""

from __future__ import annotations

import http.server
import logging
import os
import re
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import agentspans
from agentspans import ConfigError

REPO = Path(__file__).resolve().parents[2]
SRC = str(REPO / "src")


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTSPANS_"))}
    return subprocess.run(
        [sys.executable, *args],
        env={**base, "PYTHONPATH": SRC, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_version() -> None:
    result = _run(["-m", "agentspans", "--version"])
    assert result.returncode == 0
    assert result.stdout.strip() == f"agentspans {agentspans.__version__}"


def test_second_instrument_with_other_options_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    agentspans.instrument(exporter="none")
    try:
        with caplog.at_level(logging.WARNING, logger="agentspans"):
            agentspans.instrument()  # a bare second call asks for nothing: no warning
            assert not caplog.records
            agentspans.instrument(exporter="none", analysis=False, tools=["os.path:join"])
            agentspans.instrument(exporter="none", analysis=False, tools=["os.path:join"])
        (record,) = [r for r in caplog.records if "already called" in r.getMessage()]
        message = record.getMessage()
        assert "analysis" in message and "tools" in message
        assert "uninstrument()" in message and "one instrument() call" in message
        assert agentspans.instrumentation() is not None
        assert agentspans.instrumentation().config.analysis is True  # type: ignore[union-attr]
    finally:
        agentspans.uninstrument()


def test_file_path_in_a_missing_directory(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    missing = tmp_path / "no-such-dir" / "traces.jsonl"
    with pytest.raises(ConfigError, match="does not exist; create it"):
        agentspans.instrument(exporter="file", file_path=missing)
    assert agentspans.instrumentation() is None
    assert not missing.parent.exists()
    # From the environment: a warning, the default file, and the app runs.
    os.environ["AGENTSPANS_FILE_PATH"] = str(missing)
    try:
        with caplog.at_level(logging.WARNING, logger="agentspans"):
            instrumentation = agentspans.instrument(exporter="file", metrics=False)
        assert instrumentation.config.file_path == "agentspans-traces.jsonl"
        assert any("AGENTSPANS_FILE_PATH" in r.getMessage() for r in caplog.records)
    finally:
        del os.environ["AGENTSPANS_FILE_PATH"]
        agentspans.uninstrument()
    assert not missing.parent.exists()


def test_bad_prices_file_from_the_environment_warns(tmp_path: Path) -> None:
    bad = tmp_path / "prices.json"
    bad.write_text("{not json")
    script = "import agentspans; agentspans.instrument(exporter='none'); print('app ran')"
    result = _run(["-c", script], AGENTSPANS_PRICES_FILE=str(bad))
    assert result.returncode == 0, result.stderr
    assert "app ran" in result.stdout
    assert "ignoring AGENTSPANS_PRICES_FILE" in result.stderr
    assert "bundled price table" in result.stderr
    # The argument still fails at instrument(), saying which option.
    with pytest.raises(ConfigError, match=r"prices_file="):
        agentspans.instrument(exporter="none", prices_file=bad)
    assert agentspans.instrumentation() is None


@pytest.fixture
def jaeger_404() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"error": {"httpCode": 404, "message": "trace not found"}}'
            self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_analyze_with_jaegers_short_trace_id_says_what_to_pass(jaeger_404: str) -> None:
    result = _run(["-m", "agentspans", "analyze", "--jaeger", jaeger_404, "bdc2e60"])
    assert result.returncode == 2
    assert "trace not found (HTTP 404)" in result.stderr
    assert "'bdc2e60' has 7 hex digits (the 7 digits Jaeger's UI shows)" in result.stderr
    assert "pass the whole 32-digit trace id" in result.stderr
    full = _run(["-m", "agentspans", "analyze", "--jaeger", jaeger_404, "ab" * 16])
    assert "hex digits" not in full.stderr  # a whole id that is not there: just not found


def test_demo_otlp_with_nothing_listening_does_not_claim_it_sent() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    result = _run(
        ["-m", "agentspans", "demo", "--otlp", "--speed", "10"],
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}",
        AGENTSPANS_EXPORT_TIMEOUT_S="1",
    )
    assert result.returncode == 0, result.stderr
    assert "Sent " not in result.stdout
    assert "Could NOT send the" in result.stdout and f"127.0.0.1:{port}" in result.stdout
    assert "Trace " in result.stdout  # the report is still printed


README_APP = {
    "myapp/__init__.py": "",
    "myapp/tools.py": """
        def search(query):
            return query.upper()
        def summarise(text):
            return text[:10]
    """,
    "myapp/coordinator.py": """
        from myapp import tools
        class Agent:
            def __init__(self, name):
                self.name = name
            def work(self, task):
                return tools.summarise(tools.search(task))
        class Coordinator:
            def __init__(self):
                self.agents = [Agent("research"), Agent("data"), Agent("writer")]
            def delegate(self, agent, task):
                return agent.work(task)
            def run(self, question):
                return [self.delegate(agent, question) for agent in self.agents]
    """,
}


def test_readme_import_path_example_gives_one_trace_per_request(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r"agentspans\.instrument\(\s+# or by import path.*?\n  \)", readme, re.S)
    assert match, "the README's import-path example moved"
    call = textwrap.dedent("  " + match.group(0)).strip()
    for name, text in README_APP.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text))
    script = (
        textwrap.dedent(
            """
        import sys
        import agentspans
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        provider = TracerProvider()
        captured = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(captured))
        from opentelemetry import trace
        trace.set_tracer_provider(provider)
        """
        )
        + call.replace("agentspans.instrument(", "agentspans.instrument(exporter='none', ", 1)
        + textwrap.dedent(
            """
        from myapp.coordinator import Coordinator
        Coordinator().run("one request")
        agentspans.uninstrument()
        spans = captured.get_finished_spans()
        print(len({s.context.trace_id for s in spans}), sorted({s.name for s in spans}))
        """
        )
    )
    result = _run(["-c", script], PYTHONPATH=f"{SRC}{os.pathsep}{tmp_path}")
    assert result.returncode == 0, result.stderr
    traces, names = result.stdout.strip().split(" ", 1)
    assert "invoke_agent research" in names and "execute_tool search" in names
    assert traces == "1", result.stdout
