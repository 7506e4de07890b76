"""What the benchmark scripts share: the canned LLM call, timers, robust statistics, workers.

Every configuration runs in a fresh process (``python SCRIPT --worker NAME``) that prints one
JSON line; the parent collects the lines and prints the table. This module must import in the
peers' virtual environments too, which have neither agentspans nor its dependencies beyond the
OpenTelemetry SDK and openai: it imports nothing else at module level.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BENCH_VENVS = Path(
    os.environ.get("AGENTSPANS_BENCH_VENVS", Path.home() / ".cache" / "agentspans" / "bench-venvs")
)

# The request every configuration sends and the response every transport returns: a typical
# small chat call with usage, so each instrumentation has the same attributes to record.
MODEL = "gpt-4o-mini"
REQUEST: dict[str, Any] = {
    "model": MODEL,
    "messages": [
        {"role": "system", "content": "You are a concise research assistant."},
        {"role": "user", "content": "Name three drivers of warehouse robotics demand."},
    ],
    "max_tokens": 64,
    "temperature": 0.2,
}
RESPONSE: dict[str, Any] = {
    "id": "chatcmpl-bench0001",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "gpt-4o-mini-2024-07-18",
    "system_fingerprint": "fp_bench",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Labour shortages, e-commerce growth and falling robot prices.",
            },
            "finish_reason": "stop",
            "logprobs": None,
        }
    ],
    "usage": {"prompt_tokens": 29, "completion_tokens": 12, "total_tokens": 41},
}
BASE_URL = "https://api.openai.com/v1"  # never reached: the transport answers in-process


def openai_http_module() -> Any:
    """The HTTP library the installed openai is built on (httpx2 from openai 3, httpx before)."""
    import openai._base_client as base

    return getattr(base, "httpx2", None) or base.httpx


def make_client() -> Any:
    """The real openai client over an in-process transport that returns :data:`RESPONSE`."""
    import openai

    http = openai_http_module()
    body = json.dumps(RESPONSE).encode()
    headers = {"content-type": "application/json", "x-request-id": "req_bench"}

    def answer(request: Any) -> Any:
        return http.Response(200, headers=headers, content=body)

    return openai.OpenAI(
        api_key="sk-bench-not-a-key",
        base_url=BASE_URL,
        max_retries=0,
        http_client=http.Client(transport=http.MockTransport(answer)),
    )


def raw_chat_create() -> Callable[..., Any]:
    """``Completions.create`` as defined by openai, before any instrumentation patches it."""
    from openai.resources.chat.completions import Completions

    return vars(Completions)["create"]  # type: ignore[no-any-return]


# -- timing --------------------------------------------------------------------------------------
def time_calls(call: Callable[[], Any], count: int) -> list[int]:
    """Nanoseconds of each of ``count`` calls."""
    clock = time.perf_counter_ns
    times = []
    for _ in range(count):
        started = clock()
        call()
        times.append(clock() - started)
    return times


def ab_differences(
    instrumented: Callable[[], Any],
    plain: Callable[[], Any],
    pairs: int,
    *,
    clock: Callable[[], int] = time.perf_counter_ns,
    block: int = 1,
) -> list[float]:
    """Instrumented minus plain ``clock`` nanoseconds per call, over ``pairs`` back-to-back pairs
    of ``block`` calls each, the order flipped every pair so that neither side always runs first
    (warm caches, the GIL's hand-off to background threads).

    With ``time.perf_counter_ns`` this is wall time; ``time.thread_time_ns`` gives the CPU the
    calling thread spent (immune to being descheduled on a busy machine); blocks timed with
    ``time.process_time_ns`` count the CPU of every thread, background work included."""

    def timed(call: Callable[[], Any]) -> int:
        started = clock()
        for _ in range(block):
            call()
        return clock() - started

    differences = []
    for i in range(pairs):
        if i % 2:
            plain_ns = timed(plain)
            instrumented_ns = timed(instrumented)
        else:
            instrumented_ns = timed(instrumented)
            plain_ns = timed(plain)
        differences.append((instrumented_ns - plain_ns) / block)
    return differences


def trimmed_mean(values: Sequence[float], trim: float = 0.1) -> float:
    """Mean without the ``trim`` share at each end: robust to the scheduler's outliers."""
    ordered = sorted(values)
    cut = int(len(ordered) * trim)
    kept = ordered[cut : len(ordered) - cut] or ordered
    return sum(kept) / len(kept)


def median_us(times_ns: Iterable[int]) -> float:
    return statistics.median(times_ns) / 1000


def peak_rss_mib() -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def counting_exporter() -> Any:
    """A span exporter that keeps only a count: the export cost stays out of the measurement,
    and 'spans actually produced' is read from it."""
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class CountingExporter(SpanExporter):
        def __init__(self) -> None:
            self.count = 0
            self.names: set[str] = set()

        def export(self, spans: Any) -> SpanExportResult:
            self.count += len(spans)
            self.names.update(span.name for span in spans)
            return SpanExportResult.SUCCESS

    return CountingExporter()


# -- workers and the parent ----------------------------------------------------------------------
@dataclass(frozen=True)
class Configuration:
    name: str
    # None: the interpreter running the parent (the project's own environment).
    venv: str | None = None
    note: str = ""

    def python(self) -> Path | None:
        if self.venv is None:
            return Path(sys.executable)
        candidate = BENCH_VENVS / self.venv / "bin" / "python"
        return (
            candidate if candidate.exists() and (BENCH_VENVS / self.venv / "ok").exists() else None
        )

    def missing_reason(self) -> str:
        assert self.venv is not None
        directory = BENCH_VENVS / self.venv
        failed = directory / "failed"
        if failed.exists():
            last = failed.read_text(errors="replace").strip().splitlines()[-1:]
            return f"venv could not be built ({' '.join(last) or 'see ' + str(failed)})"
        return (
            f"venv absent ({directory}); build it with: bash benchmarks/setup_peer_venvs.sh "
            f"{self.venv}"
        )


def run_worker(
    script: Path, configuration: Configuration, arguments: Sequence[str], timeout_s: float
) -> dict[str, Any]:
    """Run ``script --worker NAME ARGS`` in a fresh process; its last stdout line is JSON."""
    python = configuration.python()
    if python is None:
        return {"config": configuration.name, "error": configuration.missing_reason()}
    env = dict(os.environ)
    env.pop("AGENTSPANS_STRICT", None)  # measure what users run, not the test suite's mode
    env["PYTHONPATH"] = str(REPO / "src") if configuration.venv is None else ""
    command = [str(python), str(script), "--worker", configuration.name, *arguments]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return {"config": configuration.name, "error": f"timed out after {timeout_s:.0f} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        return {"config": configuration.name, "error": f"exit {done.returncode}: {tail}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def emit(result: dict[str, Any]) -> None:
    """A worker's answer to its parent: one JSON line on stdout."""
    print(json.dumps(result), flush=True)


def machine() -> str:
    cpus = os.cpu_count() or 0
    try:
        load = f", load {os.getloadavg()[0]:.1f}"
    except OSError:
        load = ""
    return (
        f"{platform.machine()}, {cpus} CPU(s){load}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table (readable in a terminal too)."""
    rows = [list(row) for row in rows]
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    separator = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), separator, *(line(row) for row in rows)])
