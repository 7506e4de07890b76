"""A background sampler of process memory and GPU memory.

Reading ``/proc`` or NVML costs tens of microseconds to milliseconds, far too much for the path
of every span. One daemon thread samples at a fixed interval into a bounded timeline instead,
and a span's peaks are read from that timeline after it ends. CPU time is cheap enough
(``time.process_time``) to read exactly at span start and end; that happens in the processor, so
the timeline does not keep it.

GPU memory comes from NVML (``pip install agentspans[gpu]``, i.e. ``nvidia-ml-py``): per device,
for this process, and the device's utilization. PyTorch's allocator is read too when the app has
imported ``torch`` and initialised CUDA (agentspans never imports torch: that would take seconds
and a CUDA context). Without NVML the GPU fields are absent and :func:`probe_nvml` says why.
"""

from __future__ import annotations

import bisect
import importlib
import logging
import math
import os
import sys
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agentspans import semconv

logger = logging.getLogger("agentspans")

_MAX_SAMPLES = 20_000

# agentspans.gpu.unavailable_reason values.
REASON_NO_MODULE = "nvidia-ml-py not installed"
REASON_NO_DRIVER = "no NVIDIA driver"
REASON_NO_DEVICE = "no NVIDIA GPU"
_DRIVER_ERRORS = frozenset(
    {"NVMLError_LibraryNotFound", "NVMLError_DriverNotLoaded", "NVMLError_FunctionNotFound"}
)


@dataclass(frozen=True, slots=True)
class GpuWindow:
    """VRAM over one span's window, for the device whose usage rose most in it."""

    device: int
    peak_bytes: int
    delta_bytes: int
    total_bytes: int | None
    peak_bytes_per_device: tuple[int, ...]
    process_peak_bytes: int | None = None
    process_delta_bytes: int | None = None
    utilization_peak: float | None = None
    utilization_mean: float | None = None


@dataclass(frozen=True, slots=True)
class TorchWindow:
    """PyTorch's allocated CUDA memory over one span's window, on its busiest device."""

    peak_bytes: int
    delta_bytes: int


@dataclass(frozen=True, slots=True)
class Peaks:
    rss_peak_bytes: int | None
    rss_delta_bytes: int | None
    gpu: GpuWindow | None = None
    torch: TorchWindow | None = None


@dataclass(frozen=True, slots=True)
class GpuReading:
    """One device in the latest sample: what the ``hw.gpu.*`` gauges report."""

    index: int
    name: str | None
    used_bytes: int
    total_bytes: int
    utilization: float | None


@dataclass(frozen=True, slots=True)
class GpuSample:
    used: tuple[int, ...] = ()
    mine: tuple[int | None, ...] = ()
    utilization: tuple[float | None, ...] = ()


class Nvml:
    """The NVML calls the sampler needs, on an initialised NVML module."""

    def __init__(self, module: Any, handles: Sequence[Any]) -> None:
        self._nvml = module
        self._handles = list(handles)
        self.totals = [int(module.nvmlDeviceGetMemoryInfo(h).total) for h in self._handles]
        self.names = [self._name(h) for h in self._handles]

    def _name(self, handle: Any) -> str | None:
        try:
            name = self._nvml.nvmlDeviceGetName(handle)
        except Exception:
            return None
        return name.decode() if isinstance(name, bytes) else str(name)

    def sample(self, pid: int) -> GpuSample:
        used: list[int] = []
        mine: list[int | None] = []
        utilization: list[float | None] = []
        for handle in self._handles:
            used.append(int(self._nvml.nvmlDeviceGetMemoryInfo(handle).used))
            mine.append(self._process_bytes(handle, pid))
            try:
                utilization.append(self._nvml.nvmlDeviceGetUtilizationRates(handle).gpu / 100)
            except Exception:
                utilization.append(None)  # not supported on every device (MIG slices)
        return GpuSample(tuple(used), tuple(mine), tuple(utilization))

    def _process_bytes(self, handle: Any, pid: int) -> int | None:
        try:
            processes = self._nvml.nvmlDeviceGetComputeRunningProcesses(handle)
        except Exception:
            return None  # per-process accounting is not available in every container
        return sum(
            int(process.usedGpuMemory)
            for process in processes
            if process.pid == pid and process.usedGpuMemory
        )

    def close(self) -> None:
        try:
            self._nvml.nvmlShutdown()
        except Exception:
            pass


