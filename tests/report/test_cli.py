"""``agentspans report`` and ``agentspans analyze --jaeger`` run as the user runs them."""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agentspans.analysis.thresholds import Thresholds

from .test_render import assert_contract

SRC = str(Path(__file__).resolve().parents[2] / "src")
ENV = {"PATH": "/usr/bin:/bin", "PYTHONPATH": SRC, "AGENTSPANS_STRICT": "1"}

# The coordinator runs in one process and hands the research to a second one, passing the trace
# context along (W3C traceparent) as a real distributed app does over HTTP.
COORDINATOR = textwrap.dedent(
    """
    import os, subprocess, sys, time
    import agentspans
    from opentelemetry.propagate import inject
    agentspans.instrument(exporter="file", file_path=sys.argv[1], service_name="coordinator-svc",
                          resources=False)
    with agentspans.agent_span("coordinator"):
        time.sleep(0.06)
        carrier = {}
        inject(carrier)
        subprocess.run([sys.executable, "-c", sys.argv[3], sys.argv[2]], check=True,
                       env={**os.environ, "TRACEPARENT": carrier["traceparent"]})
        print(carrier["traceparent"].split("-")[1])
    agentspans.uninstrument()
    """
)
RESEARCHER = textwrap.dedent(
    """
    import os, sys, time
    import agentspans
    from opentelemetry import context
    from opentelemetry.propagate import extract
    agentspans.instrument(exporter="file", file_path=sys.argv[1], service_name="research-svc",
                          resources=False)

    @agentspans.tool
    def search(q):
        time.sleep(0.03)
        return q

    @agentspans.agent(name="research")
    def research():
        return [search(q) for q in ("a", "b", "c")]

    token = context.attach(extract({"traceparent": os.environ["TRACEPARENT"]}))
    research()
    context.detach(token)
    agentspans.uninstrument()
    """
)


