"""Spans per second from the app through the span processors into the real Collector.

The Collector is the binary ``scripts/build-stack.sh`` builds (the release docker-compose.yml
pins), run on free 127.0.0.1 ports with a pipeline of its own components (OTLP receiver, batch,
span-metrics connector, Prometheus exporter), so nothing else has to run; its own
``otelcol_receiver_accepted_spans`` counter tells when every span has arrived. When the binary is
missing, the script says so and measures into a 127.0.0.1 OTLP/HTTP sink in this script instead,
labelled as such in the output.

Each configuration, in a fresh process, makes the same traces (an agent span over 19 tool spans,
as the demo's agents do) as fast as it can, and is timed until the receiver has accepted them all:

* ``bare-sdk`` — the SDK's BatchSpanProcessor and OTLP exporter, spans from a plain tracer;
* ``agentspans`` — ``instrument(exporter="otlp")``: the same spans from ``agent_span`` /
  ``tool_span`` through the trace processor (enrichment, per-trace analysis) and the same
  exporter.

Both run their Python threads under one GIL, so the seconds to deliver follow the sum of their
threads' CPU; the table gives each thread's share (Linux).

    python benchmarks/export_throughput.py             # 100,000 spans per configuration
    python benchmarks/export_throughput.py --short     # CI: 6,000 spans
    python benchmarks/export_throughput.py --encoding  # the OTLP encoders alone, same spans
    python benchmarks/export_throughput.py --worker-cost  # agentspans' worker alone, per span
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import _harness as h

SCRIPT = Path(__file__).resolve()
CONFIGURATIONS = ("bare-sdk", "agentspans")
SPANS_PER_TRACE = 20
# Where the sending process's CPU went, by thread (start-up and imports are the app's).
CPU_ROLES = ("app", "worker", "export", "other")
_ACCEPTED = re.compile(r"^otelcol_receiver_accepted_spans(?:_total)?\{[^}]*\}\s+(\S+)", re.M)

COLLECTOR_CONFIG = """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
      http: {{endpoint: "127.0.0.1:{http}"}}
processors:
  batch: {{send_batch_size: 1024, timeout: 200ms}}
connectors:
  span_metrics: {{}}
exporters:
  prometheus: {{endpoint: "127.0.0.1:{prometheus}"}}
extensions:
  health_check: {{endpoint: "127.0.0.1:{health}"}}
service:
  extensions: [health_check]
  pipelines:
    traces: {{receivers: [otlp], processors: [batch], exporters: [span_metrics]}}
    metrics: {{receivers: [span_metrics], processors: [batch], exporters: [prometheus]}}
  telemetry:
    logs: {{level: warn}}
    metrics:
      level: normal
      readers:
        - pull:
            exporter:
              prometheus: {{host: "127.0.0.1", port: {telemetry}}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the receiving end ----------------------------------------------------------------------------
class Collector:
    """The real Collector binary on free ports."""

    def __init__(self, binary: Path, workdir: Path) -> None:
        self.ports = {n: free_port() for n in ("grpc", "http", "prometheus", "health", "telemetry")}
        config = workdir / "collector.yaml"
        config.write_text(COLLECTOR_CONFIG.format(**self.ports))
        self.log = workdir / "collector.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [str(binary), "--config", str(config)], stdout=log, stderr=subprocess.STDOUT
            )
        self._wait_ready()
        self.label = f"the real Collector ({binary.parent.name}, OTLP/gRPC)"
        self.protocol = "grpc"
        self.endpoint = f"http://127.0.0.1:{self.ports['grpc']}"

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Collector exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.ports['health']}/", timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("Collector did not become healthy in 60 s")

    def accepted(self) -> int:
        url = f"http://127.0.0.1:{self.ports['telemetry']}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        return int(sum(float(value) for value in _ACCEPTED.findall(text)))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Sink:
    """Fallback when the Collector binary is missing: an OTLP/HTTP endpoint that decodes each
    request and counts its spans."""

    def __init__(self) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
            ExportTraceServiceResponse,
        )

        sink = self
        self.count = 0
        lock = threading.Lock()
        reply = ExportTraceServiceResponse().SerializeToString()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = ExportTraceServiceRequest.FromString(body)
                spans = sum(
                    len(scope.spans) for rs in request.resource_spans for scope in rs.scope_spans
                )
                with lock:
                    sink.count += spans
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        port = self.server.server_address[1]
        self.label = "a 127.0.0.1 OTLP/HTTP sink in this script (NOT the Collector)"
        self.protocol = "http/protobuf"
        self.endpoint = f"http://127.0.0.1:{port}/v1/traces"

    def accepted(self) -> int:
        return self.count

    def stop(self) -> None:
        self.server.shutdown()


