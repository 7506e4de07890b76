"""What instrumentation adds to one LLM call: agentspans against the bare-span floor and the peers.

Each configuration makes the same chat call through the real ``openai`` client over an
in-process transport (no network, no server: the cost measured is the client's and the
instrumentation's), in a fresh process of its own:

* ``uninstrumented`` — the call as the app makes it;
* ``bare-span`` — the floor: one OpenTelemetry SDK span around the call with the attributes any
  GenAI instrumentation records (model, parameters, response id and model, finish reason, usage);
* ``agentspans`` — ``agentspans.instrument()`` with its defaults (fingerprint, cost, resource
  sampling and per-trace analysis on);
* ``contrib-openai-v2``, ``openlit``, ``traceloop-sdk`` — each in its own virtual environment
  (``bash benchmarks/setup_peer_venvs.sh``), with content capture, metrics and events off so all
  record the same span. Each peer's environment also measures its own uninstrumented baseline,
  since their openai versions differ.

Every instrumented configuration exports into the same counting exporter behind a
``BatchSpanProcessor``, so "spans/call" is what was actually produced. Besides the median of
fresh-process runs, each worker alternates instrumented and uninstrumented calls in one process
(A/B, order flipped every pair, 10% trimmed mean of the differences): on a noisy machine that is
the figure to trust.

    python benchmarks/per_call.py           # full: 3 rounds of 3000 calls + 3000 A/B pairs
    python benchmarks/per_call.py --short   # CI: a few hundred calls, peers only if built
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _harness as h

SCRIPT = Path(__file__).resolve()
LOCAL = ("uninstrumented", "bare-span", "agentspans", "agentspans-lean")
PEERS = {
    "contrib-openai-v2": "opentelemetry-instrumentation-openai-v2 2.4b0",
    "openlit": "openlit 1.45.0",
    "traceloop-sdk": "traceloop-sdk 0.62.4",
}


def configurations() -> list[h.Configuration]:
    found = [h.Configuration(name) for name in LOCAL]
    for peer, note in PEERS.items():
        found.append(h.Configuration(f"uninstrumented@{peer}", venv=peer))
        found.append(h.Configuration(peer, venv=peer, note=note))
    return found


# -- worker side: one configuration per process ---------------------------------------------------
def _sdk_provider(exporter: Any) -> Any:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def _set_global(provider: Any) -> None:
    from opentelemetry import trace

    trace.set_tracer_provider(provider)


def setup_bare_span(exporter: Any, plain: Callable[[], Any]) -> tuple[Callable[[], Any], Any]:
    from opentelemetry.trace import SpanKind

    provider = _sdk_provider(exporter)
    tracer = provider.get_tracer("bench.floor")
    request = h.REQUEST

    def call() -> Any:
        with tracer.start_as_current_span(
            f"chat {request['model']}",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": request["model"],
                "gen_ai.request.max_tokens": request["max_tokens"],
                "gen_ai.request.temperature": request["temperature"],
                "server.address": "api.openai.com",
                "server.port": 443,
            },
        ) as span:
            response = plain()
            span.set_attribute("gen_ai.response.id", response.id)
            span.set_attribute("gen_ai.response.model", response.model)
            span.set_attribute(
                "gen_ai.response.finish_reasons", [c.finish_reason for c in response.choices]
            )
            if response.usage is not None:
                span.set_attribute("gen_ai.usage.input_tokens", response.usage.prompt_tokens)
                span.set_attribute("gen_ai.usage.output_tokens", response.usage.completion_tokens)
            return response

    return call, provider


def setup_agentspans(exporter: Any, **options: Any) -> Any:
    import agentspans

    # The provider's own processor (the counting exporter) goes behind agentspans' trace
    # processor, as an app's exporter would; exporter="none" adds no OTLP exporter of ours.
    provider = _sdk_provider(exporter)
    agentspans.instrument(tracer_provider=provider, exporter="none", libraries="openai", **options)
    return provider


def setup_agentspans_lean(exporter: Any) -> Any:
    """The wrapper and span pipeline alone: no analysis, resource sampling or metrics."""
    return setup_agentspans(exporter, analysis=False, resources=False, metrics=False)


def setup_contrib(exporter: Any) -> Any:
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    provider = _sdk_provider(exporter)
    OpenAIInstrumentor().instrument(tracer_provider=provider)
    return provider


def setup_openlit(exporter: Any) -> Any:
    # openlit reuses a global SDK provider when there is one; without a local pricing file its
    # init() blocks on fetching one from the network.
    provider = _sdk_provider(exporter)
    _set_global(provider)
    prices = {
        "chat": {h.MODEL: {"promptPrice": 0.00015, "completionPrice": 0.0006}},
        "embeddings": {},
        "images": {},
        "audio": {},
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        json.dump(prices, file)
    import openlit

    openlit.init(
        application_name="bench",
        capture_message_content=False,
        disable_metrics=True,
        disable_events=True,
        pricing_json=file.name,
    )
    return provider


def setup_traceloop(exporter: Any) -> Any:
    os.environ.setdefault("TRACELOOP_TRACE_CONTENT", "false")
    os.environ.setdefault("TRACELOOP_METRICS_ENABLED", "false")
    os.environ.setdefault("TRACELOOP_LOGGING_ENABLED", "false")
    from opentelemetry import trace
    from traceloop.sdk import Traceloop
    from traceloop.sdk.instruments import Instruments

    Traceloop.init(
        app_name="bench",
        exporter=exporter,
        telemetry_enabled=False,
        instruments={Instruments.OPENAI},
    )
    return trace.get_tracer_provider()


SETUPS: dict[str, Callable[[Any], Any]] = {
    "agentspans": setup_agentspans,
    "agentspans-lean": setup_agentspans_lean,
    "contrib-openai-v2": setup_contrib,
    "openlit": setup_openlit,
    "traceloop-sdk": setup_traceloop,
}


def worker(name: str, calls: int, pairs: int, warmup: int) -> dict[str, Any]:
    # Room for every span in every BatchSpanProcessor (ours, the peers' own): a span dropped for
    # a full queue is work not done, and would flatter whoever drops it.
    os.environ["OTEL_BSP_MAX_QUEUE_SIZE"] = str(2 * (warmup + calls + 3 * pairs) + 2048)
    started = time.perf_counter()
    import openai

    openai_ms = (time.perf_counter() - started) * 1000
    client = h.make_client()
    raw = h.raw_chat_create()
    completions = client.chat.completions

    def plain() -> Any:
        return raw(completions, **h.REQUEST)

    def instrumented() -> Any:
        return completions.create(**h.REQUEST)

    exporter = h.counting_exporter()
    provider = None
    started = time.perf_counter()
    if name == "bare-span":
        instrumented, provider = setup_bare_span(exporter, plain)
    elif not name.startswith("uninstrumented"):
        provider = SETUPS[name](exporter)
    setup_ms = (time.perf_counter() - started) * 1000

    def flush() -> int:
        if provider is not None:
            provider.force_flush()
        return int(exporter.count)

    h.time_calls(instrumented, warmup)
    # The A/B's plain side must really be uninstrumented: an instrumentation patching below
    # Completions.create would still trace it.
    before = flush()
    h.time_calls(plain, 20)
    plain_traced = flush() != before
    cpu_started = time.process_time_ns()
    times = h.time_calls(instrumented, calls)
    flush()  # the background threads' share of the work (analysis, export) counts too
    cpu_ns = time.process_time_ns() - cpu_started
    wall = h.ab_differences(instrumented, plain, pairs)
    thread_cpu = h.ab_differences(instrumented, plain, pairs, clock=time.thread_time_ns)
    block = 20
    process_cpu = h.ab_differences(
        instrumented, plain, max(pairs // block, 4), clock=time.process_time_ns, block=block
    )
    produced = flush()
    made = warmup + calls + 2 * pairs + block * max(pairs // block, 4)
    return {
        "config": name,
        "openai": openai.__version__,
        "median_us": h.median_us(times),
        "cpu_us": cpu_ns / calls / 1000,
        "ab_overhead_us": None if plain_traced else h.trimmed_mean(wall) / 1000,
        "ab_thread_cpu_us": None if plain_traced else h.trimmed_mean(thread_cpu) / 1000,
        "ab_process_cpu_us": None if plain_traced else h.trimmed_mean(process_cpu) / 1000,
        "ab_note": "plain calls were traced too; A/B not valid" if plain_traced else "",
        "spans_per_call": produced / made,
        "span_names": sorted(exporter.names),
        "peak_rss_mib": h.peak_rss_mib(),
        "import_openai_ms": openai_ms,
        "setup_ms": setup_ms,
    }


# -- parent side ----------------------------------------------------------------------------------
def _combine(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of each figure across rounds."""
    good = [r for r in rounds if "error" not in r]
    if not good:
        return rounds[0]
    combined = dict(good[0])
    keys = ("median_us", "cpu_us", "ab_overhead_us", "ab_thread_cpu_us", "ab_process_cpu_us")
    for key in (*keys, "peak_rss_mib", "setup_ms", "spans_per_call"):
        values = [r[key] for r in good if r.get(key) is not None]
        combined[key] = statistics.median(values) if values else None
    return combined