def agentspans_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentspans.cli", *args],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def distributed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    """A trace spread over two processes: (trace id, coordinator's file, researcher's file)."""
    folder = tmp_path_factory.mktemp("distributed")
    first, second = folder / "coordinator.jsonl", folder / "research.jsonl"
    done = subprocess.run(
        [sys.executable, "-c", COORDINATOR, str(first), str(second), RESEARCHER],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip(), first, second


def test_report_prints_the_text_report_plain_and_exits_0(
    distributed: tuple[str, Path, Path],
) -> None:
    trace_id, first, second = distributed
    done = agentspans_cli("report", str(first), str(second))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "\x1b" not in done.stdout
    assert f"Trace {trace_id}" in done.stdout
    assert "services: coordinator-svc, research-svc" in done.stdout
    # Rows name the service where the trace crosses into another process.
    assert "*  coordinator-svc: invoke_agent coordinator " in done.stdout
    assert "*    research-svc: invoke_agent research " in done.stdout
    assert "*      execute_tool search " in done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) <= 100
    assert "parallelizable_sequence" in done.stdout


def test_report_json_follows_the_contract(distributed: tuple[str, Path, Path]) -> None:
    trace_id, first, second = distributed
    done = agentspans_cli("report", "--format", "json", str(first), str(second))
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert_contract(document)
    (trace,) = document["traces"]
    assert trace["trace_id"] == trace_id
    assert {f["kind"] for f in trace["findings"]} >= {"parallelizable_sequence"}
    # The tools ran in the second process and are on the critical path.
    assert [s["name"] for s in trace["critical_path"]].count("execute_tool search") == 3


def test_report_reads_standard_input(distributed: tuple[str, Path, Path]) -> None:
    trace_id, first, second = distributed
    done = subprocess.run(
        [sys.executable, "-m", "agentspans.cli", "report", "--format", "json", "-"],
        input=first.read_text() + second.read_text(),
        env=ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert [t["trace_id"] for t in json.loads(done.stdout)["traces"]] == [trace_id]


def test_one_file_alone_is_analysed_with_a_problem_for_the_missing_parent(
    distributed: tuple[str, Path, Path],
) -> None:
    _, _, second = distributed  # the researcher's spans: their parent is in the other file
    done = agentspans_cli("report", "--format", "json", str(second))
    assert done.returncode == 0 or done.returncode == 1
    assert len(json.loads(done.stdout)["traces"]) == 1


def test_bad_input_is_one_line_each_and_exit_1_when_something_was_analysed(
    distributed: tuple[str, Path, Path], tmp_path: Path
) -> None:
    _, first, second = distributed
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n")
    done = agentspans_cli(
        "report",
        "--format",
        "json",
        str(first),
        str(broken),
        str(second),
        str(tmp_path / "nope.jsonl"),
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"agentspans: {broken}:1: not JSON (Expecting property name enclosed in double quotes at column 2)",
        f"agentspans: {tmp_path / 'nope.jsonl'}: no such file",
    ]
    assert len(json.loads(done.stdout)["traces"]) == 1


def test_nothing_readable_exits_2_and_json_still_parses(tmp_path: Path) -> None:
    done = agentspans_cli("report", "--format", "json", str(tmp_path / "nope.jsonl"))
    assert done.returncode == 2
    assert json.loads(done.stdout) == {"traces": []}
    assert done.stderr.splitlines() == [
        f"agentspans: {tmp_path / 'nope.jsonl'}: no such file",
        "agentspans: no trace to analyse (no spans were read)",
    ]
    text = agentspans_cli("report", str(tmp_path / "nope.jsonl"))
    assert text.returncode == 2 and text.stdout == ""


def test_a_bad_threshold_names_the_accepted_ones(distributed: tuple[str, Path, Path]) -> None:
    _, first, _ = distributed
    done = agentspans_cli("report", "--threshold", "slow_tool_ms=5", str(first))
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(
        "agentspans report: --threshold: unknown threshold 'slow_tool_ms'; accepted names: "
    )
    assert all(name in line for name in Thresholds.names())
    malformed = agentspans_cli("report", "--threshold", "slow_tool_call_ms", str(first))
    assert malformed.returncode == 2
    assert "expected NAME=VALUE; accepted names: " in malformed.stderr
    bad_value = agentspans_cli("report", "--threshold", "slow_tool_call_ms=fast", str(first))
    assert bad_value.returncode == 2
    assert "slow_tool_call_ms='fast': expected a number" in bad_value.stderr


def test_a_threshold_changes_the_findings(distributed: tuple[str, Path, Path]) -> None:
    _, first, second = distributed
    done = agentspans_cli(
        "report", "--format", "json", "--threshold", "slow_tool_call_ms=1", str(first), str(second)
    )
    assert done.returncode == 0, done.stderr
    kinds = [f["kind"] for f in json.loads(done.stdout)["traces"][0]["findings"]]
    assert kinds.count("slow_tool_call") == 3


def test_usage_errors_exit_2() -> None:
    assert agentspans_cli().returncode == 2
    assert agentspans_cli("report").returncode == 2
    assert agentspans_cli("report", "--format", "xml", "f").returncode == 2
    assert agentspans_cli("analyze", "abc").returncode == 2  # --jaeger is required


def test_demo_delegates_to_the_demo_cli() -> None:
    done = agentspans_cli("demo", "--help")
    assert done.returncode == 0
    assert "usage: agentspans demo" in done.stdout


# -- Jaeger ---------------------------------------------------------------------------------------
def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def http_server() -> Iterator[Callable[[int, bytes], str]]:
    """Start a 127.0.0.1 server answering every GET with (status, body); returns its URL."""
    servers: list[http.server.ThreadingHTTPServer] = []
    requested: list[str] = []

    def start(status: int, body: bytes) -> str:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requested.append(self.path)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    start.requested = requested  # type: ignore[attr-defined]
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _jaeger_body(*files: Path) -> bytes:
    resource_spans = [
        entry
        for path in files
        for line in path.read_text().splitlines()
        for entry in json.loads(line)["resourceSpans"]
    ]
    return json.dumps({"result": {"resourceSpans": resource_spans}}).encode()


def test_analyze_a_distributed_trace_from_jaeger(
    distributed: tuple[str, Path, Path], http_server: Callable[[int, bytes], str]
) -> None:
    trace_id, first, second = distributed
    url = http_server(200, _jaeger_body(first, second))
    done = agentspans_cli("analyze", "--jaeger", url + "/", trace_id, "--format", "json")
    assert done.returncode == 0, done.stderr
    assert http_server.requested == [f"/api/v3/traces/{trace_id}"]  # type: ignore[attr-defined]
    from_jaeger = json.loads(done.stdout)
    assert_contract(from_jaeger)
    from_files = json.loads(
        agentspans_cli("report", "--format", "json", str(first), str(second)).stdout
    )
    assert from_jaeger == from_files
    text = agentspans_cli("analyze", "--jaeger", url, trace_id)
    assert text.returncode == 0 and "services: coordinator-svc, research-svc" in text.stdout


def test_a_jaeger_that_does_not_answer_is_one_line() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    trace_id = "ab" * 16
    done = agentspans_cli("analyze", "--jaeger", url, trace_id, "--timeout", "3")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"agentspans: {url}/api/v3/traces/{trace_id}: connection refused (is Jaeger's query "
        "service running there?)",
        "agentspans: no trace to analyse (no spans were read)",
    ]


@pytest.mark.parametrize(
    ("status", "body", "problem"),
    [
        (
            404,
            b'{"error":{"httpCode":404,"message":"trace not found"}}\n',
            "trace not found (HTTP 404): trace not found",
        ),
        (
            500,
            b"upstream storage exploded",
            "HTTP 500 Internal Server Error: upstream storage exploded",
        ),
        (200, b"<html>this is not Jaeger</html>", "not JSON (Expecting value at column 1)"),
        (200, b'{"hello": "world"}', "not OTLP/JSON (no resourceSpans; top-level keys: hello)"),
        (
            200,
            b'{"result": {"resourceSpans": []}}',
            f"Jaeger returned no spans for trace {'ab' * 16}",
        ),
    ],
)
def test_a_jaeger_answering_badly_is_one_line(
    http_server: Callable[[int, bytes], str], status: int, body: bytes, problem: str
) -> None:
    url = http_server(status, body)
    trace_id = "ab" * 16
    done = agentspans_cli("analyze", "--jaeger", url, trace_id)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[-1] == "agentspans: no trace to analyse (no spans were read)"
    (line,) = lines[:-1]
    assert line in {
        f"agentspans: {url}/api/v3/traces/{trace_id}: {problem}",
        f"agentspans: {url}/api/v3/traces/{trace_id}:1: {problem}",
    }


def test_a_trace_id_that_is_not_hex_is_a_clear_line() -> None:
    done = agentspans_cli("analyze", "--jaeger", "http://127.0.0.1:1", "not-a-trace")
    assert done.returncode == 2
    assert (
        done.stderr.splitlines()[0]
        == "agentspans: trace id 'not-a-trace' is not 1 to 32 hex digits"
    )


def test_roots_and_missing_parents_are_reported_and_still_analysed(tmp_path: Path) -> None:
    trace = "c" * 32

    def span(span_id: str, parent: str | None, start: int, end: int) -> dict[str, object]:
        entry: dict[str, object] = {
            "traceId": trace,
            "spanId": span_id,
            "name": f"span {span_id[-1]}",
            "startTimeUnixNano": str(start),
            "endTimeUnixNano": str(end),
        }
        if parent:
            entry["parentSpanId"] = parent
        return entry

    spans = [
        span("000000000000000a", None, 0, 10_000_000),
        span("000000000000000b", None, 20_000_000, 30_000_000),  # a second root
        span("000000000000000c", "00000000000000ff", 40_000_000, 45_000_000),  # parent missing
    ]
    path = tmp_path / "odd.jsonl"
    path.write_text(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}) + "\n")
    done = agentspans_cli("report", "--format", "json", str(path))
    assert done.returncode == 1
    document = json.loads(done.stdout)
    assert_contract(document)
    assert sorted(t["root_span_id"] for t in document["traces"]) == [
        "000000000000000a",
        "000000000000000b",
        "000000000000000c",
    ]
    lines = done.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"agentspans: trace {trace} has 2 root spans")
    assert "000000000000000c" in lines[1] and "00000000000000ff" in lines[1]


def test_a_jaeger_that_accepts_but_never_answers_times_out() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # connections complete in the backlog; nothing ever answers
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        done = agentspans_cli("analyze", "--jaeger", url, "ab" * 16, "--timeout", "0.5")
    assert done.returncode == 2
    assert done.stderr.splitlines()[0] == (
        f"agentspans: {url}/api/v3/traces/{'ab' * 16}: no answer within 0.5 s"
    )
