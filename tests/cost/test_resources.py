"""The resource sampler: timeline arithmetic, the absent-GPU path and the NVML path (faked:
no GPU on the test machines), and torch memory without importing torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import types

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.cost.fake_nvml import FakeCuda, FakeDevice, NVMLError_LibraryNotFound, make_pynvml

from agentspans import semconv
from agentspans.resources import (
    REASON_NO_DEVICE,
    REASON_NO_DRIVER,
    REASON_NO_MODULE,
    GpuSample,
    Nvml,
    ResourceSampler,
    probe_nvml,
)
from agentspans.testing import capture_spans

MS = 1_000_000
GIB = 1 << 30


def _sampler_with(devices: list[FakeDevice]) -> ResourceSampler:
    module = make_pynvml(devices)
    nvml, reason = probe_nvml(module)
    assert reason is None and nvml is not None
    return ResourceSampler(0.05, nvml)


def test_rss_peak_and_delta_over_the_bracketing_samples() -> None:
    sampler = ResourceSampler(0.05)
    for i, rss in enumerate([100, 120, 300, 180, 150, 400]):
        sampler.record(i * 50 * MS, rss)
    # Span from 60 ms to 160 ms: bracketed by the samples at 50 ms and 200 ms.
    peaks = sampler.peaks(60 * MS, 160 * MS)
    assert peaks is not None
    assert peaks.rss_peak_bytes == 300
    assert peaks.rss_delta_bytes == 150 - 120
    assert peaks.gpu is None and peaks.torch is None
    # A span exactly on sample times includes both ends.
    exact = sampler.peaks(100 * MS, 150 * MS)
    assert exact is not None and (exact.rss_peak_bytes, exact.rss_delta_bytes) == (300, -120)
    # No sample within one interval of the span: nothing rather than a stale number.
    assert sampler.peaks(2_000 * MS, 2_100 * MS) is None
    assert ResourceSampler(0.05).peaks(0, 1) is None


def test_vram_window_picks_the_device_that_rose_and_keeps_per_device_peaks() -> None:
    devices = [FakeDevice("A", total=80 * GIB), FakeDevice("B", total=40 * GIB)]
    sampler = _sampler_with(devices)
    timeline = [
        # device used bytes, this process's bytes (device 1), utilization
        ((30 * GIB, 2 * GIB), (None, 1 * GIB), (0.9, 0.10)),
        ((31 * GIB, 6 * GIB), (None, 5 * GIB), (0.9, 0.80)),
        ((30 * GIB, 9 * GIB), (None, 8 * GIB), (0.9, 1.00)),
        ((29 * GIB, 3 * GIB), (None, 2 * GIB), (0.9, 0.30)),
    ]
    for i, (used, mine, busy) in enumerate(timeline):
        sampler.record(i * 50 * MS, 1, GpuSample(used, mine, busy))
    peaks = sampler.peaks(10 * MS, 140 * MS)
    assert peaks is not None and peaks.gpu is not None
    gpu = peaks.gpu
    # Device 0 is fuller, but device 1 is where this span's memory went (+7 GiB vs +1 GiB).
    assert gpu.device == 1
    assert gpu.peak_bytes == 9 * GIB
    assert gpu.delta_bytes == 3 * GIB - 2 * GIB
    assert gpu.total_bytes == 40 * GIB
    assert gpu.peak_bytes_per_device == (31 * GIB, 9 * GIB)
    assert gpu.process_peak_bytes == 8 * GIB
    assert gpu.process_delta_bytes == 1 * GIB
    assert gpu.utilization_peak == 1.0
    assert gpu.utilization_mean == pytest.approx((0.1 + 0.8 + 1.0 + 0.3) / 4)


def test_torch_peak_sees_an_allocation_between_two_samples() -> None:
    sampler = ResourceSampler(0.05)
    cuda = FakeCuda(devices=1)
    cuda.allocate(0, 1 * GIB)

    def tick(t_ms: int) -> None:
        sampler.record(t_ms * MS, 1, None, tuple(cuda.allocated), tuple(cuda.max_allocated))

    tick(0)
    cuda.allocate(0, 5 * GIB)  # a short-lived tensor: allocated and freed between two ticks
    cuda.free(0, 5 * GIB)
    cuda.allocate(0, 1 * GIB)  # a lasting one
    tick(50)
    peaks = sampler.peaks(10 * MS, 40 * MS)
    assert peaks is not None and peaks.torch is not None
    assert peaks.torch.peak_bytes == 6 * GIB  # max_memory_allocated rose inside the window
    assert peaks.torch.delta_bytes == 1 * GIB
    # A later window in which the all-time maximum did not rise reports the sampled peak.
    tick(100)
    later = sampler.peaks(60 * MS, 90 * MS)
    assert later is not None and later.torch is not None
    assert later.torch.peak_bytes == 2 * GIB and later.torch.delta_bytes == 0


@pytest.mark.parametrize(
    ("module", "reason"),
    [
        (
            make_pynvml([], init_error=NVMLError_LibraryNotFound("libnvidia-ml.so.1")),
            REASON_NO_DRIVER,
        ),
        (make_pynvml([], init_error=RuntimeError("insufficient permissions")), None),
        (make_pynvml([]), REASON_NO_DEVICE),
    ],
)
def test_probe_says_why_there_is_no_gpu(module: object, reason: str | None) -> None:
    nvml, found = probe_nvml(module)
    assert nvml is None
    if reason is None:
        assert found == "NVML initialisation failed: insufficient permissions"
    else:
        assert found == reason


def test_probe_without_nvidia_ml_py(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml raises ImportError
    assert probe_nvml() == (None, REASON_NO_MODULE)


def test_nvml_reads_names_totals_and_this_processs_memory() -> None:

    device = FakeDevice("NVIDIA H100 80GB HBM3", total=80 * GIB, used=10 * GIB)
    device.processes = {os.getpid(): 3 * GIB, os.getpid() + 1: 5 * GIB}
    device.utilization_percent = 37
    module = make_pynvml([device])
    nvml, _ = probe_nvml(module)
    assert isinstance(nvml, Nvml)
    assert nvml.names == ["NVIDIA H100 80GB HBM3"] and nvml.totals == [80 * GIB]
    sample = nvml.sample(os.getpid())
    assert sample == GpuSample((10 * GIB,), (3 * GIB,), (0.37,))
    nvml.close()
    assert module.state["shutdowns"] == 1


def test_absent_gpu_spans_have_no_vram_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)
    with capture_spans(resources=True, resource_interval_s=0.01) as spans:
        import agentspans

        current = agentspans.instrumentation()
        assert current is not None and current.sampler is not None
        assert current.sampler.gpu_unavailable_reason == REASON_NO_MODULE
        with agentspans.agent_span("worker"):
            time.sleep(0.05)
        attributes = spans.one("invoke_agent worker").attributes or {}
    assert attributes[semconv.MEMORY_RSS_PEAK_BYTES] > 0
    assert not [name for name in attributes if name.startswith("agentspans.gpu.")]


def test_fake_nvml_and_torch_end_to_end(monkeypatch: pytest.MonkeyPatch) -> None:

    device = FakeDevice("Fake GPU", total=16 * GIB, used=2 * GIB, utilization_percent=5)
    device.processes = {os.getpid(): 1 * GIB}
    monkeypatch.setitem(sys.modules, "pynvml", make_pynvml([device]))
    cuda = FakeCuda(devices=1)
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=cuda))
    with capture_spans(resources=True, resource_interval_s=0.005) as spans:
        import agentspans

        with agentspans.agent_span("trainer"):
            time.sleep(0.1)
            # "Allocate" a 4 GiB tensor: NVML sees the device and the process grow.
            device.used += 4 * GIB
            device.processes[os.getpid()] += 4 * GIB
            device.utilization_percent = 90
            cuda.allocate(0, 4 * GIB)
            time.sleep(0.1)
        time.sleep(0.05)
        attributes = spans.one("invoke_agent trainer").attributes or {}
    assert attributes[semconv.GPU_DEVICE] == 0
    assert attributes[semconv.VRAM_PEAK_BYTES] == 6 * GIB
    assert attributes[semconv.VRAM_TOTAL_BYTES] == 16 * GIB
    assert attributes[semconv.VRAM_UTILIZATION_PEAK] == pytest.approx(6 / 16)
    assert attributes[semconv.VRAM_PROCESS_PEAK_BYTES] == 5 * GIB
    assert attributes[semconv.GPU_UTILIZATION_PEAK] == pytest.approx(0.9)
    assert attributes[semconv.TORCH_ALLOCATED_PEAK_BYTES] == 4 * GIB
    # The span ended with the tensor alive: VRAM rose by it over the span.
    assert attributes[semconv.VRAM_DELTA_BYTES] == 4 * GIB
    assert attributes[semconv.TORCH_ALLOCATED_DELTA_BYTES] == 4 * GIB


def test_torch_without_initialised_cuda_is_not_touched(monkeypatch: pytest.MonkeyPatch) -> None:
    cuda = FakeCuda(devices=1, initialised=False)
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=cuda))
    monkeypatch.setitem(sys.modules, "pynvml", None)
    with capture_spans(resources=True, resource_interval_s=0.005) as spans:
        import agentspans

        with agentspans.agent_span("cpu-only"):
            time.sleep(0.03)
        attributes = spans.one("invoke_agent cpu-only").attributes or {}
    assert semconv.TORCH_ALLOCATED_PEAK_BYTES not in attributes
    assert not cuda.touched  # device_count() would be the first step towards a CUDA context


def test_created_provider_resource_says_why_there_is_no_gpu() -> None:
    script = textwrap.dedent(
        """
        import json, sys
        sys.modules["pynvml"] = None
        import agentspans
        from opentelemetry import trace
        agentspans.instrument(exporter="none")
        print(json.dumps(dict(trace.get_tracer_provider().resource.attributes)))
        agentspans.uninstrument()
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    resource = json.loads(result.stdout.strip().splitlines()[-1])
    assert resource[semconv.GPU_UNAVAILABLE_REASON] == REASON_NO_MODULE


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_samples_itself() -> None:
    sampler = ResourceSampler(0.005)
    sampler.start()
    try:
        parent_reader = sampler._rss_reader
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report, then leave without running pytest's teardown
            try:
                time.sleep(0.1)
                thread = sampler._thread
                ok = (
                    sampler._pid == os.getpid()
                    and thread is not None
                    and thread.is_alive()
                    and sampler._rss_reader is not parent_reader
                    and sampler.peaks(time.time_ns() - 50 * MS, time.time_ns()) is not None
                )
                os.write(write_end, b"ok" if ok else b"bad")
            finally:
                os._exit(0)
        os.close(write_end)
        _, status = os.waitpid(pid, 0)
        assert os.read(read_end, 8) == b"ok"
        assert os.waitstatus_to_exitcode(status) == 0
        assert sampler._pid == os.getpid() and sampler._rss_reader is parent_reader
    finally:
        sampler.stop()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("sample"), st.integers(0, 30), st.integers(0, 1000)),
            st.tuples(st.just("span"), st.integers(-5, 700), st.integers(0, 200)),
        ),
        max_size=40,
    )
)
def test_a_window_answered_from_the_last_bounds_is_the_one_the_timeline_gives(
    steps: list[tuple[str, int, int]],
) -> None:
    # peaks() answers a span bracketed by the same two samples as the last one asked from that
    # answer's bounds, without the lock: it must be what the bisections give, sample by sample.
    sampler, reference = ResourceSampler(0.01), ResourceSampler(0.01)
    clock = 0
    for kind, a, b in steps:
        if kind == "sample":
            clock += a * MS
            sampler.record(clock, b)
            reference.record(clock, b)
            continue
        start = a * MS
        end = start + b * MS
        reference._last_bounds = None  # always the bisections
        reference._last_window = None
        assert sampler.peaks(start, end) == reference.peaks(start, end)
