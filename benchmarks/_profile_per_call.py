"""Where agentspans' per-call cost goes: a diagnostic for benchmarks/per_call.py's figures.

It reaches into agentspans internals (the openai wrapper's request builder and reader, the trace
processor's wake-up event), so it is not part of the CI run and may need updating when those
change. Every figure is the best of seven runs of the calling thread's CPU time, so it holds on
a busy machine.

    python benchmarks/_profile_per_call.py                 # stage-by-stage cost on the app thread
    python benchmarks/_profile_per_call.py --instructions  # the same stages, callgrind instructions
    python benchmarks/_profile_per_call.py --wake          # worker woken at every trace root vs not

``--instructions`` runs each stage under ``valgrind --tool=callgrind`` in fresh processes, 20 and
60 times after the same warm-up (instrumentation switched on after it), and prints the main
thread's instructions per run as (Ir(60) - Ir(20)) / 40, with the cyclic garbage collector off
while counting (see ``_stage_child``): load-independent, unlike the µs.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import _harness as h


def best_us(call: Callable[[], Any], count: int = 4000) -> float:
    call()
    runs = []
    for _ in range(7):
        started = time.thread_time_ns()
        for _ in range(count):
            call()
        runs.append((time.thread_time_ns() - started) / count / 1000)
    return min(runs)


class _NoWake:
    """Stands in for the trace processor's wake-up event: the worker runs on its tick only."""

    def __init__(self, event: Any) -> None:
        self.event = event

    def set(self) -> None:
        pass

    def wait(self, timeout: float) -> bool:
        return bool(self.event.wait(timeout))

    def clear(self) -> None:
        self.event.clear()


def _provider(exporter: Any) -> Any:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=10**6))
    return provider


def breakdown() -> None:
    stages = _stages()
    rows = [(label, best_us(call)) for label, call in stages.values()]
    print(f"app-thread CPU per call, best of 7 (machine: {h.machine()})")
    print(h.table(["stage", "µs"], [[name, f"{value:.1f}"] for name, value in rows]))


def _stages() -> dict[str, tuple[str, Callable[[], Any]]]:
    from opentelemetry.trace import SpanKind

    raw = h.raw_chat_create()
    client = h.make_client()
    completions = client.chat.completions
    request = h.REQUEST
    response = raw(completions, **request)
    exporter = h.counting_exporter()
    floor_tracer = _provider(exporter).get_tracer("floor")

    def floor_span() -> None:
        with floor_tracer.start_as_current_span(
            "chat gpt-4o-mini",
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
            span.set_attribute("gen_ai.response.id", response.id)
            span.set_attribute("gen_ai.response.model", response.model)
            span.set_attribute("gen_ai.response.finish_reasons", ["stop"])
            span.set_attribute("gen_ai.usage.input_tokens", response.usage.prompt_tokens)
            span.set_attribute("gen_ai.usage.output_tokens", response.usage.completion_tokens)

    import agentspans
    from agentspans._fingerprint import fingerprint
    from agentspans._runtime import RUNTIME
    from agentspans.wrappers._llm import start_llm_call
    from agentspans.wrappers.openai import CHAT_READER, chat_request

    provider = _provider(exporter)
    instrumentation = agentspans.instrument(
        tracer_provider=provider, exporter="none", libraries="openai"
    )
    processor = instrumentation.processor
    assert processor is not None
    processor._wake = _NoWake(processor._wake)  # type: ignore[assignment]  # worker out of the way
    built = chat_request(completions, request, False)
    attributes = built.attributes(False)
    runtime = RUNTIME.current
    assert runtime is not None
    tracer = runtime.tracer

    def ours_span() -> None:
        tracer.start_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=attributes).end()

    def plain_span() -> None:
        floor_tracer.start_span(
            "chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=attributes
        ).end()

    prebuilt = chat_request(completions, request, False)

    def start_end() -> None:
        invocation = start_llm_call(lambda c: prebuilt, CHAT_READER)
        assert invocation is not None
        invocation.end()

    def lifecycle() -> None:
        invocation = start_llm_call(lambda c: chat_request(completions, request, c), CHAT_READER)
        assert invocation is not None
        invocation.deactivate(invocation.activate())
        invocation.succeed(response)

    from agentspans.wrappers._evidence import response_tool_call_ids

    return {
        "floor": ("floor: bare SDK span with the GenAI attributes", floor_span),
        "lifecycle": ("agentspans: whole call lifecycle (no HTTP call)", lifecycle),
        "request": (
            "  chat_request: read kwargs, provider, server",
            lambda: chat_request(completions, request, False),
        ),
        "attributes": ("  request attributes incl. fingerprint", lambda: built.attributes(False)),
        "fingerprint": (
            "    of which the fingerprint",
            lambda: fingerprint(*built.fingerprint_parts),
        ),
        "start": ("  start_llm_call (request built) and the span's end", start_end),
        "span": ("  span start+end through the trace processor", ours_span),
        "plain-span": ("    same span, plain BatchSpanProcessor", plain_span),
        "summary": (
            "  response summary and its attributes",
            lambda: CHAT_READER.summarise(response, False).attributes(),
        ),
        "evidence": (
            "  the response's tool-call ids (dependency evidence)",
            lambda: response_tool_call_ids(response),
        ),
    }


