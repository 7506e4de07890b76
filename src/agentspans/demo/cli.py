"""``agentspans demo``: run the demo app against the LLM simulator and report on its trace.

With no stack running it writes the trace as OTLP/JSON (``AGENTSPANS_FILE_PATH``, default
``agentspans-traces.jsonl``) and prints the report; with ``--otlp`` or the standard
``OTEL_EXPORTER_OTLP_*ENDPOINT`` variables it sends the trace to the stack instead (and still
prints the report). Either way the report is the one ``agentspans report`` gives on the same
spans: they are encoded as OTLP/JSON and read back by the same reader.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import IO, Any, Literal

from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agentspans
from agentspans.demo import tools
from agentspans.demo.simulator import LLMSimulator

SERVICE = "agentspans-demo"
QUESTION = "How is Acme Robotics doing, and what should we watch next quarter?"
_DEFAULT_FILE = "agentspans-traces.jsonl"
_OTLP_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

# How the app is instrumented: by import path, with no change to its code.
APP = "agentspans.demo.app"
INSTRUMENT_OPTIONS: dict[str, Any] = {
    "agents": [f"{APP}:Coordinator.run"],
    "delegates": {f"{APP}:Coordinator.delegate": "agent.name"},
    "tools": [
        f"agentspans.demo.tools:{name}"
        for name in (
            "search_web",
            "gather_sources",
            "fetch_dataset",
            "query_warehouse",
            "compute_stats",
            "spell_check",
        )
    ],
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentspans demo",
        description=(
            "Run a multi-agent demo app (coordinator, research, data and writer agents) against a "
            "local LLM simulator, then print the analysis of its trace."
        ),
    )
    parser.add_argument(
        "--otlp",
        action="store_true",
        help="send the trace by OTLP (OTEL_EXPORTER_OTLP_* variables; default localhost:4317) "
        "instead of writing the OTLP/JSON file; implied when OTEL_EXPORTER_OTLP_ENDPOINT is set",
    )
    parser.add_argument(
        "--file",
        metavar="PATH",
        help=f"the OTLP/JSON file to append to (default: $AGENTSPANS_FILE_PATH or {_DEFAULT_FILE})",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="report format")
    parser.add_argument("--seed", type=int, default=7, help="seed of the simulated latencies")
    parser.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        metavar="FACTOR",
        help="divide every simulated latency by FACTOR (default 1; 6 runs the story in a second)",
    )
    return parser


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text!r}")
    return value


def _sends_otlp(args: argparse.Namespace) -> bool:
    return bool(args.otlp) or any(os.environ.get(name) for name in _OTLP_ENDPOINT_VARIABLES)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(list(argv) if argv is not None else None)
    out = sys.stdout
    say = _narrator(out, quiet=args.format == "json")
    otlp = _sends_otlp(args)
    file_path = args.file or os.environ.get("AGENTSPANS_FILE_PATH") or _DEFAULT_FILE

    # A provider of our own with an in-memory copy of every exported span, for the report;
    # agentspans joins it, and its exporter ("file" or "otlp") is named explicitly.
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: SERVICE}))
    captured = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(captured))
    tools.reseed(args.seed)
    tools.set_speed(args.speed)
    started = time.perf_counter()
    with LLMSimulator(seed=args.seed, speed=args.speed) as simulator:
        say(
            f"agentspans demo: a coordinator with research, data and writer agents, talking to a "
            f"local LLM SIMULATOR at {simulator.base_url} (no real model is called; its latencies "
            f"and token counts are simulated from seed {args.seed})."
        )
        instrumentation = agentspans.instrument(
            service_name=SERVICE,
            exporter="otlp" if otlp else "file",
            file_path=file_path,
            tracer_provider=provider,
            **INSTRUMENT_OPTIONS,
        )
        try:
            answer = _run_app(simulator.base_url)
            instrumentation.force_flush()
            undelivered = instrumentation.export_failing
        finally:
            agentspans.uninstrument()
            provider.shutdown()
    elapsed = time.perf_counter() - started
    spans = captured.get_finished_spans()
    say(
        f"The app answered in {elapsed:.1f} s ({simulator.requests} simulated API requests); "
        f"its (simulated) report begins: {_first_words(answer)}"
    )
    if otlp and undelivered:
        say(
            f"Could NOT send the {len(spans)} spans by OTLP: nothing answered at "
            f"{_otlp_endpoint()}. Start the stack (docs/stack.md), point "
            "OTEL_EXPORTER_OTLP_ENDPOINT at a Collector, or drop --otlp to write the OTLP/JSON "
            "file. The report below is from the spans this process kept."
        )
    elif otlp:
        say(
            f"Sent {len(spans)} spans by OTLP (OTEL_EXPORTER_OTLP_* or localhost:4317); open the "
            f"trace in Jaeger (service {SERVICE}). If a warning above says the endpoint cannot be "
            "reached, start the stack (docs/stack.md) or drop --otlp to write the OTLP/JSON file."
        )
    else:
        say(f"Wrote {len(spans)} spans as OTLP/JSON to {file_path}.")
    say("")
    return _report(spans, args.format, out)


def _otlp_endpoint() -> str:
    for name in reversed(_OTLP_ENDPOINT_VARIABLES):
        value = os.environ.get(name)
        if value:
            return value
    return "localhost:4317"


def _run_app(base_url: str) -> str:
    # Imported here, after instrument(), as an app's own modules would be.
    from agentspans.demo.app import Coordinator

    coordinator = Coordinator(base_url, api_key="sim-key-not-a-secret")
    try:
        return coordinator.run(QUESTION)
    finally:
        coordinator.close()


def _report(spans: Sequence[ReadableSpan], fmt: Literal["text", "json"], out: IO[str]) -> int:
    from agentspans.analysis import analyze
    from agentspans.exporters.otlp_json import encode_request
    from agentspans.report import print_report
    from agentspans.sources.otlp_json import read_text

    text = json.dumps(encode_request(spans), separators=(",", ":"))
    read = read_text(text, "agentspans demo")
    for problem in read.problems:
        print(f"agentspans demo: {problem}", file=sys.stderr)
    print_report(analyze(read.records), read.records, fmt=fmt, file=out)
    return 0


def _first_words(text: str, count: int = 12) -> str:
    words = text.split()
    return " ".join(words[:count]) + (" …" if len(words) > count else "")


def _narrator(out: IO[str], *, quiet: bool) -> Any:
    def say(message: str) -> None:
        if not quiet:
            print(message, file=out, flush=True)

    return say
