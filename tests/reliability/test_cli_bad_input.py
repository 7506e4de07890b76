"""``agentspans report`` / ``analyze`` on bad input: one clear line, a non-zero exit, no traceback;
a large file is streamed in bounded memory."""

from __future__ import annotations

import json
import resource
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"


def _cli(
    *args: str, stdin: bytes | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentspans.cli", *args],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src"), "AGENTSPANS_STRICT": "1"},
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _one_clear_line(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert any(all(word in line for word in expected) for line in lines), result.stderr
    assert len(lines) <= 2, result.stderr  # the problem, and "no trace to analyse"
    return result.stderr


def test_deeply_nested_json(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    _one_clear_line(_cli("report", str(deep)), str(deep), "nested too deeply")
    lines = tmp_path / "deep.jsonl"
    lines.write_text(json.dumps({"resourceSpans": []}) + "\n" + '{"a":' * 100_000 + "\n")
    _one_clear_line(_cli("report", str(lines)), f"{lines}:2", "nested too deeply")


def test_dev_zero_and_binary_input() -> None:
    _one_clear_line(_cli("report", "/dev/zero", timeout=30), "/dev/zero", "binary data")
    _one_clear_line(_cli("report", "-", stdin=b"\x00" * 1000), "<stdin>", "binary data")


@pytest.fixture
def tcp_server() -> Iterator[Callable[[bytes], int]]:
    """A TCP server on 127.0.0.1 that answers every connection with ``reply`` and closes."""
    servers: list[socket.socket] = []

    def start(reply: bytes) -> int:
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        servers.append(server)

        def serve() -> None:
            while True:
                try:
                    connection, _ = server.accept()
                except OSError:
                    return
                with connection:
                    connection.recv(65536)
                    connection.sendall(reply)
                    connection.shutdown(socket.SHUT_WR)

        threading.Thread(target=serve, daemon=True).start()
        return int(server.getsockname()[1])

    yield start
    for server in servers:
        server.close()


def test_analyze_against_a_non_http_service(tcp_server: Callable[[bytes], int]) -> None:
    port = tcp_server(b"SSH-2.0-OpenSSH_9.6\r\n")
    result = _cli("analyze", "--jaeger", f"http://127.0.0.1:{port}", TRACE_ID, "--timeout", "5")
    _one_clear_line(result, "not an HTTP service")


def test_analyze_with_a_cut_short_chunked_body(tcp_server: Callable[[bytes], int]) -> None:
    port = tcp_server(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
        b'400\r\n{"result": {"resourceSpans": ['
    )
    result = _cli("analyze", "--jaeger", f"http://127.0.0.1:{port}", TRACE_ID, "--timeout", "5")
    _one_clear_line(result, "cut short")


def _big_file(path: Path, megabytes: int) -> int:
    """JSON lines of spans with 100 KB attributes, ``megabytes`` in all; returns the span count."""
    blob = "x" * 100_000
    spans = 0
    with path.open("w") as out:
        while out.tell() < megabytes * 1_000_000:
            batch = []
            for _ in range(10):
                spans += 1
                trace, root = (spans - 1) // 50, (spans - 1) // 50 * 50 + 1
                span = {
                    "traceId": f"{trace + 1:032x}",
                    "spanId": f"{spans:016x}",
                    "name": "chat",
                    "startTimeUnixNano": str(1_000_000 * spans),
                    "endTimeUnixNano": str(1_000_000 * spans + 500),
                    "attributes": [{"key": "blob", "value": {"stringValue": blob}}],
                }
                if spans != root:
                    span["parentSpanId"] = f"{root:016x}"
                batch.append(span)
            out.write(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": batch}]}]}) + "\n")
    return spans


# The CLI run in a child that reports its own peak RSS at exit (RUSAGE_CHILDREN would be the
# peak of every child the test session ever waited for).
_OWN_PEAK = (
    "import atexit, resource, sys\n"
    "atexit.register(lambda: print('peak_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
    " file=sys.stderr))\n"
    "from agentspans.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def test_a_large_file_is_streamed_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    _big_file(path, 60)
    size = path.stat().st_size
    result = subprocess.run(
        [sys.executable, "-c", _OWN_PEAK, "report", "--format", "json", str(path)],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src"), "AGENTSPANS_STRICT": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    (peak_line,) = [line for line in result.stderr.splitlines() if line.startswith("peak_kb ")]
    peak_kb = int(peak_line.split()[1])
    # the spans' own strings are kept (about the file's size); the file's text is not, twice over
    assert peak_kb * 1024 < 80_000_000 + 1.6 * size, (
        f"peak {peak_kb / 1024:.0f} MiB for {size >> 20} MiB"
    )