def _stage_child(name: str, runs: int) -> None:
    import _callgrind as cg

    call = _stages()[name][1]
    for _ in range(30):
        call()
    # The cyclic collector runs every so many allocations and walks every live object, and the
    # stages' spans pile up unexported (the worker is kept out of the way): with it on, a
    # stage's count moved with N. It is off while counting, and the count stops with the loop:
    # the exit's collection of what piled up (in proportion to N) is not the stage's either.
    gc.collect()
    gc.disable()
    cg.start_instrumentation()
    for _ in range(runs):
        call()
    cg.request(cg.STOP_INSTRUMENTATION)


def instructions() -> None:
    import re
    import tempfile
    from pathlib import Path

    totals = re.compile(r"^totals:\s*(\d+)", re.MULTILINE)
    rows = []
    for name, (label, _) in _stages().items():
        counts = []
        for runs in (20, 60):
            with tempfile.TemporaryDirectory() as folder:
                prefix = Path(folder) / "callgrind.out"
                subprocess.run(
                    [
                        "valgrind",
                        "--tool=callgrind",
                        "--instr-atstart=no",
                        "--separate-threads=yes",
                        f"--callgrind-out-file={prefix}",
                        sys.executable,
                        __file__,
                        "--stage",
                        name,
                        str(runs),
                    ],
                    check=True,
                    capture_output=True,
                )
                found = totals.search(Path(f"{prefix}-01").read_text(errors="replace"))
                counts.append(int(found.group(1)) if found else 0)
        rows.append([label, f"{(counts[1] - counts[0]) / 40 / 1000:,.1f}k"])
    print(f"app-thread instructions per run, callgrind (machine: {h.machine()})")
    print(h.table(["stage", "Ir"], rows))


def wake(mode: str) -> None:
    raw = h.raw_chat_create()
    exporter = h.counting_exporter()
    provider = _provider(exporter)
    import agentspans

    instrumentation = agentspans.instrument(
        tracer_provider=provider, exporter="none", libraries="openai"
    )
    if mode == "tick":
        processor = instrumentation.processor
        assert processor is not None
        processor._wake = _NoWake(processor._wake)  # type: ignore[assignment]
    client = h.make_client()
    completions = client.chat.completions

    def plain() -> Any:
        return raw(completions, **h.REQUEST)

    def instrumented() -> Any:
        return completions.create(**h.REQUEST)

    h.time_calls(instrumented, 300)
    wall = h.ab_differences(instrumented, plain, 3000)
    thread = h.ab_differences(instrumented, plain, 3000, clock=time.thread_time_ns)
    process = h.ab_differences(instrumented, plain, 150, clock=time.process_time_ns, block=20)
    provider.force_flush()
    label = "woken at every root" if mode == "wake" else "its 0.5 s tick only"
    print(
        f"| worker {label} | {h.trimmed_mean(process) / 1000:.1f} | "
        f"{h.trimmed_mean(thread) / 1000:.1f} | {h.trimmed_mean(wall) / 1000:.1f} |"
    )


def main() -> int:
    if "--stage" in sys.argv:
        at = sys.argv.index("--stage")
        _stage_child(sys.argv[at + 1], int(sys.argv[at + 2]))
        return 0
    if "--instructions" in sys.argv:
        instructions()
        return 0
    if "--wake-mode" in sys.argv:
        wake(sys.argv[sys.argv.index("--wake-mode") + 1])
        return 0
    if "--wake" in sys.argv:
        print("overhead per standalone LLM call, µs (A/B, 10% trimmed mean)")
        print("| trace processor | CPU, all threads | CPU, app thread | wall |")
        print("|---|---|---|---|")
        for mode in ("wake", "tick", "wake", "tick"):
            subprocess.run([sys.executable, __file__, "--wake-mode", mode], check=True)
        return 0
    breakdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
