"""Instructions per LLM call and per agent workflow, counted by valgrind's callgrind.

Counting instructions instead of timing makes the figure independent of a busy machine, and
callgrind's ``--separate-threads=yes`` splits it into the application's thread and the
background threads (the analysis worker, the resource sampler, the exporters' batch threads).

Each configuration runs twice under callgrind, in fresh processes doing the same set-up and
warm-up, then ``N1`` and ``N2`` of the measured unit; the count per unit is
``(Ir(N2) - Ir(N1)) / (N2 - N1)``, so start-up, imports, warm-up and the final flush cancel out.
Callgrind's instrumentation is switched on only after the warm-up (a client request sent
through ctypes, see ``_callgrind.py``): imports run at valgrind's uninstrumented speed.

Units:

* ``call`` — one chat call through the real ``openai`` client over an in-process transport,
  the workload of ``per_call.py``: uninstrumented, the bare-span floor (one SDK span with the
  GenAI attributes), agentspans with its defaults and lean (analysis, resources and metrics
  off), and the peers, each in its own virtual environment with its own uninstrumented baseline;
* ``workflow`` — one ``invoke_agent`` span around 10 such LLM calls and 5 tool calls (16 spans,
  one trace): uninstrumented, the same 16 spans made with the bare SDK, and agentspans.

Time-driven background work would be inflated by valgrind's slowdown (a thread that wakes every
50 ms wakes 50 times as often per call when everything runs 50 times slower), so every periodic
interval is multiplied by ``--scale`` (50 by default, about callgrind's slowdown on CPython):
agentspans' worker tick (``processors.pipeline._TICK_S``) and resource sampler
(``resource_interval_s``), and the SDK's batch span processor delay (``OTEL_BSP_SCHEDULE_DELAY``).
Before the count stops, the background work is drained: agentspans' worker is woken and waited
for on its own thread, then the provider is flushed.

    python benchmarks/instructions.py           # every configuration, N1=100, N2=300 calls
    python benchmarks/instructions.py --short   # CI: uninstrumented/floor/agentspans, small N
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import _callgrind as cg
import _harness as h

SCRIPT = Path(__file__).resolve()
PEERS = {
    "contrib-openai-v2": "opentelemetry-instrumentation-openai-v2 2.4b0",
    "openlit": "openlit 1.45.0",
    "traceloop-sdk": "traceloop-sdk 0.62.4",
}
CALL_LOCAL = ("uninstrumented", "bare-span", "agentspans", "agentspans-lean")
WORKFLOW = ("workflow:uninstrumented", "workflow:bare", "workflow:agentspans")
SHORT = ("uninstrumented", "bare-span", "agentspans")
LLM_CALLS, TOOL_CALLS = 10, 5
# Goals (issue #13), over the same environment's uninstrumented run.
CALL_APP_GOAL, CALL_ALL_GOAL, WORKFLOW_GOAL = 1.3, 1.5, 1.3


def configurations() -> list[h.Configuration]:
    found = [h.Configuration(name) for name in CALL_LOCAL]
    for peer, note in PEERS.items():
        found.append(h.Configuration(f"uninstrumented@{peer}", venv=peer))
        found.append(h.Configuration(peer, venv=peer, note=note))
    found.extend(h.Configuration(name) for name in WORKFLOW)
    return found


# -- worker side ----------------------------------------------------------------------------------
def _trace_processor(provider: Any) -> Any:
    active = getattr(provider, "_active_span_processor", None)
    for processor in getattr(active, "_span_processors", ()):
        if type(processor).__name__ == "TraceProcessor":
            return processor
    return None


def drain(provider: Any) -> None:
    """Finish the background work so far: agentspans' worker on its own thread (woken, then
    waited for), then the provider's flush (the batch processors export on this thread)."""
    if provider is None:
        return
    processor = _trace_processor(provider)
    if processor is not None:
        processor._wake.set()
        while processor._queue:
            time.sleep(0.001)
        with processor._process_lock:  # the worker holds it until the batch is processed
            pass
    provider.force_flush()


