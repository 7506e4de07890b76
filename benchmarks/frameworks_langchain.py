"""Overhead per LangGraph step: uninstrumented, a bare OpenTelemetry callback, agentspans.

A compiled graph of ``--nodes`` plain-Python nodes in a line (no LLM, no I/O, so only the
framework and the tracing are measured) is invoked ``--runs`` times in each configuration, the
configurations interleaved round by round in one process:

* ``uninstrumented``: LangGraph alone;
* ``bare OTel``: a minimal callback handler passed in ``config`` that starts and ends one SDK span
  per run (no context, no attributes): the floor any callback-based tracer pays;
* ``agentspans``: ``instrument(exporter="none")``, the configure-hook handler, workflow and
  agent spans through the trace processor.

It prints microseconds per graph step (per node run) and the ratios. No peer is measured here:
OpenInference's LangChain instrumentor needs its own venv (benchmarks/setup_peer_venvs.sh does
not build one yet).

    python benchmarks/frameworks_langchain.py            # 200 runs x 10 nodes, 3 rounds
    python benchmarks/frameworks_langchain.py --short    # CI: 20 runs, 1 round
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from typing import Any

from typing_extensions import TypedDict


class State(TypedDict):
    count: int


def build_graph(nodes: int) -> Any:
    from langgraph.graph import END, START, StateGraph

    def step(state: State) -> dict[str, int]:
        return {"count": state["count"] + 1}

    graph = StateGraph(State)
    names = [f"n{i}" for i in range(nodes)]
    for name in names:
        graph.add_node(name, step)
    graph.add_edge(START, names[0])
    for before, after in itertools.pairwise(names):
        graph.add_edge(before, after)
    graph.add_edge(names[-1], END)
    return graph.compile()


def bare_otel_handler() -> tuple[Any, Any]:
    from langchain_core.callbacks import BaseCallbackHandler
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("bare")
    spans: dict[Any, Any] = {}

    class Bare(BaseCallbackHandler):  # type: ignore[misc]
        run_inline = True

        def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: Any, **kw: Any) -> None:
            spans[run_id] = tracer.start_span(str(kw.get("name")))

        def on_chain_end(self, outputs: Any, *, run_id: Any, **kw: Any) -> None:
            span = spans.pop(run_id, None)
            if span is not None:
                span.end()

    return Bare(), exporter


def time_runs(graph: Any, runs: int, config: dict[str, Any] | None) -> float:
    started = time.perf_counter_ns()
    for _ in range(runs):
        graph.invoke({"count": 0}, config=config)
    return (time.perf_counter_ns() - started) / runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--short", action="store_true")
    args = parser.parse_args()
    if args.short:
        args.runs, args.rounds = 20, 1
    try:
        graph = build_graph(args.nodes)
    except ImportError as exc:
        print(f"langgraph is not installed ({exc}); nothing to measure")
        return 0

    import agentspans

    bare, bare_exporter = bare_otel_handler()
    results: dict[str, list[float]] = {"uninstrumented": [], "bare OTel": [], "agentspans": []}
    time_runs(graph, 5, None)  # warm-up: imports, compiled paths
    for _ in range(args.rounds):
        results["uninstrumented"].append(time_runs(graph, args.runs, None))
        results["bare OTel"].append(time_runs(graph, args.runs, {"callbacks": [bare]}))
        bare_exporter.clear()
        agentspans.instrument(exporter="none", resources=False, metrics=False)
        try:
            time_runs(graph, 5, None)
            results["agentspans"].append(time_runs(graph, args.runs, None))
        finally:
            agentspans.uninstrument()

    steps = args.nodes
    base = statistics.median(results["uninstrumented"]) / steps
    floor = statistics.median(results["bare OTel"]) / steps
    print(
        f"LangGraph, {args.nodes} nodes in a line, {args.runs} runs x {args.rounds} rounds, "
        f"python {sys.version.split()[0]}"
    )
    print(f"{'configuration':<16}{'us/step':>10}{'added us/step':>16}{'x uninstr.':>12}")
    for name, values in results.items():
        per_step = statistics.median(values) / steps
        print(
            f"{name:<16}{per_step / 1e3:>10.1f}{(per_step - base) / 1e3:>16.1f}"
            f"{per_step / base:>12.2f}"
        )
    ours = statistics.median(results["agentspans"]) / steps
    print(f"agentspans added / bare OTel added: {(ours - base) / max(floor - base, 1.0):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
