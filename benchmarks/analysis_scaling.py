"""How the analysis scales, and what the trace processor costs the application's thread.

    .venv/bin/python benchmarks/analysis_scaling.py          # 1k, 10k, 100k spans
    .venv/bin/python benchmarks/analysis_scaling.py --short  # 1k, 10k (CI)

1. ``agentspans.analysis.analyze`` on synthetic traces of three shapes: *wide* (one parent,
   every other span a tool call under it), *deep* (one chain, each span inside its parent) and
   *mixed* (agents delegating to agents that make LLM and tool calls, some in parallel, some
   repeated, some failing). Prints the best of several runs, time per span, and the growth
   check: time(n) / time(1k) against (n log n) / (1k log 1k). A ratio at or under ~1.5 means
   no worse than n log n.
2. The cost of a span on the application's thread: start and end spans through a bare SDK
   ``TracerProvider`` and through one that ``agentspans.instrument()`` joined (the real
   ``TraceProcessor``, analysis on), both exporting to a no-op exporter, side by side.
"""

from __future__ import annotations

import argparse
import functools
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

from agentspans.analysis import SpanRecord, analyze

_MS = 1_000_000
_TRACE = "ab" * 16


def _sid(i: int) -> str:
    return f"{i + 1:016x}"


def wide(n: int, rng: random.Random) -> list[SpanRecord]:
    records = [SpanRecord(_TRACE, _sid(0), None, "invoke_agent root", 0, n * 10 * _MS)]
    t = 0
    for i in range(1, n):
        start = t + rng.randrange(0, 5 * _MS)
        end = start + rng.randrange(1, 20 * _MS)
        t = start if rng.random() < 0.3 else end  # a mix of overlapping and sequential calls
        attrs = {
            "gen_ai.operation.name": "execute_tool",
            "agentspans.request.fingerprint": str(i % 97),
        }
        records.append(
            SpanRecord(_TRACE, _sid(i), _sid(0), f"execute_tool t{i % 13}", start, end, attrs)
        )
    return records


def deep(n: int, rng: random.Random) -> list[SpanRecord]:
    records = []
    for i in range(n):
        start = i * 10
        end = 100 * n - i * 10 - rng.randrange(0, 5)
        parent = _sid(i - 1) if i else None
        attrs = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": f"a{i % 7}"}
        records.append(
            SpanRecord(_TRACE, _sid(i), parent, f"invoke_agent a{i % 7}", start, end, attrs)
        )
    return records


def _fingerprint(i: int, rng: random.Random) -> str:
    """Mostly distinct requests; one in fifty repeats one of twenty popular ones."""
    return f"popular{rng.randrange(20)}" if rng.random() < 0.02 else f"request{i}"