# -- the sending end (one configuration per process) ----------------------------------------------
def worker(name: str, spans: int, protocol: str, endpoint: str) -> dict[str, Any]:
    # Room for the whole burst in both configurations: the figure is throughput, not drops.
    os.environ["OTEL_BSP_MAX_QUEUE_SIZE"] = str(spans + 1024)
    os.environ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] = protocol
    os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = endpoint
    traces = max(spans // SPANS_PER_TRACE, 1)
    started = time.perf_counter()
    if name == "bare-sdk":
        provider = _bare_provider(protocol, endpoint)
        tracer = provider.get_tracer("bench")
        for _ in range(traces):
            with tracer.start_as_current_span(
                "invoke_agent research",
                attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "r"},
            ):
                for _ in range(SPANS_PER_TRACE - 1):
                    with tracer.start_as_current_span(
                        "execute_tool search_web",
                        attributes={
                            "gen_ai.operation.name": "execute_tool",
                            "gen_ai.tool.name": "search_web",
                            "gen_ai.agent.name": "r",
                        },
                    ):
                        pass
        flush = provider.force_flush
    else:
        import agentspans

        instrumentation = agentspans.instrument(
            exporter="otlp", libraries="none", service_name="bench", metrics=False
        )
        for _ in range(traces):
            with agentspans.agent_span("research"):
                for _ in range(SPANS_PER_TRACE - 1):
                    with agentspans.tool_span("search_web"):
                        pass
        flush = instrumentation.force_flush
    produced_s = time.perf_counter() - started
    flush(120_000)
    flushed_s = time.perf_counter() - started
    return {
        "config": name,
        "spans": traces * SPANS_PER_TRACE,
        "produce_s": produced_s,
        "flushed_s": flushed_s,
        "peak_rss_mib": h.peak_rss_mib(),
        "thread_cpu_s": thread_cpu_s(),
    }


def thread_cpu_s() -> dict[str, float]:
    """CPU seconds each thread of this process used so far, by role (Linux: /proc; elsewhere
    empty): the app's thread, agentspans' worker, the batch processor's export thread, and
    the rest (gRPC's, the resource sampler)."""
    roles = {
        "MainThread": "app",
        "agentspans-analysis": "worker",
        "OtelBatchSpanRecordProcessor": "export",
    }
    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    found: dict[str, float] = {}
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a thread that ended meanwhile
        role = roles.get(names.get(int(task), ""), "other")
        found[role] = found.get(role, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return found


def _bare_provider(protocol: str, endpoint: str) -> Any:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[assignment]
            OTLPSpanExporter,
        )
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


