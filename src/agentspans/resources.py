"""A background sampler of process memory and GPU memory.

Reading ``/proc`` or NVML costs tens of microseconds to milliseconds, far too much for the path
of every span. One daemon thread samples at a fixed interval into a bounded timeline instead,
and a span's peaks are read from that timeline after it ends. CPU time is cheap enough
(``time.process_time``) to read exactly at span start and end; that happens in the processor.

GPU memory comes from NVML (``pip install agentspans[gpu]``, i.e. ``nvidia-ml-py``) when it can
be initialised; without a GPU the GPU fields are simply absent.
"""

from __future__ import annotations

import bisect
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("agentspans")

_MAX_SAMPLES = 20_000


@dataclass(frozen=True, slots=True)
class Peaks:
    rss_peak_bytes: int | None
    rss_delta_bytes: int | None
    gpu_device: int | None = None
    vram_peak_bytes: int | None = None
    vram_total_bytes: int | None = None
    vram_process_peak_bytes: int | None = None


class _Nvml:
    """The NVML calls we need, or nothing at all when no NVIDIA GPU and driver are usable."""

    def __init__(self, module: Any, handles: list[Any]) -> None:
        self._nvml = module
        self._handles = handles
        self.totals = [int(module.nvmlDeviceGetMemoryInfo(h).total) for h in handles]

    @classmethod
    def open(cls) -> _Nvml | None:
        try:
            import pynvml
        except ImportError:
            return None
        try:
            pynvml.nvmlInit()
            count = pynvml.nvmlDeviceGetCount()
            handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            return cls(pynvml, handles) if handles else None
        except Exception as exc:  # no driver, no device, a container without the library
            logger.debug("agentspans: NVML unavailable (%s); no GPU memory on spans", exc)
            return None

    def sample(self, pid: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(device used bytes, this process's used bytes) per device."""
        used: list[int] = []
        mine: list[int] = []
        for handle in self._handles:
            used.append(int(self._nvml.nvmlDeviceGetMemoryInfo(handle).used))
            process_bytes = 0
            try:
                for process in self._nvml.nvmlDeviceGetComputeRunningProcesses(handle):
                    if process.pid == pid and process.usedGpuMemory:
                        process_bytes += int(process.usedGpuMemory)
            except Exception:
                pass  # per-process accounting is not available in every container
            mine.append(process_bytes)
        return tuple(used), tuple(mine)

    def close(self) -> None:
        try:
            self._nvml.nvmlShutdown()
        except Exception:
            pass


class ResourceSampler:
    """Samples RSS (and VRAM where NVML works) every ``interval_s`` into a bounded timeline."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._interval_ns = int(interval_s * 1e9)
        self._lock = threading.Lock()
        self._times: list[int] = []
        self._rss: list[int] = []
        self._vram: list[tuple[int, ...]] = []
        self._vram_mine: list[tuple[int, ...]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._nvml: _Nvml | None = None
        self._pid = os.getpid()
        self._process: Any = None

    @property
    def has_gpu(self) -> bool:
        return self._nvml is not None

    @property
    def gpu_totals(self) -> list[int]:
        return list(self._nvml.totals) if self._nvml else []

    def start(self) -> None:
        if self._thread is not None:
            return
        import psutil

        self._process = psutil.Process()
        self._thread = threading.Thread(target=self._run, name="agentspans-resources", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)
        if self._nvml is not None:
            self._nvml.close()
            self._nvml = None

    def _run(self) -> None:
        # NVML is opened on this thread so instrument() never waits for the driver.
        self._nvml = _Nvml.open()
        while not self._stop.is_set():
            try:
                self.sample_now()
            except Exception:
                logger.debug("agentspans: resource sample failed", exc_info=True)
            self._stop.wait(self.interval_s)

    def sample_now(self) -> None:
        now = time.time_ns()
        rss = int(self._process.memory_info().rss) if self._process is not None else 0
        vram, mine = self._nvml.sample(self._pid) if self._nvml is not None else ((), ())
        with self._lock:
            self._times.append(now)
            self._rss.append(rss)
            self._vram.append(vram)
            self._vram_mine.append(mine)
            if len(self._times) > _MAX_SAMPLES:
                drop = _MAX_SAMPLES // 4
                del self._times[:drop], self._rss[:drop], self._vram[:drop], self._vram_mine[:drop]

    def peaks(self, start_ns: int, end_ns: int) -> Peaks | None:
        """Peaks over the samples that bracket ``[start_ns, end_ns]``; None when none do."""
        with self._lock:
            times = self._times
            if not times:
                return None
            lo = max(bisect.bisect_right(times, start_ns) - 1, 0)
            hi = min(bisect.bisect_left(times, end_ns), len(times) - 1)
            if times[hi] < start_ns - self._interval_ns or times[lo] > end_ns + self._interval_ns:
                return None
            rss_window = self._rss[lo : hi + 1]
            vram_window = self._vram[lo : hi + 1]
            mine_window = self._vram_mine[lo : hi + 1]
        rss_peak = max(rss_window)
        rss_delta = rss_window[-1] - rss_window[0]
        if not vram_window or not vram_window[0]:
            return Peaks(rss_peak, rss_delta)
        devices = len(vram_window[0])
        per_device = [
            max(sample[d] for sample in vram_window if len(sample) > d) for d in range(devices)
        ]
        device = max(range(devices), key=per_device.__getitem__)
        totals = self.gpu_totals
        mine_peak = max(
            (sample[device] for sample in mine_window if len(sample) > device), default=0
        )
        return Peaks(
            rss_peak,
            rss_delta,
            gpu_device=device,
            vram_peak_bytes=per_device[device],
            vram_total_bytes=totals[device] if device < len(totals) else None,
            vram_process_peak_bytes=mine_peak or None,
        )