def _baseline_for(name: str) -> str:
    return f"uninstrumented@{name}" if name in PEERS else "uninstrumented"


def _fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


# The overhead figures, each against the same environment's uninstrumented calls: the label, and
# how to read it from a configuration's result and its environment's baseline.
METRICS: tuple[tuple[str, Callable[[dict[str, Any], dict[str, Any]], float | None]], ...] = (
    ("CPU, all threads (A/B)", lambda r, b: r.get("ab_process_cpu_us")),
    ("CPU, app thread (A/B)", lambda r, b: r.get("ab_thread_cpu_us")),
    ("wall (A/B)", lambda r, b: r.get("ab_overhead_us")),
    (
        "CPU, fresh processes",
        lambda r, b: r["cpu_us"] - b["cpu_us"] if "cpu_us" in b else None,
    ),
)


def _overhead(results: dict[str, dict[str, Any]], name: str, metric: int) -> float | None:
    result = results.get(name, {})
    if "error" in result or name.startswith("uninstrumented"):
        return None
    return METRICS[metric][1](result, results.get(_baseline_for(name), {}))


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    floors = [_overhead(results, "bare-span", m) for m in range(len(METRICS))]
    overhead_rows, fact_rows = [], []
    for configuration in configurations():
        name = configuration.name
        result = results[name]
        if "error" in result:
            fact_rows.append([name, "not measured: " + result["error"], "", "", "", ""])
            continue
        fact_rows.append(
            [
                name,
                result["openai"],
                _fmt(result["median_us"]),
                _fmt(result["spans_per_call"], 2),
                _fmt(result["peak_rss_mib"]),
                _fmt(result["setup_ms"]),
            ]
        )
        if name.startswith("uninstrumented"):
            continue
        cells = [name]
        for metric, floor in enumerate(floors):
            value = _overhead(results, name, metric)
            # A floor lost in the noise (at or below zero) makes no ratio.
            usable = value is not None and floor is not None and floor > 0
            ratio = f" ({value / floor:.2f}x)" if usable else ""
            cells.append(_fmt(value) + ratio)
        overhead_rows.append(cells)
    lines = [
        f"per-call overhead: {args.rounds} round(s) x {args.calls} timed calls and "
        f"{args.pairs} A/B pairs per configuration, each configuration in a fresh process",
        f"machine: {h.machine()}",
        f"command: python benchmarks/per_call.py {' '.join(sys.argv[1:])}".rstrip(),
        "",
        "Overhead per call in µs over the uninstrumented call (x the bare-span floor):",
        h.table(["configuration", *(label for label, _ in METRICS)], overhead_rows),
        "",
        h.table(
            [
                "configuration",
                "openai",
                "wall µs/call (median)",
                "spans/call",
                "peak RSS MiB",
                "import+init ms",
            ],
            fact_rows,
        ),
        "",
        "A/B: instrumented and plain calls alternated in one process, order flipped every pair, "
        "10% trimmed mean of the differences; 'all threads' times blocks of 20 calls with the "
        "process CPU clock, so background analysis and export count; 'app thread' is the CPU "
        "the calling thread spent (immune to being descheduled on a busy machine). "
        "'fresh processes': process CPU per call (after a flush) minus the uninstrumented "
        "process's (two processes differ by more than a span costs on a busy machine: trust the "
        "A/B columns). 'import+init': importing and initialising the instrumentation once openai "
        "is imported.",
    ]
    skipped = [n for n, r in results.items() if "error" in r]
    if skipped:
        lines.append("not measured: " + ", ".join(f"{n} ({results[n]['error']})" for n in skipped))
    lines.extend(_verdict(results, metric) for metric in range(2))
    return "\n".join(lines)


