"""A whole demo-sized workflow with and without agentspans.

The demo's multi-agent app (coordinator, research, data and writer agents: 21 spans, 7 LLM
requests through the real openai client over HTTP to the local simulator, a thread pool, an event
loop, a stream) runs ``--runs`` times in each configuration, each configuration in a fresh
process. Latencies are divided by ``--speed`` so that the instrumentation's cost is not lost in
the simulated waiting; the simulator runs in the same process, so its CPU counts alike in every
configuration.

    python benchmarks/workflow.py           # 60 workflows per configuration, 3 rounds
    python benchmarks/workflow.py --short   # CI: 8 workflows, 1 round
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import _harness as h

SCRIPT = Path(__file__).resolve()
CONFIGURATIONS = ("uninstrumented", "agentspans", "agentspans+file")
# The demo's real timings (seconds) at speed 1, to put the overhead in proportion.
DEMO_DELIBERATION_S = 0.6


def worker(name: str, runs: int, speed: float, scratch: Path) -> dict[str, Any]:
    from agentspans.demo import tools
    from agentspans.demo.simulator import LLMSimulator

    tools.reseed(7)
    tools.set_speed(speed)
    exporter = h.counting_exporter()
    provider = None
    if name != "uninstrumented":
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        import agentspans
        from agentspans.demo.cli import INSTRUMENT_OPTIONS

        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(exporter))
        agentspans.instrument(
            tracer_provider=provider,
            exporter="file" if name == "agentspans+file" else "none",
            file_path=scratch / f"workflow-{time.monotonic_ns()}.jsonl",
            **INSTRUMENT_OPTIONS,
        )
    from agentspans.demo.app import Coordinator

    with LLMSimulator(seed=7, speed=speed) as simulator:
        coordinator = Coordinator(
            simulator.base_url, "bench-key", deliberation_s=DEMO_DELIBERATION_S / speed
        )
        coordinator.run("warm-up")
        walls = []
        cpu_started = time.process_time_ns()
        for _ in range(runs):
            started = time.perf_counter_ns()
            coordinator.run("How is Acme Robotics doing?")
            walls.append(time.perf_counter_ns() - started)
        if provider is not None:
            provider.force_flush()
        cpu_ns = time.process_time_ns() - cpu_started
        coordinator.close()
    return {
        "config": name,
        "wall_ms": statistics.median(walls) / 1e6,
        "cpu_ms": cpu_ns / runs / 1e6,
        "spans_per_workflow": exporter.count / (runs + 1),
        "peak_rss_mib": h.peak_rss_mib(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="CI mode")
    parser.add_argument("--runs", type=int)
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--speed", type=float, default=50.0, help="latency divisor (default 50)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--scratch", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.runs = args.runs or (8 if args.short else 60)
    args.rounds = args.rounds or (1 if args.short else 3)
    if args.worker:
        h.emit(worker(args.worker, args.runs, args.speed, Path(args.scratch)))
        return 0

    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        found: dict[str, list[dict[str, Any]]] = {name: [] for name in CONFIGURATIONS}
        worker_args = ["--runs", str(args.runs), "--speed", str(args.speed), "--scratch", scratch]
        for _ in range(args.rounds):
            for name in CONFIGURATIONS:
                print(f"  running {name} …", file=sys.stderr, flush=True)
                found[name].append(
                    h.run_worker(SCRIPT, h.Configuration(name), worker_args, timeout_s=600)
                )
    results = {}
    for name, rounds in found.items():
        good = [r for r in rounds if "error" not in r]
        if not good:
            results[name] = rounds[0]
            continue
        results[name] = {
            key: statistics.median(r[key] for r in good)
            for key in ("wall_ms", "cpu_ms", "spans_per_workflow", "peak_rss_mib")
        }
    print(report(results, args))
    return 1 if any("error" in r for r in results.values()) else 0


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    base = results.get("uninstrumented", {})
    rows = []
    for name in CONFIGURATIONS:
        result = results[name]
        if "error" in result:
            rows.append([name, "not measured: " + result["error"], "", "", "", "", ""])
            continue
        extra_cpu = result["cpu_ms"] - base["cpu_ms"] if "cpu_ms" in base else None
        extra_wall = result["wall_ms"] - base["wall_ms"] if "wall_ms" in base else None
        rows.append(
            [
                name,
                f"{result['wall_ms']:.1f}",
                "—" if extra_wall is None or name == "uninstrumented" else f"{extra_wall:+.1f}",
                f"{result['cpu_ms']:.2f}",
                "—" if extra_cpu is None or name == "uninstrumented" else f"{extra_cpu:+.2f}",
                f"{result['spans_per_workflow']:.1f}",
                f"{result['peak_rss_mib']:.1f}",
            ]
        )
    headers = [
        "configuration",
        "wall ms/workflow (median)",
        "wall overhead ms",
        "CPU ms/workflow",
        "CPU overhead ms",
        "spans/workflow",
        "peak RSS MiB",
    ]
    ours = results.get("agentspans", {})
    lines = [
        f"demo-sized workflow: {args.rounds} round(s) x {args.runs} workflows per configuration, "
        f"latencies / {args.speed:g}, each configuration in a fresh process",
        f"machine: {h.machine()}",
        f"command: python benchmarks/workflow.py {' '.join(sys.argv[1:])}".rstrip(),
        "",
        h.table(headers, rows),
    ]
    if "cpu_ms" in ours and "cpu_ms" in base:
        extra = ours["cpu_ms"] - base["cpu_ms"]
        spans = ours["spans_per_workflow"]
        lines += [
            "",
            f"agentspans costs {extra:.2f} ms of CPU per {spans:.0f}-span workflow "
            f"({1000 * extra / max(spans, 1):.0f} µs a span, analysis and export included); the "
            f"same workflow at the demo's real latencies takes about 6 s, so that is "
            f"{100 * extra / 6000:.3f}% of it.",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