def probe_nvml(module: Any = None) -> tuple[Nvml | None, str | None]:
    """Open NVML, or say why it cannot be: ``(nvml, None)`` or ``(None, reason)``.

    Cheap where there is no GPU (an ImportError, or a failed ``dlopen`` of the driver library);
    on a GPU machine ``nvmlInit`` takes a few tens of milliseconds, once, at ``instrument()``.
    ``module`` replaces ``pynvml`` (tests inject a fake one).
    """
    if module is None:
        try:
            module = importlib.import_module("pynvml")
        except ImportError:
            return None, REASON_NO_MODULE
    try:
        module.nvmlInit()
    except Exception as exc:
        if type(exc).__name__ in _DRIVER_ERRORS:
            return None, REASON_NO_DRIVER
        return None, f"NVML initialisation failed: {exc}"
    try:
        count = int(module.nvmlDeviceGetCount())
        handles = [module.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        if not handles:
            module.nvmlShutdown()
            return None, REASON_NO_DEVICE
        return Nvml(module, handles), None
    except Exception as exc:
        try:
            module.nvmlShutdown()
        except Exception:
            pass
        return None, f"NVML initialisation failed: {exc}"


def resource_attributes(sampler: ResourceSampler | None) -> Mapping[str, str]:
    """What the resource of a provider agentspans creates says about the GPU (why none)."""
    if sampler is None or sampler.gpu_unavailable_reason is None:
        return {}
    return {semconv.GPU_UNAVAILABLE_REASON: sampler.gpu_unavailable_reason}


def _torch_cuda() -> Any:
    """``torch.cuda`` when the app imported torch and initialised CUDA; never imports it."""
    torch = sys.modules.get("torch")
    cuda = getattr(torch, "cuda", None)
    if cuda is None:
        return None
    try:
        return cuda if cuda.is_initialized() else None
    except Exception:
        return None


def _torch_sample() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(allocated, all-time max allocated) per CUDA device torch sees."""
    cuda = _torch_cuda()
    if cuda is None:
        return (), ()
    devices = range(int(cuda.device_count()))
    return (
        tuple(int(cuda.memory_allocated(d)) for d in devices),
        tuple(int(cuda.max_memory_allocated(d)) for d in devices),
    )


class _Rss:
    """This process's resident set size: ``/proc/self/statm`` read through one open descriptor
    (4 us a read) where Linux has it, psutil (30 us) elsewhere."""

    def __init__(self) -> None:
        self._fd: int | None = None
        self._process: Any = None
        try:
            self._fd = os.open("/proc/self/statm", os.O_RDONLY)
            self._page = os.sysconf("SC_PAGE_SIZE")
        except (OSError, AttributeError, ValueError):
            import psutil

            self._process = psutil.Process()

    def read(self) -> int:
        if self._fd is not None:
            return int(os.pread(self._fd, 128, 0).split()[1]) * self._page
        return int(self._process.memory_info().rss)

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


class ResourceSampler:
    """Samples RSS, VRAM and torch memory every ``interval_s`` into a bounded timeline."""

    def __init__(
        self,
        interval_s: float,
        nvml: Nvml | None = None,
        gpu_unavailable_reason: str | None = None,
    ) -> None:
        self.interval_s = interval_s
        self.gpu_unavailable_reason = gpu_unavailable_reason
        self._interval_ns = int(interval_s * 1e9)
        self._lock = threading.Lock()
        self._times: list[int] = []
        self._rss: list[int | None] = []
        self._gpu: list[GpuSample] = []
        self._torch: list[tuple[int, ...]] = []
        self._torch_max: list[tuple[int, ...]] = []
        # Whether any sample so far had a GPU or torch reading: on a machine without either
        # (most), a span's window skips reading those columns.
        self._seen_gpu = False
        self._seen_torch = False
        # The last window's answer, by (samples recorded, first index, last index): the spans of
        # one trace mostly fall between the same two samples, and get the same (frozen) Peaks.
        self._recorded = 0
        self._last_window: tuple[tuple[int, int, int], Peaks] | None = None
        # The last answer with the span bounds that give it (see ``peaks``): samples recorded,
        # start's range [a, b), end's range (c, d], the window's first and last sample times.
        self._last_bounds: tuple[int, float, float, float, float, int, int, Peaks] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._nvml = nvml
        self._pid = os.getpid()
        self._rss_reader: _Rss | None = None
        self._fork_hook = False

    @classmethod
    def with_gpu_probe(cls, interval_s: float) -> ResourceSampler:
        """A sampler with NVML opened now, so the reason for no GPU is known at once."""
        nvml, reason = probe_nvml()
        if reason is not None:
            logger.debug("agentspans: no GPU memory on spans: %s", reason)
        return cls(interval_s, nvml, reason)

    @property
    def has_gpu(self) -> bool:
        return self._nvml is not None

    @property
    def gpu_totals(self) -> list[int]:
        return list(self._nvml.totals) if self._nvml else []

    def start(self) -> None:
        if self._thread is not None:
            return
        self._rss_reader = _Rss()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="agentspans-resources", daemon=True)
        self._thread.start()
        if not self._fork_hook and hasattr(os, "register_at_fork"):
            self._fork_hook = True
            ref = weakref.WeakMethod(self._restart_in_child)
            os.register_at_fork(after_in_child=lambda: (m := ref()) and m())

    def _restart_in_child(self) -> None:
        """After ``fork()`` the thread is gone and the open ``statm`` is the parent's: a child
        (a pre-fork server's worker) samples itself with fresh ones."""
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        reader, self._rss_reader = self._rss_reader, None
        if reader is not None:
            reader.close()
        if self._thread is not None:  # it was running in the parent
            self._thread = None
            self.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)
        nvml, self._nvml = self._nvml, None
        if nvml is not None:
            nvml.close()
        reader, self._rss_reader = self._rss_reader, None
        if reader is not None:
            reader.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample_now()
            except Exception:
                logger.debug("agentspans: resource sample failed", exc_info=True)
            self._stop.wait(self.interval_s)

    def sample_now(self) -> None:
        """Take one sample (the background thread calls this; tests may too)."""
        now = time.time_ns()
        reader = self._rss_reader
        rss = reader.read() if reader is not None else None
        nvml = self._nvml
        gpu = nvml.sample(self._pid) if nvml is not None else GpuSample()
        allocated, max_allocated = _torch_sample()
        self.record(now, rss, gpu, allocated, max_allocated)

    def record(
        self,
        time_ns: int,
        rss: int | None,
        gpu: GpuSample | None = None,
        torch_allocated: tuple[int, ...] = (),
        torch_max_allocated: tuple[int, ...] = (),
    ) -> None:
        """Append one sample to the timeline (``sample_now``'s second half; tests inject)."""
        if gpu is not None and gpu.used:
            self._seen_gpu = True
        if torch_allocated or torch_max_allocated:
            self._seen_torch = True
        with self._lock:
            self._recorded += 1
            self._times.append(time_ns)
            self._rss.append(rss)
            self._gpu.append(gpu or GpuSample())
            self._torch.append(torch_allocated)
            self._torch_max.append(torch_max_allocated)
            if len(self._times) > _MAX_SAMPLES:
                drop = _MAX_SAMPLES // 4
                del self._times[:drop], self._rss[:drop], self._gpu[:drop]
                del self._torch[:drop], self._torch_max[:drop]

    def latest_gpu(self) -> list[GpuReading]:
        """Each device in the latest sample (empty without NVML or before the first sample)."""
        nvml = self._nvml
        with self._lock:
            last = self._gpu[-1] if self._gpu else None
        if nvml is None or last is None:
            return []
        return [
            GpuReading(
                index=d,
                name=nvml.names[d] if d < len(nvml.names) else None,
                used_bytes=used,
                total_bytes=nvml.totals[d] if d < len(nvml.totals) else 0,
                utilization=last.utilization[d] if d < len(last.utilization) else None,
            )
            for d, used in enumerate(last.used)
        ]

    def peaks(self, start_ns: int, end_ns: int) -> Peaks | None:
        """Peaks and changes over the samples that bracket ``[start_ns, end_ns]``.

        The window runs from the last sample at or before the start to the first at or after the
        end (or the latest one, when the sampler has not ticked since the span ended). None when
        no sample lies within one interval of the span.
        """
        bounds = self._last_bounds
        if (
            bounds is not None
            and bounds[0] == self._recorded  # no sample since: the timeline is as it was
            and bounds[1] <= start_ns < bounds[2]
            and bounds[3] < end_ns <= bounds[4]
        ):
            # The same two samples bracket this span as the last one asked (the spans of a
            # trace, calls in a loop): the same answer, without the lock and the bisections.
            return self._answer_from(bounds, start_ns, end_ns)
        return self._bisected(start_ns, end_ns)

    def _answer_from(
        self,
        bounds: tuple[int, float, float, float, float, int, int, Peaks],
        start_ns: int,
        end_ns: int,
    ) -> Peaks | None:
        if bounds[6] < start_ns - self._interval_ns or bounds[5] > end_ns + self._interval_ns:
            return None
        return bounds[7]

    def _bisected(self, start_ns: int, end_ns: int) -> Peaks | None:
        with self._lock:
            times = self._times
            if not times:
                return None
            before = bisect.bisect_right(times, start_ns) - 1  # the last sample at or before
            after = bisect.bisect_left(times, end_ns)  # the first at or after the end
            lo = max(before, 0)
            hi = min(after, len(times) - 1)
            if times[hi] < start_ns - self._interval_ns or times[lo] > end_ns + self._interval_ns:
                return None
            recorded = self._recorded
            key = (recorded, lo, hi)
            # Where a span's start and end give these same two bisections.
            span_bounds = (
                recorded,
                times[before] if before >= 0 else -math.inf,
                times[before + 1] if before + 1 < len(times) else math.inf,
                times[after - 1] if after > 0 else -math.inf,
                times[after] if after < len(times) else math.inf,
                times[lo],
                times[hi],
            )
            last = self._last_window
            if last is not None and last[0] == key:
                self._last_bounds = (*span_bounds, last[1])
                return last[1]
            rss = [value for value in self._rss[lo : hi + 1] if value is not None]
            gpu = self._gpu[lo : hi + 1] if self._seen_gpu else None
            allocated = self._torch[lo : hi + 1] if self._seen_torch else None
            max_allocated = (self._torch_max[lo], self._torch_max[hi])
        found = Peaks(
            rss_peak_bytes=max(rss) if rss else None,
            rss_delta_bytes=rss[-1] - rss[0] if rss else None,
            gpu=_gpu_window(gpu, self.gpu_totals) if gpu is not None else None,
            torch=_torch_window(allocated, max_allocated) if allocated is not None else None,
        )
        self._last_window = (key, found)
        self._last_bounds = (*span_bounds, found)
        return found


def _column(samples: Sequence[tuple[Any, ...]], index: int) -> list[Any]:
    return [sample[index] for sample in samples if len(sample) > index]


def _gpu_window(samples: Sequence[GpuSample], totals: Sequence[int]) -> GpuWindow | None:
    used = [sample.used for sample in samples]
    devices = max((len(sample) for sample in used), default=0)
    if devices == 0:
        return None
    columns = [_column(used, d) for d in range(devices)]
    peaks = tuple(max(column) for column in columns)
    # The device that rose most above its level at the span's start; the fullest on a tie.
    device = max(range(devices), key=lambda d: (peaks[d] - columns[d][0], peaks[d]))
    column = columns[device]
    mine = [value for value in _column([s.mine for s in samples], device) if value is not None]
    busy = [v for v in _column([s.utilization for s in samples], device) if v is not None]
    return GpuWindow(
        device=device,
        peak_bytes=peaks[device],
        delta_bytes=column[-1] - column[0],
        total_bytes=totals[device] if device < len(totals) else None,
        peak_bytes_per_device=peaks,
        process_peak_bytes=max(mine) if mine else None,
        process_delta_bytes=mine[-1] - mine[0] if len(mine) > 1 else None,
        utilization_peak=round(max(busy), 4) if busy else None,
        utilization_mean=round(sum(busy) / len(busy), 4) if busy else None,
    )


def _torch_window(
    allocated: Sequence[tuple[int, ...]], max_allocated: tuple[tuple[int, ...], tuple[int, ...]]
) -> TorchWindow | None:
    devices = max((len(sample) for sample in allocated), default=0)
    if devices == 0:
        return None
    first_max, last_max = max_allocated
    best: TorchWindow | None = None
    for d in range(devices):
        column = _column(allocated, d)
        peak = max(column)
        # The all-time maximum rose during the window: the new maximum was reached inside it,
        # even when no sample caught it (a short-lived allocation between two ticks).
        if d < len(last_max) and last_max[d] > (first_max[d] if d < len(first_max) else 0):
            peak = max(peak, last_max[d])
        if best is None or peak > best.peak_bytes:
            best = TorchWindow(peak_bytes=peak, delta_bytes=column[-1] - column[0])
    return best