def _tool_work() -> int:
    return sum(len(str(i)) for i in range(20))


def _workflow(agent: Callable[[], Any], tool: Callable[[], Any], llm: Callable[[], Any]) -> Any:
    def run() -> None:
        with agent():
            for i in range(LLM_CALLS):
                llm()
                if i % 2:
                    with tool():
                        _tool_work()

    return run


def _setup(name: str, scale: float, exporter: Any, plain: Callable[[], Any]) -> tuple[Any, Any]:
    """(the measured unit, the provider to drain) for one configuration."""
    import contextlib

    import per_call

    if name in ("uninstrumented", "workflow:uninstrumented") or name.startswith("uninstrumented@"):
        if name == "workflow:uninstrumented":
            return _workflow(contextlib.nullcontext, contextlib.nullcontext, plain), None
        return plain, None
    if name in ("bare-span", "workflow:bare"):
        call, provider = per_call.setup_bare_span(exporter, plain)
        if name == "bare-span":
            return call, provider
        tracer = provider.get_tracer("bench.floor")

        def agent() -> Any:
            return tracer.start_as_current_span(
                "invoke_agent researcher",
                attributes={
                    "gen_ai.operation.name": "invoke_agent",
                    "gen_ai.agent.name": "researcher",
                },
            )

        def tool() -> Any:
            return tracer.start_as_current_span(
                "execute_tool search",
                attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"},
            )

        return _workflow(agent, tool, call), provider
    if name in ("agentspans", "agentspans-lean", "workflow:agentspans"):
        from agentspans.processors import pipeline

        pipeline._TICK_S *= scale  # type: ignore[attr-defined]
        options: dict[str, Any] = {"resource_interval_s": 0.05 * scale}
        if name == "agentspans-lean":
            options = {"analysis": False, "resources": False, "metrics": False}
        provider = per_call.setup_agentspans(exporter, **options)
        llm = _instrumented_create()
        if name != "workflow:agentspans":
            return llm, provider
        import agentspans

        return _workflow(
            lambda: agentspans.agent_span("researcher"), lambda: agentspans.tool_span("search"), llm
        ), provider
    provider = per_call.SETUPS[name](exporter)
    return _instrumented_create(), provider


_client: Any = None


def _instrumented_create() -> Callable[[], Any]:
    completions = _client.chat.completions

    def call() -> Any:
        return completions.create(**h.REQUEST)

    return call


def worker(name: str, units: int, warmup: int, scale: float) -> dict[str, Any]:
    global _client
    # Room for every span in every batch processor, and its timer slowed like everything else.
    os.environ["OTEL_BSP_MAX_QUEUE_SIZE"] = str(20 * (warmup + units) + 2048)
    os.environ["OTEL_BSP_SCHEDULE_DELAY"] = str(int(5000 * scale))
    _client = h.make_client()
    raw = h.raw_chat_create()
    completions = _client.chat.completions

    def plain() -> Any:
        return raw(completions, **h.REQUEST)

    exporter = h.counting_exporter()
    unit, provider = _setup(name, scale, exporter, plain)
    for _ in range(warmup):
        unit()
    drain(provider)
    before = exporter.count
    started = cg.start_instrumentation()
    for _ in range(units):
        unit()
    drain(provider)
    return {
        "config": name,
        "units": units,
        "spans": exporter.count - before,
        "instrumentation_started": started,
    }


