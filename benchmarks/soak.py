"""The soak: an instrumented app exporting through every backend fault, beside the same app
uninstrumented, both in this one run.

The backend is the real Collector (``scripts/build-stack.sh`` builds it) behind a proxy that
plays the faults on the port the app exports to, in this order: absent at start (connection
refused), healthy, SIGKILLed (the proxy's upstream is gone) and restarted, black-holed (accepts,
never answers), slow (each chunk 300 ms late), healthy again. Both OTLP protocols run side by
side. Printed: the app's workflow latency p50/p99 against the uninstrumented app, exceptions the
app saw, workflows delivered after recovery, peak RSS and exit time.

    python benchmarks/soak.py            # 4 fault cycles per protocol, about 2 minutes
    python benchmarks/soak.py --short    # one shorter cycle, OTLP/gRPC, under 20 s (run_short.sh)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._faults import (
    Collector,
    FaultProxy,
    attribute,
    collector_binary,
    environment,
)

PROTOCOLS = ("grpc", "http/protobuf")
# (mode, seconds) of one fault cycle; the app starts with the backend absent.
CYCLE = (("absent", 1.5), ("pass", 2.0), ("killed", 1.5), ("blackhole", 1.5), ("slow", 1.5))
# After the last fault, the backend stays healthy this long: the GuardedExporter's drop window
# (5 s after a failure) plus the export timeout, then some delivered workflows.
RECOVERY_S = 9.0
# Workflows that end this long after recovery began must all be delivered.
DELIVERED_AFTER_S = 7.5
EXPORT_TIMEOUT_S = 1.0


# -- the app -------------------------------------------------------------------------------------
def _app(seconds: float, instrumented: bool, protocol: str, endpoint: str) -> None:
    """Run workflows for ``seconds``; print one JSON line of figures, then exit normally."""
    if instrumented:
        import agentspans

        agentspans.instrument(
            exporter="otlp",
            otlp_protocol=protocol,
            otlp_endpoint=endpoint,
            export_timeout_s=EXPORT_TIMEOUT_S,
            metrics=False,
            service_name="soak",
        )
        tool = agentspans.tool(_tool_body)
        workflow_span: Any = agentspans.workflow_span
        agent_span: Any = agentspans.agent_span
    else:
        import contextlib

        tool = _tool_body

        def workflow_span(name: str, attributes: Any = None) -> Any:
            return contextlib.nullcontext()

        agent_span = workflow_span
    import resource

    print("ready", flush=True)  # the parent starts the fault schedule now
    latencies: list[float] = []
    offsets: list[float] = []  # when each workflow began, seconds after the start
    exceptions = 0
    started = time.monotonic()
    index = 0
    while time.monotonic() - started < seconds:
        index += 1
        begin = time.perf_counter()
        offsets.append(time.monotonic() - started)
        try:
            with workflow_span("soak", {"soak.index": index}), agent_span("worker"):
                for step in range(3):
                    tool(step)
        except Exception:
            exceptions += 1
        latencies.append(time.perf_counter() - begin)
        time.sleep(0.01)
    figures = {
        "workflows": index,
        "latencies": latencies,
        "offsets": offsets,
        "exceptions": exceptions,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "ends": [started, time.monotonic()],
        "done_at": time.time(),
    }
    print(json.dumps(figures), flush=True)


def _tool_body(step: int) -> int:
    return sum(i * i for i in range(2_000 + step))


# -- the scenario --------------------------------------------------------------------------------
@dataclass
class Run:
    protocol: str
    instrumented: dict[str, Any] = field(default_factory=dict)
    bare: dict[str, Any] = field(default_factory=dict)
    exit_s: float = 0.0
    delivered: set[int] = field(default_factory=set)
    recovery_at: float = 0.0  # seconds after the app started
    problems: list[str] = field(default_factory=list)

    def must_deliver(self) -> list[int]:
        """Indices of workflows that started after recovery + DELIVERED_AFTER_S."""
        first = self.recovery_at + DELIVERED_AFTER_S
        offsets = self.instrumented["offsets"]
        return [index for index, offset in enumerate(offsets, start=1) if offset >= first]


def _start_app(instrumented: bool, protocol: str, endpoint: str, seconds: float) -> Any:
    return subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--app",
            "--seconds",
            str(seconds),
            "--protocol",
            protocol,
            "--endpoint",
            endpoint,
            *([] if instrumented else ["--bare"]),
        ],
        # exports every 200 ms (the SDK's default is 5 s), so every fault phase meets exports
        env=environment(AGENTSPANS_RESOURCES="false", OTEL_BSP_SCHEDULE_DELAY="200"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: Any, timeout_s: float) -> tuple[dict[str, Any], float, str]:
    out, err = process.communicate(timeout=timeout_s)
    ended = time.time()
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if process.returncode != 0 or not lines:
        raise RuntimeError(f"the app failed ({process.returncode}): {err[-3000:]}")
    figures = json.loads(lines[-1])
    return figures, ended - figures["done_at"], err


def run_protocol(
    binary: Path, workdir: Path, protocol: str, cycles: int, scale: float = 1.0
) -> Run:
    """One instrumented app through ``cycles`` fault cycles (each phase ``scale`` times its
    length in :data:`CYCLE`), and one bare app beside it."""
    workdir.mkdir(parents=True, exist_ok=True)
    collector = Collector(binary, workdir).start(wait=False)
    upstream = collector.ports["grpc" if protocol == "grpc" else "http"]
    proxy = FaultProxy(upstream)
    endpoint = (
        f"http://127.0.0.1:{proxy.port}"
        if protocol == "grpc"
        else f"http://127.0.0.1:{proxy.port}/v1/traces"
    )
    fault_s = cycles * scale * sum(seconds for _, seconds in CYCLE)
    total_s = fault_s + RECOVERY_S
    run = Run(protocol, recovery_at=fault_s)
    collector.wait_ready()  # a cold start of the binary can take seconds: before the clock
    app = _start_app(True, protocol, endpoint, total_s)
    bare = _start_app(False, protocol, endpoint, total_s)
    try:
        for process in (app, bare):
            assert process.stdout is not None
            if process.stdout.readline().strip() != "ready":
                raise RuntimeError(f"the app did not start: {process.communicate()[1][-3000:]}")
        for _ in range(cycles):
            for mode, unscaled in CYCLE:
                seconds = unscaled * scale
                if mode == "killed":
                    proxy.set("pass")
                    collector.kill()
                    threading.Timer(seconds * 0.5, collector.start, kwargs={"wait": False}).start()
                else:
                    proxy.set(mode)
                time.sleep(seconds)
        proxy.set("pass")
        recovered = time.monotonic()
        collector.wait_ready()
        run.instrumented, run.exit_s, err = _finish(app, total_s + 60)
        run.recovery_at = recovered - run.instrumented["ends"][0]  # one clock: CLOCK_MONOTONIC
        run.bare, _, _ = _finish(bare, total_s + 60)
        if "Traceback" in err:
            run.problems.append(f"the app logged a traceback: {err[-2000:]}")
        time.sleep(0.5)  # the Collector's file exporter flushes every 100 ms
        for span in collector.spans():
            if span.get("name") == "invoke_workflow soak":
                index = attribute(span, "soak.index")
                if index is not None:
                    run.delivered.add(int(index))
        missing = [index for index in run.must_deliver() if index not in run.delivered]
        if missing:
            run.problems.append(
                f"{protocol}: {len(missing)} workflows after recovery not delivered; the app "
                f"said: {err[-1500:]!r}; delivered: {len(run.delivered)} of "
                f"{run.instrumented['workflows']}, last {max(run.delivered, default=None)}"
            )
    finally:
        for process in (app, bare):
            if process.poll() is None:
                process.kill()
        proxy.close()
        collector.stop()
    return run


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(runs: list[Run]) -> str:
    rows = [
        "| protocol | app p50 / p99 (ms) | uninstrumented p50 / p99 (ms) | exceptions seen by "
        "the app | workflows delivered after recovery | peak RSS (MB) | exit time (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        ours, bare = run.instrumented["latencies"], run.bare["latencies"]
        wanted = run.must_deliver()
        got = sum(1 for index in wanted if index in run.delivered)
        rows.append(
            f"| {run.protocol} | {statistics.median(ours) * 1e3:.2f} / "
            f"{_percentile(ours, 0.99) * 1e3:.2f} | {statistics.median(bare) * 1e3:.2f} / "
            f"{_percentile(bare, 0.99) * 1e3:.2f} | {run.instrumented['exceptions']} | "
            f"{got} of {len(wanted)} | {run.instrumented['peak_rss'] / 1e6:.0f} | "
            f"{run.exit_s:.2f} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--short", action="store_true", help="one fault cycle, under 20 s")
    parser.add_argument("--cycles", type=int, default=None)
    parser.add_argument("--app", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=10.0, help=argparse.SUPPRESS)
    parser.add_argument("--protocol", default="grpc", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.app:
        _app(args.seconds, not args.bare, args.protocol, args.endpoint)
        return 0
    binary, why = collector_binary()
    if binary is None:
        print(f"soak: skipped: {why}")
        return 0
    cycles = args.cycles or (1 if args.short else 4)
    # One protocol at a time: two fault proxies in one process starve each other on 2 cores.
    # --short runs OTLP/gRPC only, to stay under 20 s; tests/reliability runs both.
    protocols = ("grpc",) if args.short else PROTOCOLS
    scale = 0.75 if args.short else 1.0
    results: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="agentspans-soak-") as tmp:
        for protocol in protocols:
            name = protocol.replace("/", "-")
            results.append(run_protocol(binary, Path(tmp) / name, protocol, cycles, scale))
    fault_s = cycles * scale * sum(seconds for _, seconds in CYCLE)
    print(
        f"soak: {cycles} fault cycle(s) of {', '.join(m for m, _ in CYCLE)} "
        f"({fault_s:.1f} s), then {RECOVERY_S:.0f} s healthy; "
        f"'delivered after recovery' counts workflows started {DELIVERED_AFTER_S:g} s or more "
        "after it (the exporter drops for 5 s after a failure)"
    )
    print(report(sorted(results, key=lambda run: run.protocol)))
    failed = [problem for run in results for problem in run.problems]
    for problem in failed:
        print("problem:", problem)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
