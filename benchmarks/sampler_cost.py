"""CPU cost of the background resource sampler, as a share of one core, at several intervals.

    .venv/bin/python benchmarks/sampler_cost.py           # 10 s per interval
    .venv/bin/python benchmarks/sampler_cost.py --short   # 2 s per interval (CI)

For each interval the sampler runs alone for the same wall time; its own thread's CPU time
(user + system, from the thread's own CPU clock) divided by that wall time is the share
of one core it used. The cost of one sample is measured too, by timing ``sample_now()`` in a
loop. The target at the default interval (50 ms) is under 1 % of one core.

On a machine without NVML (as here) a sample reads RSS and checks for torch; with NVML each
sample adds a memory-info, a process-list and a utilization call per device, which this script
measures too when ``nvidia-ml-py`` and a GPU are present.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time

import psutil

from agentspans.resources import ResourceSampler, _Rss

INTERVALS_S = (0.01, 0.02, 0.05, 0.1, 0.5)
DEFAULT_INTERVAL_S = 0.05
TARGET_SHARE = 0.01


def _thread_cpu_s(thread: threading.Thread) -> float:
    """The thread's CPU time: its own POSIX clock (ns resolution), else the kernel's ticks."""
    assert thread.ident is not None
    if hasattr(time, "pthread_getcpuclockid"):
        return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    for info in psutil.Process().threads():  # 10 ms ticks: use long runs
        if info.id == thread.native_id:
            return float(info.user_time + info.system_time)
    raise RuntimeError(f"thread {thread.native_id} not found")


def share_of_core(interval_s: float, duration_s: float) -> tuple[float, int]:
    """(CPU share of one core, samples taken) for a sampler running ``duration_s``."""
    sampler = ResourceSampler.with_gpu_probe(interval_s)
    sampler.start()
    thread = sampler._thread
    assert thread is not None
    time.sleep(min(0.2, duration_s / 10))  # past start-up (psutil import, first sample)
    cpu_start, wall_start = _thread_cpu_s(thread), time.perf_counter()
    samples_start = len(sampler._times)
    time.sleep(duration_s)
    cpu_end, wall_end = _thread_cpu_s(thread), time.perf_counter()
    samples = len(sampler._times) - samples_start
    sampler.stop()
    return (cpu_end - cpu_start) / (wall_end - wall_start), samples


def per_sample_us(repeats: int) -> float:
    sampler = ResourceSampler.with_gpu_probe(DEFAULT_INTERVAL_S)
    sampler._rss_reader = _Rss()
    started = time.perf_counter()
    for _ in range(repeats):
        sampler.sample_now()
    elapsed = time.perf_counter() - started
    sampler.stop()
    return elapsed / repeats * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--short", action="store_true", help="2 s per interval (CI)")
    args = parser.parse_args(argv)
    duration_s = 2.0 if args.short else 10.0
    probe = ResourceSampler.with_gpu_probe(DEFAULT_INTERVAL_S)
    gpu = "NVML" if probe.has_gpu else f"no GPU ({probe.gpu_unavailable_reason})"
    probe.stop()
    print(f"sampler cost, {duration_s:.0f} s per interval, {gpu}, {psutil.cpu_count()} CPUs")
    print(f"one sample: {per_sample_us(2_000 if args.short else 20_000):.1f} us")
    print(f"{'interval':>10} {'samples':>8} {'% of one core':>14}")
    default_share = None
    for interval in INTERVALS_S:
        share, samples = share_of_core(interval, duration_s)
        marker = "  <- default" if interval == DEFAULT_INTERVAL_S else ""
        print(f"{interval * 1000:>8.0f}ms {samples:>8} {share * 100:>13.3f}%{marker}")
        if interval == DEFAULT_INTERVAL_S:
            default_share = share
    assert default_share is not None
    ok = default_share < TARGET_SHARE
    print(
        f"default {DEFAULT_INTERVAL_S * 1000:.0f} ms: {default_share * 100:.3f}% of one core "
        f"({'under' if ok else 'OVER'} the {TARGET_SHARE:.0%} target)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