# -- parent side ----------------------------------------------------------------------------------
def _valgrind(
    configuration: h.Configuration, units: int, args: argparse.Namespace, scratch: Path
) -> dict[str, Any]:
    python = configuration.python()
    if python is None:
        return {"error": configuration.missing_reason()}
    prefix = scratch / f"{configuration.name.replace(':', '_')}-{units}"
    late = cg.can_start_instrumentation()
    command = [
        "valgrind",
        "--tool=callgrind",
        "--separate-threads=yes",
        f"--instr-atstart={'no' if late else 'yes'}",
        "--dump-instr=no",
        "--dump-line=no",
        f"--callgrind-out-file={prefix}",
        str(python),
        str(SCRIPT),
        "--worker",
        configuration.name,
        "--units",
        str(units),
        "--warmup",
        str(args.warmup),
        "--scale",
        str(args.scale),
    ]
    env = dict(os.environ)
    env.pop("AGENTSPANS_STRICT", None)
    env["PYTHONPATH"] = str(SCRIPT.parent) + (
        os.pathsep + str(h.REPO / "src") if configuration.venv is None else ""
    )
    env["PYTHONHASHSEED"] = "0"
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=args.timeout, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        return {"error": f"exit {done.returncode}: {tail}"}
    result: dict[str, Any] = json.loads(lines[-1])
    result["threads"] = cg.thread_counts(prefix)
    return result


def measure(
    configuration: h.Configuration, args: argparse.Namespace, scratch: Path
) -> dict[str, Any]:
    workflow = configuration.name.startswith("workflow:")
    n1, n2 = args.workflows if workflow else args.calls
    low = _valgrind(configuration, n1, args, scratch)
    if "error" in low:
        return low
    high = _valgrind(configuration, n2, args, scratch)
    if "error" in high:
        return high
    app = high["threads"].get(1, 0) - low["threads"].get(1, 0)
    every = sum(high["threads"].values()) - sum(low["threads"].values())
    return {
        "app": app / (n2 - n1),
        "all": every / (n2 - n1),
        "threads": len(high["threads"]),
        "spans_per_unit": (high["spans"] - low["spans"]) / (n2 - n1),
        "n": (n1, n2),
    }


def _baseline(name: str) -> str:
    if name.startswith("workflow:"):
        return "workflow:uninstrumented"
    peer = next((p for p in PEERS if name == p), None)
    return f"uninstrumented@{peer}" if peer else "uninstrumented"


def _k(value: float) -> str:
    return f"{value / 1000:,.1f}k"


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> tuple[str, bool]:
    overheads: dict[str, tuple[float, float]] = {}
    for name, result in results.items():
        base = results.get(_baseline(name), {})
        baseline = name.startswith("uninstrumented") or name == "workflow:uninstrumented"
        if "error" not in result and not baseline and "app" in base:
            overheads[name] = (result["app"] - base["app"], result["all"] - base["all"])
    rows, failed = [], False
    for name, result in results.items():
        if "error" in result:
            rows.append([name, "not measured: " + result["error"], "", "", "", "", "", ""])
            failed = failed or not (name in PEERS or "@" in name)
            continue
        floor = "workflow:bare" if name.startswith("workflow:") else "bare-span"
        mine = overheads.get(name)
        cells = [name, _k(result["app"]), _k(result["all"])]
        cells += [_k(mine[0]), _k(mine[1])] if mine else ["—", "—"]
        for i in range(2):
            ratio = _ratio(overheads, name, floor, i)
            cells.append("—" if ratio is None else f"{ratio:.2f}x")
        cells.append(f"{result['spans_per_unit']:.2f}")
        rows.append(cells)
    headers = [
        "configuration",
        "Ir/unit, app thread",
        "Ir/unit, all threads",
        "added, app",
        "added, all",
        "x floor, app",
        "x floor, all",
        "spans/unit",
    ]
    lines = [
        "callgrind instructions (Ir) per unit = (Ir(N2) - Ir(N1)) / (N2 - N1); "
        f"calls N1,N2={args.calls}, workflows N1,N2={args.workflows}, warm-up {args.warmup}; "
        f"periodic background work slowed x{args.scale:g}",
        f"machine: {h.machine()}; {_valgrind_version()}",
        f"command: python benchmarks/instructions.py {' '.join(sys.argv[1:])}".rstrip(),
        "",
        h.table(headers, rows),
        "",
        "'added': over the same environment's uninstrumented unit. 'x floor': added / the "
        "floor's added, the floor being bare-span for a call (one SDK span with the GenAI "
        f"attributes) and workflow:bare for a workflow (the same {1 + LLM_CALLS + TOOL_CALLS} "
        "spans from the bare SDK). 'app thread' is callgrind's thread 1; 'all threads' sums "
        "every thread.",
    ]
    lines.extend(_verdicts(overheads))
    return "\n".join(lines), failed


