"""Start-up time and memory: importing and initialising the instrumentation, and peak RSS.

Each configuration runs in fresh processes (``--runs`` of them; the median is shown). A process
imports ``openai`` and makes its client first (the app's own cost, the same everywhere), then
times importing the instrumentation and initialising it (``import agentspans`` +
``instrument()``; contrib's ``import`` + ``OpenAIInstrumentor().instrument()``; the floor's SDK
``TracerProvider`` and batch processor), makes ``--calls`` chat calls over the in-process
transport of ``per_call.py`` (so what loads on the first priced or analysed span loads),
flushes, and reports its peak RSS (``ru_maxrss``).

    python benchmarks/startup.py            # 5 processes per configuration, 500 calls each
    python benchmarks/startup.py --short    # CI: 1 process each, 50 calls
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
LOCAL = ("uninstrumented", "bare-span", "agentspans", "agentspans-lean")
PEER = "contrib-openai-v2"
# Goals (issue #13): import+init no slower than contrib's, peak RSS within 10 MiB of the floor.
RSS_MARGIN_MIB = 10.0


def configurations() -> list[h.Configuration]:
    return [
        *(h.Configuration(name) for name in LOCAL),
        h.Configuration(f"uninstrumented@{PEER}", venv=PEER),
        h.Configuration(PEER, venv=PEER),
    ]


def worker(name: str, calls: int) -> dict[str, Any]:
    import per_call

    client = h.make_client()
    raw = h.raw_chat_create()
    completions = client.chat.completions

    def plain() -> Any:
        return raw(completions, **h.REQUEST)

    exporter = h.counting_exporter()
    call, provider = plain, None
    started, cpu_started = time.perf_counter(), time.process_time()
    if name == "bare-span":
        call, provider = per_call.setup_bare_span(exporter, plain)
    elif not name.startswith("uninstrumented"):
        provider = per_call.SETUPS[name](exporter)

        def call() -> Any:
            return completions.create(**h.REQUEST)

    setup_ms = (time.perf_counter() - started) * 1000
    setup_cpu_ms = (time.process_time() - cpu_started) * 1000
    rss_after_setup = h.peak_rss_mib()
    for _ in range(calls):
        call()
    if provider is not None:
        provider.force_flush()
    return {
        "config": name,
        "setup_ms": setup_ms,
        "setup_cpu_ms": setup_cpu_ms,
        "rss_after_setup_mib": rss_after_setup,
        "peak_rss_mib": h.peak_rss_mib(),
        "spans": exporter.count,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true")
    parser.add_argument("--runs", type=int)
    parser.add_argument("--calls", type=int)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.runs = args.runs or (1 if args.short else 5)
    args.calls = args.calls or (50 if args.short else 500)
    if args.worker:
        h.emit(worker(args.worker, args.calls))
        return 0
    results: dict[str, list[dict[str, Any]]] = {c.name: [] for c in configurations()}
    for _ in range(args.runs):  # interleaved: drift on a busy machine hits all alike
        for configuration in configurations():
            found = h.run_worker(SCRIPT, configuration, ["--calls", str(args.calls)], 300)
            results[configuration.name].append(found)
    rows, medians = [], {}
    for name, runs in results.items():
        errors = [r["error"] for r in runs if "error" in r]
        if errors:
            rows.append([name, "not measured: " + errors[0], "", "", "", ""])
            continue
        good = runs
        median = {
            key: statistics.median(r[key] for r in good)
            for key in ("setup_ms", "setup_cpu_ms", "rss_after_setup_mib", "peak_rss_mib")
        }
        medians[name] = median
        rows.append(
            [
                name,
                f"{median['setup_ms']:.1f}",
                f"{median['setup_cpu_ms']:.1f}",
                f"{median['rss_after_setup_mib']:.1f}",
                f"{median['peak_rss_mib']:.1f}",
                f"{good[0]['spans']}",
            ]
        )
    print(
        f"start-up and memory: median of {args.runs} fresh process(es) per configuration, "
        f"{args.calls} calls each"
    )
    print(f"machine: {h.machine()}")
    print(f"command: python benchmarks/startup.py {' '.join(sys.argv[1:])}".rstrip())
    print()
    headers = [
        "configuration",
        "import+init ms",
        "import+init CPU ms",
        "RSS after init MiB",
        "peak RSS MiB",
        "spans",
    ]
    print(h.table(headers, rows))
    print()
    print(
        "import+init: importing and initialising the instrumentation once openai is imported "
        "(the floor: the SDK's TracerProvider and BatchSpanProcessor; the SDK's own import is "
        "done before, in every configuration). Peak RSS after the calls "
        "and a flush, so what loads on the first priced or analysed span counts."
    )
    ours, contrib, floor = medians.get("agentspans"), medians.get(PEER), medians.get("bare-span")
    if ours and contrib:
        # CPU time: on a busy machine the wall-clock column moves with the load.
        mine, theirs = ours["setup_cpu_ms"], contrib["setup_cpu_ms"]
        verdict = "met" if mine <= theirs else f"NOT met by {mine - theirs:.1f} ms"
        print(f"goal (import+init CPU <= contrib's): {verdict} ({mine:.1f} vs {theirs:.1f} ms)")
    else:
        print("goal (import+init <= contrib's): cannot judge (contrib not measured)")
    if ours and floor:
        above = ours["peak_rss_mib"] - floor["peak_rss_mib"]
        verdict = "met" if above <= RSS_MARGIN_MIB else f"NOT met by {above - RSS_MARGIN_MIB:.1f}"
        print(
            f"goal (peak RSS within {RSS_MARGIN_MIB:g} MiB of the floor): {verdict} "
            f"({above:+.1f} MiB)"
        )
    failed = any("error" in r for name in LOCAL for r in results[name])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