def _verdict(results: dict[str, dict[str, Any]], metric: int) -> str:
    label = METRICS[metric][0]
    ours = _overhead(results, "agentspans", metric)
    floor = _overhead(results, "bare-span", metric)
    if ours is None or floor is None or floor <= 0:
        return f"goals ({label}): cannot judge (agentspans or the floor was not measured)"
    peers = {
        name: value for name in PEERS if (value := _overhead(results, name, metric)) is not None
    }
    beaten = [name for name, value in peers.items() if ours < value]
    every = len(beaten) == len(peers) == len(PEERS)
    return (
        f"goals ({label}): <= 1.5x floor {'met' if ours <= 1.5 * floor else 'NOT met'} "
        f"({ours / floor:.2f}x); below every peer {'met' if every else 'NOT met'} "
        f"(below {', '.join(beaten) or 'none'}; {len(peers)} of {len(PEERS)} peers measured)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="CI mode: a few hundred calls")
    parser.add_argument("--calls", type=int)
    parser.add_argument("--pairs", type=int)
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--only", help="comma-separated configuration names")
    parser.add_argument("--json", metavar="PATH", help="also write the raw results here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.calls = args.calls or (300 if args.short else 3000)
    args.pairs = args.pairs or (300 if args.short else 3000)
    args.rounds = args.rounds or (1 if args.short else 3)
    warmup = 50 if args.short else 300
    if args.worker:
        h.emit(worker(args.worker, args.calls, args.pairs, warmup))
        return 0

    chosen = configurations()
    if args.only:
        wanted = set(args.only.split(","))
        chosen = [c for c in chosen if c.name in wanted]
    worker_args = ["--calls", str(args.calls), "--pairs", str(args.pairs)]
    if args.short:
        worker_args.append("--short")
    rounds: dict[str, list[dict[str, Any]]] = {c.name: [] for c in chosen}
    for _ in range(args.rounds):  # rounds interleave configurations: drift hits all alike
        for configuration in chosen:
            print(f"  running {configuration.name} …", file=sys.stderr, flush=True)
            rounds[configuration.name].append(
                h.run_worker(SCRIPT, configuration, worker_args, timeout_s=300)
            )
    results = {name: _combine(found) for name, found in rounds.items()}
    for configuration in configurations():
        results.setdefault(configuration.name, {"error": "not selected (--only)"})
    print(report(results, args))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    failed_ours = [n for n in LOCAL if n in rounds and "error" in results[n]]
    return 1 if failed_ours else 0


if __name__ == "__main__":
    sys.exit(main())
