"""A stand-in ``pynvml`` module for the NVML code path (no GPU on the test machines).

It implements the calls agentspans makes with the shapes nvidia-ml-py returns (objects with
``.used`` / ``.total`` / ``.gpu`` / ``.pid`` / ``.usedGpuMemory``); tests drive the numbers.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Any


class NVMLError(Exception):
    pass


class NVMLError_LibraryNotFound(NVMLError):
    pass


@dataclass
class FakeDevice:
    name: str
    total: int
    used: int = 0
    utilization_percent: int = 0
    processes: dict[int, int] = field(default_factory=dict)  # pid -> bytes


def make_pynvml(devices: list[FakeDevice], init_error: Exception | None = None) -> Any:
    module = types.ModuleType("pynvml")
    state = {"initialised": False, "shutdowns": 0}

    def nvmlInit() -> None:
        if init_error is not None:
            raise init_error
        state["initialised"] = True

    def handle(index: int) -> FakeDevice:
        assert state["initialised"], "NVML call before nvmlInit"
        return devices[index]

    module.nvmlInit = nvmlInit  # type: ignore[attr-defined]
    module.nvmlShutdown = lambda: state.__setitem__("shutdowns", state["shutdowns"] + 1)  # type: ignore[attr-defined]
    module.nvmlDeviceGetCount = lambda: len(devices)  # type: ignore[attr-defined]
    module.nvmlDeviceGetHandleByIndex = handle  # type: ignore[attr-defined]
    module.nvmlDeviceGetName = lambda d: d.name  # type: ignore[attr-defined]
    module.nvmlDeviceGetMemoryInfo = lambda d: types.SimpleNamespace(  # type: ignore[attr-defined]
        total=d.total, used=d.used, free=d.total - d.used
    )
    module.nvmlDeviceGetUtilizationRates = lambda d: types.SimpleNamespace(  # type: ignore[attr-defined]
        gpu=d.utilization_percent, memory=0
    )
    module.nvmlDeviceGetComputeRunningProcesses = lambda d: [  # type: ignore[attr-defined]
        types.SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in d.processes.items()
    ]
    module.NVMLError = NVMLError  # type: ignore[attr-defined]
    module.NVMLError_LibraryNotFound = NVMLError_LibraryNotFound  # type: ignore[attr-defined]
    module.state = state  # type: ignore[attr-defined]
    return module


class FakeCuda:
    """``torch.cuda`` as far as agentspans reads it."""

    def __init__(self, devices: int, initialised: bool = True) -> None:
        self.allocated = [0] * devices
        self.max_allocated = [0] * devices
        self.initialised = initialised
        self.touched = False

    def is_initialized(self) -> bool:
        return self.initialised

    def device_count(self) -> int:
        self.touched = True
        return len(self.allocated)

    def memory_allocated(self, device: int) -> int:
        return self.allocated[device]

    def max_memory_allocated(self, device: int) -> int:
        return self.max_allocated[device]

    def allocate(self, device: int, size: int) -> None:
        self.allocated[device] += size
        self.max_allocated[device] = max(self.max_allocated[device], self.allocated[device])

    def free(self, device: int, size: int) -> None:
        self.allocated[device] -= size
