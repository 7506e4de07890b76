"""Overhead per framework step: the OpenAI Agents SDK's tracing and MCP ``call_tool``.

One *agent step* is what the SDK's runner does around one model call and one tool call: a trace
with an agent span, a response span and a function span, each started and finished through the
SDK's own tracing API (``agents.trace``, ``agent_span``, ``response_span``, ``function_span``).
No model is called, so only the tracing work is timed. One *MCP step* is
``ClientSession.call_tool`` on a session whose JSON-RPC round trip answers at once, outside any
span: each call is a trace of its own, so agentspans' column includes analysing a one-span trace
per call (inside an agent span that cost is paid once per trace).

Configurations, each in a fresh process:

* ``uninstrumented``: the SDK with no trace processor, mcp unpatched;
* ``bare OTel``: a minimal ``TracingProcessor`` that starts and ends one OpenTelemetry span per
  SDK span (no context switching, no attributes), the floor for mirroring the SDK into OTel;
* ``agentspans``: ``instrument(exporter="none")`` (the spans go through the trace processor,
  enrichment and analysis, to an in-memory counting exporter);
* ``openinference``: OpenInference's ``OpenAIAgentsInstrumentor`` (the Agents SDK only; its MCP
  column is the uninstrumented call), in the venv ``bash benchmarks/setup_peer_venvs.sh
  openinference-openai-agents`` builds; reported as not measured when that venv is absent.

    python benchmarks/frameworks.py           # 3000 steps per configuration, 3 rounds
    python benchmarks/frameworks.py --short   # CI: 200 steps, 1 round
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import _harness as h

SCRIPT = Path(__file__).resolve()
CONFIGURATIONS = (
    h.Configuration("uninstrumented"),
    h.Configuration("bare OTel"),
    h.Configuration("agentspans"),
    h.Configuration("openinference", venv="openinference-openai-agents"),
)
NAMES = tuple(c.name for c in CONFIGURATIONS)


def _bare_otel_processor(tracer: Any) -> Any:
    from agents.tracing import TracingProcessor

    class BareOtel(TracingProcessor):
        def __init__(self) -> None:
            self.open: dict[str, Any] = {}

        def on_trace_start(self, trace: Any) -> None:
            self.open[trace.trace_id] = tracer.start_span(trace.name)

        def on_trace_end(self, trace: Any) -> None:
            self.open.pop(trace.trace_id).end()

        def on_span_start(self, span: Any) -> None:
            self.open[span.span_id] = tracer.start_span(span.span_data.type)

        def on_span_end(self, span: Any) -> None:
            self.open.pop(span.span_id).end()

        def shutdown(self) -> None:
            pass

        def force_flush(self) -> None:
            pass

    return BareOtel()


def _agent_step() -> None:
    from agents import trace
    from agents.tracing import agent_span, function_span, response_span

    with trace("bench workflow"), agent_span("Researcher"):
        with response_span():
            pass
        with function_span("search", input='{"q": "robots"}', output="3 results"):
            pass


def _mcp_session() -> Any:
    from mcp import ClientSession, types

    result = types.CallToolResult(content=[types.TextContent(type="text", text="5")])

    class InstantSession(ClientSession):
        _call_tool_adapter = None  # mcp 2.x reads it before send_request

        def __init__(self) -> None:  # no streams: the round trip below answers at once
            pass

        async def send_request(self, *args: Any, **kwargs: Any) -> Any:
            return result

        async def validate_tool_result(self, *args: Any, **kwargs: Any) -> None:
            return None

    return InstantSession()


def worker(name: str, steps: int) -> dict[str, Any]:
    import agents
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    agents.set_trace_processors([])
    exporter = h.counting_exporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    if name == "bare OTel":
        agents.add_trace_processor(_bare_otel_processor(provider.get_tracer("bench")))
    elif name == "agentspans":
        import agentspans

        agentspans.instrument(tracer_provider=provider, exporter="none", metrics=False)
    elif name == "openinference":
        from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor

        OpenAIAgentsInstrumentor().instrument(tracer_provider=provider)
    session = _mcp_session()

    async def mcp_steps(count: int) -> None:
        for _ in range(count):
            await session.call_tool("add", {"a": 2, "b": 3})

    for _ in range(50):  # warm-up
        _agent_step()
    asyncio.run(mcp_steps(50))
    cpu_started = time.process_time_ns()
    times = []
    for _ in range(steps):
        started = time.perf_counter_ns()
        _agent_step()
        times.append(time.perf_counter_ns() - started)
    agent_cpu = (time.process_time_ns() - cpu_started) / steps
    loop = asyncio.new_event_loop()
    started = time.perf_counter_ns()
    loop.run_until_complete(mcp_steps(steps))
    mcp_wall = (time.perf_counter_ns() - started) / steps
    loop.close()
    provider.force_flush()
    return {
        "config": name,
        "agent_step_us": statistics.median(times) / 1e3,
        "agent_step_cpu_us": agent_cpu / 1e3,
        "mcp_step_us": mcp_wall / 1e3,
        "spans": exporter.count,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="CI mode")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.steps = args.steps or (200 if args.short else 3000)
    args.rounds = args.rounds or (1 if args.short else 3)
    if args.worker:
        h.emit(worker(args.worker, args.steps))
        return 0
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in NAMES}
    for _ in range(args.rounds):
        for configuration in CONFIGURATIONS:
            print(f"  running {configuration.name} …", file=sys.stderr, flush=True)
            found[configuration.name].append(
                h.run_worker(SCRIPT, configuration, ["--steps", str(args.steps)], 300)
            )
    keys = ("agent_step_us", "agent_step_cpu_us", "mcp_step_us", "spans")
    results: dict[str, dict[str, Any]] = {}
    for name, rounds in found.items():
        good = [r for r in rounds if "error" not in r]
        results[name] = (
            {k: statistics.median(r[k] for r in good) for k in keys} if good else rounds[0]
        )
    base = results["uninstrumented"]
    rows = []
    for name in NAMES:
        r = results[name]
        if "error" in r:
            rows.append([name, "not measured: " + r["error"], "", "", "", ""])
            continue
        rows.append(
            [
                name,
                f"{r['agent_step_us']:.1f}",
                f"{r['agent_step_us'] / base['agent_step_us']:.2f}x" if "error" not in base else "",
                f"{r['agent_step_cpu_us']:.1f}",
                f"{r['mcp_step_us']:.1f}",
                f"{r['mcp_step_us'] / base['mcp_step_us']:.2f}x" if "error" not in base else "",
            ]
        )
    print(f"Framework steps, {args.steps} per configuration, median of {args.rounds} round(s)")
    print(f"machine: {h.machine()}")
    print(
        h.table(
            ["config", "agent step µs", "ratio", "agent step CPU µs", "MCP call_tool µs", "ratio"],
            rows,
        )
    )
    print(
        "agent step = trace + agent + response + function span through the SDK's tracing API;"
        " bare OTel and openinference do not trace MCP (their MCP column is the plain call)."
    )
    return 1 if "error" in results["agentspans"] else 0


if __name__ == "__main__":
    sys.exit(main())