def _ratio(
    overheads: dict[str, tuple[float, float]], name: str, floor: str, i: int
) -> float | None:
    mine, base = overheads.get(name), overheads.get(floor)
    if mine is None or base is None or base[i] <= 0:
        return None
    return mine[i] / base[i]


def _verdicts(overheads: dict[str, tuple[float, float]]) -> list[str]:
    out = []
    for i, (label, goal) in enumerate(
        (("app thread", CALL_APP_GOAL), ("all threads", CALL_ALL_GOAL))
    ):
        ratio = _ratio(overheads, "agentspans", "bare-span", i)
        if ratio is None:
            out.append(f"goal (call, {label}): cannot judge (agentspans or the floor missing)")
            continue
        verdict = "met" if ratio <= goal else f"NOT met by {ratio - goal:.2f}x"
        peer = _ratio(overheads, "contrib-openai-v2", "bare-span", i)
        below = (
            "contrib not measured"
            if peer is None
            else f"{'below' if ratio < peer else 'NOT below'} contrib ({peer:.2f}x)"
        )
        out.append(f"goal (call, {label}): <= {goal}x floor {verdict} ({ratio:.2f}x); {below}")
    ratio = _ratio(overheads, "workflow:agentspans", "workflow:bare", 1)
    if ratio is None:
        out.append("goal (workflow, all threads): not measured")
    else:
        verdict = "met" if ratio <= WORKFLOW_GOAL else f"NOT met by {ratio - WORKFLOW_GOAL:.2f}x"
        out.append(
            f"goal (workflow, all threads): <= {WORKFLOW_GOAL}x the bare spans {verdict} "
            f"({ratio:.2f}x)"
        )
    return out


def _valgrind_version() -> str:
    done = subprocess.run(["valgrind", "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="CI mode")
    parser.add_argument("--only", help="comma-separated configuration names")
    parser.add_argument("--calls", type=lambda s: tuple(int(x) for x in s.split(",")))
    parser.add_argument("--workflows", type=lambda s: tuple(int(x) for x in s.split(",")))
    parser.add_argument("--warmup", type=int)
    parser.add_argument("--scale", type=float, default=50.0)
    parser.add_argument("--jobs", type=int, default=min(os.cpu_count() or 1, 4))
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--units", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.calls = args.calls or ((10, 30) if args.short else (100, 300))
    args.workflows = args.workflows or ((2, 6) if args.short else (10, 30))
    args.warmup = args.warmup if args.warmup is not None else (10 if args.short else 50)
    if args.worker:
        h.emit(worker(args.worker, args.units, args.warmup, args.scale))
        sys.stdout.flush()
        os._exit(0)  # no interpreter teardown: its cost differs between N1 and N2 by noise
    if shutil.which("valgrind") is None:
        print("instructions: valgrind is not installed (apt-get install valgrind); not measured")
        return 1
    chosen = configurations()
    if args.only:
        wanted = set(args.only.split(","))
        chosen = [c for c in chosen if c.name in wanted]
    elif args.short:
        chosen = [c for c in chosen if c.name in SHORT]
    results: dict[str, dict[str, Any]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="agentspans-callgrind-") as scratch,
        ThreadPoolExecutor(max_workers=max(args.jobs, 1)) as pool,
    ):
        futures = {c.name: pool.submit(measure, c, args, Path(scratch)) for c in chosen}
        for configuration in chosen:
            print(f"  measuring {configuration.name} …", file=sys.stderr, flush=True)
            results[configuration.name] = futures[configuration.name].result()
    text, failed = report(results, args)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