# -- the encoders alone --------------------------------------------------------------------------
def encoding_comparison(traces: int = 26) -> str:
    """The SDK's OTLP encoder against agentspans' on the same exported spans (those this
    benchmark's traces become), each as the gRPC exporter uses it: request built and
    serialised (ours: bytes, parsed back into the request the SDK's stub sends). CPU per span
    of this thread, best of 9, the two alternating; the bytes are checked equal first."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    sys.path.insert(0, str(h.REPO / "src"))  # this checkout's agentspans, as the workers use
    import agentspans
    from agentspans.exporters.otlp_proto import encode_request

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    agentspans.instrument(tracer_provider=provider, exporter="none", libraries="none")
    for _ in range(traces):
        with agentspans.agent_span("research"):
            for _ in range(SPANS_PER_TRACE - 1):
                with agentspans.tool_span("search_web"):
                    pass
    provider.force_flush()
    agentspans.uninstrument()
    spans = list(memory.get_finished_spans())[:512]
    if encode_request(spans) != encode_spans(spans).SerializeToString():
        raise AssertionError("agentspans' OTLP bytes differ from the SDK's")

    def sdk() -> bytes:
        result: bytes = encode_spans(spans).SerializeToString()
        return result

    def ours() -> bytes:
        result: bytes = ExportTraceServiceRequest.FromString(
            encode_request(spans)
        ).SerializeToString()
        return result

    best = {"SDK encode_spans": float("inf"), "agentspans encode_request": float("inf")}
    for _ in range(9):
        for name, encode in zip(best, (sdk, ours), strict=True):
            started = time.thread_time()
            encode()
            best[name] = min(best[name], time.thread_time() - started)
    rows = [[name, f"{seconds / len(spans) * 1e6:.2f}"] for name, seconds in best.items()]
    ratio = best["SDK encode_spans"] / best["agentspans encode_request"]
    return "\n".join(
        [
            f"OTLP/protobuf encoding of {len(spans)} exported spans ({SPANS_PER_TRACE} a trace), "
            "bytes equal",
            f"machine: {h.machine()}",
            "",
            h.table(["encoder", "CPU us a span"], rows),
            "",
            f"agentspans' encoder is {ratio:.1f}x faster on these spans.",
        ]
    )


# -- the worker alone ----------------------------------------------------------------------------
WORKER_COST_SETUPS = {
    "defaults": {},
    "no-op annotator": {},
    "lean (analysis, resources, metrics off)": {
        "analysis": False,
        "resources": False,
        "metrics": False,
    },
}


def worker_cost(name: str, traces: int = 300) -> dict[str, Any]:
    """agentspans' worker per span for this benchmark's traces, in a fresh process: the spans
    are made with the worker parked (its tick and wake-up pushed out of reach), then its pass
    (``_process``: enrichment, analysis, rebuild, hand-off to a batch processor whose exporter
    does nothing) is timed by ``time.thread_time`` on this thread, best of 5. "no-op annotator"
    replaces the analysis with one that adds nothing: the rest is the worker's own cost."""
    os.environ["OTEL_BSP_SCHEDULE_DELAY"] = str(10**9)  # the export thread stays asleep
    os.environ["OTEL_BSP_MAX_EXPORT_BATCH_SIZE"] = str(10**7)
    os.environ["OTEL_BSP_MAX_QUEUE_SIZE"] = str(10**7)
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    import agentspans
    from agentspans.processors import pipeline

    pipeline._TICK_S = 1e9  # type: ignore[attr-defined]
    pipeline._WAKE_AT_QUEUED = 10**12  # type: ignore[attr-defined]

    class Nothing(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    batch = BatchSpanProcessor(Nothing())
    provider.add_span_processor(batch)
    options: dict[str, Any] = WORKER_COST_SETUPS[name]
    instrumentation = agentspans.instrument(
        tracer_provider=provider, exporter="none", libraries="none", **options
    )
    processor = instrumentation.processor
    assert processor is not None
    if name == "no-op annotator":
        processor._annotator = lambda spans, root_id: {}

    def make(count: int) -> None:
        for _ in range(count):
            with agentspans.agent_span("research"):
                for _ in range(SPANS_PER_TRACE - 1):
                    with agentspans.tool_span("search_web"):
                        pass

    make(50)
    processor._process()
    queue = batch._batch_processor._queue
    queue.clear()
    best = float("inf")
    for _ in range(5):
        make(traces)
        spans = len(processor._queue)
        started = time.thread_time()
        processor._process()
        best = min(best, (time.thread_time() - started) / spans)
        queue.clear()
    return {"config": name, "us_per_span": best * 1e6}


def worker_cost_report() -> str:
    rows = []
    for name in WORKER_COST_SETUPS:
        result = h.run_worker(SCRIPT, h.Configuration(name), ["--worker-cost"], timeout_s=300)
        cost = f"{result['us_per_span']:.2f}" if "error" not in result else result["error"]
        rows.append([name, cost])
    return "\n".join(
        [
            f"agentspans' worker, CPU per span, traces of {SPANS_PER_TRACE} spans "
            "(an agent over tool spans), best of 5",
            f"machine: {h.machine()}",
            "",
            h.table(["configuration", "worker CPU us a span"], rows),
        ]
    )


# -- the parent -----------------------------------------------------------------------------------
def collector_binary() -> Path | None:
    script = h.REPO / "scripts" / "build-stack.sh"
    if not script.exists():
        return None
    done = subprocess.run(
        ["bash", str(script), "--paths"], capture_output=True, text=True, check=False
    )
    for line in done.stdout.splitlines():
        key, _, value = line.partition("=")
        if key == "AGENTSPANS_OTELCOL" and Path(value).is_file():
            return Path(value)
    return None


def measure(receiver: Any, spans: int) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for name in CONFIGURATIONS:
        print(f"  running {name} …", file=sys.stderr, flush=True)
        before = receiver.accepted()
        started = time.perf_counter()
        result = h.run_worker(
            SCRIPT,
            h.Configuration(name),
            [
                "--spans",
                str(spans),
                "--protocol",
                receiver.protocol,
                "--endpoint",
                receiver.endpoint,
            ],
            timeout_s=600,
        )
        if "error" not in result:
            deadline = time.monotonic() + 60
            while receiver.accepted() - before < result["spans"] and time.monotonic() < deadline:
                time.sleep(0.1)
            result["received"] = receiver.accepted() - before
            result["process_s"] = time.perf_counter() - started
        results[name] = result
    return results


def report(results: dict[str, dict[str, Any]], label: str, args: argparse.Namespace) -> str:
    rows = []
    for name in CONFIGURATIONS:
        r = results[name]
        if "error" in r:
            rows.append([name, "not measured: " + r["error"], "", "", "", "", ""])
            continue
        cpu = r.get("thread_cpu_s") or {}
        rows.append(
            [
                name,
                f"{r['received']:,} / {r['spans']:,}",
                f"{r['spans'] / r['produce_s']:,.0f}",
                f"{r['received'] / r['flushed_s']:,.0f}",
                f"{r['flushed_s']:.2f}",
                " / ".join(f"{cpu.get(role, 0.0):.2f}" for role in CPU_ROLES) if cpu else "n/a",
                f"{r['peak_rss_mib']:.1f}",
            ]
        )
    headers = [
        "configuration",
        "spans received / sent",
        "spans/s made (app thread)",
        "spans/s delivered (end to end)",
        "seconds to deliver all",
        "CPU s: " + " / ".join(CPU_ROLES),
        "peak RSS MiB",
    ]
    lines = [
        f"export throughput into {label}",
        f"machine: {h.machine()}",
        f"command: python benchmarks/export_throughput.py {' '.join(sys.argv[1:])}".rstrip(),
        "",
        h.table(headers, rows),
    ]
    bare, ours = results.get("bare-sdk", {}), results.get("agentspans", {})
    if "received" in bare and "received" in ours:
        ratio = (ours["received"] / ours["flushed_s"]) / (bare["received"] / bare["flushed_s"])
        lines += ["", f"agentspans delivers {ratio:.2f}x the bare SDK pipeline's spans per second."]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="CI mode: 6,000 spans")
    parser.add_argument("--spans", type=int)
    parser.add_argument(
        "--sink", action="store_true", help="measure into the local OTLP sink, not the Collector"
    )
    parser.add_argument(
        "--encoding", action="store_true", help="compare the OTLP encoders alone, no Collector"
    )
    parser.add_argument(
        "--worker-cost", action="store_true", help="time agentspans' worker alone, per span"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--protocol", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.spans = args.spans or (6_000 if args.short else 100_000)
    if args.worker and args.worker_cost:
        h.emit(worker_cost(args.worker))
        return 0
    if args.worker:
        h.emit(worker(args.worker, args.spans, args.protocol, args.endpoint))
        return 0
    if args.worker_cost:
        print(worker_cost_report())
        return 0
    if args.encoding:
        print(encoding_comparison())
        return 0

    binary = None if args.sink else collector_binary()
    with tempfile.TemporaryDirectory() as workdir:
        if binary is None and not args.sink:
            print(
                "export_throughput: the Collector binary is missing (build it with "
                "scripts/build-stack.sh); measuring into a local OTLP sink instead",
                file=sys.stderr,
            )
        if binary is None:
            receiver: Any = Sink()
        else:
            receiver = Collector(binary, Path(workdir))
        try:
            results = measure(receiver, args.spans)
        finally:
            receiver.stop()
    print(report(results, receiver.label, args))
    failed = any("error" in r or r["received"] < r["spans"] for r in results.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
