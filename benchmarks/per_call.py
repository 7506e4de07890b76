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
LOCAL = ("uninstrumented", "bare-span", "agentspans")
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


def setup_agentspans(exporter: Any) -> Any:
    import agentspans

    provider = _sdk_provider(exporter)
    agentspans.instrument(tracer_provider=provider, service_name="bench", libraries="openai")
    return provider


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
    "contrib-openai-v2": setup_contrib,
    "openlit": setup_openlit,
    "traceloop-sdk": setup_traceloop,
}


def worker(name: str, calls: int, pairs: int, warmup: int) -> dict[str, Any]:
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
    times = h.time_calls(instrumented, calls)
    differences = h.ab_differences(instrumented, plain, pairs)
    produced = flush()
    made = warmup + calls + pairs
    return {
        "config": name,
        "openai": openai.__version__,
        "median_us": h.median_us(times),
        "ab_overhead_us": None if plain_traced else h.trimmed_mean(differences) / 1000,
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
    for key in ("median_us", "ab_overhead_us", "peak_rss_mib", "setup_ms", "spans_per_call"):
        values = [r[key] for r in good if r.get(key) is not None]
        combined[key] = statistics.median(values) if values else None
    return combined


def _baseline_for(name: str) -> str:
    return f"uninstrumented@{name}" if name in PEERS else "uninstrumented"


def _fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    floor = results.get("bare-span", {})
    floor_fresh = None
    if "median_us" in floor and "median_us" in results.get("uninstrumented", {}):
        floor_fresh = floor["median_us"] - results["uninstrumented"]["median_us"]
    floor_ab = floor.get("ab_overhead_us")
    rows = []
    for configuration in configurations():
        name = configuration.name
        result = results[name]
        if "error" in result:
            rows.append([name, "not measured: " + result["error"], *([""] * 8)])
            continue
        baseline = results.get(_baseline_for(name), {})
        fresh = (
            result["median_us"] - baseline["median_us"]
            if "median_us" in baseline and not name.startswith("uninstrumented")
            else None
        )
        ab = None if name.startswith("uninstrumented") else result["ab_overhead_us"]
        ratio = ab / floor_ab if ab is not None and floor_ab else None
        rows.append(
            [
                name,
                result["openai"],
                _fmt(result["median_us"]),
                _fmt(fresh),
                _fmt(ab),
                _fmt(ratio, 2) + ("x" if ratio is not None else ""),
                _fmt(result["spans_per_call"], 2),
                _fmt(result["peak_rss_mib"]),
                _fmt(result["setup_ms"]),
                _fmt(result["import_openai_ms"]),
            ]
        )
    headers = [
        "configuration",
        "openai",
        "median µs/call",
        "overhead µs (fresh procs)",
        "overhead µs (A/B)",
        "x floor (A/B)",
        "spans/call",
        "peak RSS MiB",
        "import+init ms",
        "import openai ms",
    ]
    lines = [
        f"per-call overhead — {args.rounds} round(s) x {args.calls} calls + {args.pairs} A/B "
        f"pairs per configuration, each in a fresh process",
        f"machine: {h.machine()}",
        f"command: python benchmarks/per_call.py {' '.join(sys.argv[1:])}".rstrip(),
        "",
        h.table(headers, rows),
        "",
        f"floor (bare span) overhead: {_fmt(floor_ab)} µs A/B, {_fmt(floor_fresh)} µs fresh "
        "processes. 'import+init' is importing and initialising the instrumentation, after "
        "openai itself is imported.",
    ]
    skipped = [n for n, r in results.items() if "error" in r]
    if skipped:
        lines.append("not measured: " + ", ".join(f"{n} ({results[n]['error']})" for n in skipped))
    lines.extend(_verdict(results))
    return "\n".join(lines)


def _verdict(results: dict[str, dict[str, Any]]) -> list[str]:
    ours = results.get("agentspans", {}).get("ab_overhead_us")
    floor = results.get("bare-span", {}).get("ab_overhead_us")
    if ours is None or not floor:
        return ["goal: cannot judge (agentspans or the floor was not measured)"]
    peers = {
        name: results[name]["ab_overhead_us"]
        for name in PEERS
        if results.get(name, {}).get("ab_overhead_us") is not None
    }
    beaten = [name for name, value in peers.items() if ours < value]
    lines = [
        f"goal ≤ 1.5x floor: {'met' if ours <= 1.5 * floor else 'NOT met'} "
        f"({ours / floor:.2f}x the floor)",
        f"goal below every peer: {'met' if len(beaten) == len(peers) == len(PEERS) else 'NOT met'}"
        f" (below {', '.join(beaten) or 'none'} of {len(peers)} measured)",
    ]
    return lines


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