def mixed(n: int, rng: random.Random) -> list[SpanRecord]:
    """Agents delegating to agents; leaves are LLM and tool calls."""
    records: list[SpanRecord] = []
    agents = [(0, 0, 1000 * n * _MS // 100)]  # (index, start, end)
    records.append(
        SpanRecord(
            _TRACE,
            _sid(0),
            None,
            "invoke_agent coordinator",
            agents[0][1],
            agents[0][2],
            {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "coordinator"},
        )
    )
    while len(records) < n:
        parent, p_start, p_end = agents[rng.randrange(len(agents))]
        i = len(records)
        width = p_end - p_start
        start = p_start + rng.randrange(0, max(width // 2, 1))
        end = min(p_end, start + rng.randrange(1, max(width // 3, 2)))
        kind = rng.random()
        attrs: dict[str, Any]
        if kind < 0.15 and len(agents) < n // 5:
            attrs = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": f"agent{i % 11}"}
            name = f"invoke_agent agent{i % 11}"
            agents.append((i, start, end))
        elif kind < 0.6:
            attrs = {
                "gen_ai.operation.name": "chat",
                "gen_ai.usage.input_tokens": rng.randrange(10, 5000),
                "gen_ai.usage.output_tokens": rng.randrange(1, 500),
                "agentspans.cost.usd": rng.random() / 100,
                "agentspans.request.fingerprint": _fingerprint(i, rng),
            }
            name = "chat gpt-4o"
        else:
            attrs = {
                "gen_ai.operation.name": "execute_tool",
                "agentspans.request.fingerprint": _fingerprint(i, rng),
            }
            name = f"execute_tool t{i % 5}"
        records.append(
            SpanRecord(
                _TRACE, _sid(i), _sid(parent), name, start, end, attrs, error=rng.random() < 0.005
            )
        )
    return records


SHAPES: dict[str, Callable[[int, random.Random], list[SpanRecord]]] = {
    "wide": wide,
    "deep": deep,
    "mixed": mixed,
}


def _best(
    fn: Callable[[], object], repeats: int, clock: Callable[[], float] = time.perf_counter
) -> float:
    best = math.inf
    for _ in range(repeats):
        started = clock()
        fn()
        best = min(best, clock() - started)
    return best


def _calibration_ms() -> float:
    """CPU time of a fixed pure-Python loop: how fast this machine is right now."""

    def loop() -> None:
        total = 0
        for i in range(1_000_000):
            total += i

    return _best(loop, 3, time.process_time) * 1000


def scaling(sizes: Sequence[int]) -> bool:
    print(f"calibration: a 1M-iteration Python loop takes {_calibration_ms():.1f} ms CPU here")
    print(f"analysis time (best of runs; ratio = growth / n-log-n growth from {sizes[0]} spans)")
    print("wall = elapsed; cpu = this process's CPU time (steadier on a shared machine)")
    print(
        f"{'shape':<6} {'spans':>7} {'wall ms':>9} {'cpu ms':>9} {'cpu us/span':>11} {'ratio':>6}"
    )
    ok = True
    for shape, make in SHAPES.items():
        base: float | None = None
        for n in sizes:
            records = make(n, random.Random(n))
            result = analyze(records)
            if len(result) != 1 or len(result[0].span_ids) != n:
                raise SystemExit(f"{shape}: expected one tree of {n} spans")
            repeats = 5 if n <= 10_000 else 2
            run = functools.partial(analyze, records)
            seconds = _best(run, repeats)
            cpu = _best(run, repeats, time.process_time)
            nlogn = n * math.log(n)
            # The growth check uses CPU time: other processes' load moves the wall clock.
            if base is None:
                base = cpu / nlogn
            ratio = (cpu / nlogn) / base
            ok = ok and ratio <= 2.0
            print(
                f"{shape:<6} {n:>7} {seconds * 1000:>9.2f} {cpu * 1000:>9.2f} "
                f"{cpu / n * 1e6:>11.2f} {ratio:>6.2f}"
            )
    return ok


def app_thread_cost(spans: int) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    import agentspans

    class Discard(SpanExporter):
        def export(self, spans: object) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    def provider() -> TracerProvider:
        p = TracerProvider()
        p.add_span_processor(SimpleSpanProcessor(Discard()))
        return p

    def run(p: TracerProvider) -> tuple[float, float]:
        """Per span: the app thread's own CPU time, and wall time, over whole traces."""
        tracer = p.get_tracer("bench")
        wall = time.perf_counter()
        cpu = time.thread_time()  # this thread only: the worker's analysis is not counted
        # Traces of 100 spans: a root and 99 children, as an app would make them.
        for _ in range(spans // 100):
            with tracer.start_as_current_span("root"):
                for _ in range(99):
                    tracer.start_span("child").end()
        cpu = time.thread_time() - cpu
        wall = time.perf_counter() - wall
        p.force_flush()
        return cpu / spans * 1e6, wall / spans * 1e6

    bare = provider()
    run(bare)  # warm up
    bare_cpu, bare_wall = run(bare)
    joined = provider()
    agentspans.instrument(
        tracer_provider=joined, exporter="none", resources=False, libraries="none"
    )
    try:
        run(joined)
        ours_cpu, ours_wall = run(joined)
    finally:
        agentspans.uninstrument()
    print(f"\ncost of one span start+end ({spans} spans in traces of 100, no-op exporter)")
    print(f"{'':<28} {'app-thread CPU us':>17} {'wall us':>8}")
    print(f"{'bare SDK provider':<28} {bare_cpu:>17.2f} {bare_wall:>8.2f}")
    print(f"{'agentspans TraceProcessor':<28} {ours_cpu:>17.2f} {ours_wall:>8.2f}")
    print(f"{'added by agentspans':<28} {ours_cpu - bare_cpu:>17.2f} {ours_wall - bare_wall:>8.2f}")
    print(f"{'ratio':<28} {ours_cpu / bare_cpu:>17.2f} {ours_wall / bare_wall:>8.2f}")
    print("(the worker thread's enrichment, analysis and export share the GIL and the cores, so")
    print(" they show in both columns; the hooks alone:)")
    hooks_only(spans)


def hooks_only(count: int) -> None:
    """TraceProcessor.on_start / on_end alone, called on ended spans of a bare provider."""
    import gc

    from opentelemetry.sdk.trace import Span, TracerProvider

    import agentspans

    source = TracerProvider().get_tracer("bench")
    spans: list[Span] = []
    for _ in range(count // 100):  # traces of 100 spans, well under the per-trace cap
        with source.start_as_current_span("root"):
            # The SDK tracer makes SDK spans, which the processor's hooks take.
            spans.extend(cast(Span, source.start_span("child")) for _ in range(100))
    for span in spans:
        span.end()
    installed = agentspans.instrument(
        tracer_provider=TracerProvider(), exporter="none", resources=False, libraries="none"
    )
    processor = installed.processor
    assert processor is not None
    gc.disable()
    try:
        best_start = best_end = math.inf
        for _ in range(3):
            t0 = time.perf_counter()
            for span in spans:
                processor.on_start(span, None)
            t1 = time.perf_counter()
            for span in spans:
                processor.on_end(span)
            t2 = time.perf_counter()
            best_start = min(best_start, (t1 - t0) / count * 1e6)
            best_end = min(best_end, (t2 - t1) / count * 1e6)
            installed.force_flush()
        clock = _best(time.process_time, 1)
        for _ in range(1000):
            clock = min(clock, _best(time.process_time, 1))
    finally:
        gc.enable()
        agentspans.uninstrument()
    print(f"{'TraceProcessor.on_start':<28} {best_start:>17.2f} us")
    print(f"{'TraceProcessor.on_end':<28} {best_end:>17.2f} us")
    print(f"{'  of which process_time()':<28} {clock * 1e6:>17.2f} us (each; one per hook)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="1k and 10k spans only (for CI)")
    args = parser.parse_args(argv)
    sizes = (1_000, 10_000) if args.short else (1_000, 10_000, 100_000)
    ok = scaling(sizes)
    app_thread_cost(10_000 if args.short else 50_000)
    if not ok:
        print("\ngrowth worse than n log n (ratio above 2)", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
