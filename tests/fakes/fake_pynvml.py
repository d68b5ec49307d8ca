"""FAKE pynvml: an explicit stand-in for NVML, which this machine cannot have.

It answers the handful of calls ``tfmatrix.gpu`` makes with recorded values, or
raises the error a machine without a driver raises.  Never used outside tests.
"""

from __future__ import annotations


class NVMLError(Exception):
    pass


class NVMLError_LibraryNotFound(NVMLError):  # noqa: N801 - NVML's own naming
    pass


class FakeNvml:
    def __init__(self, names: list[str] | None = None, init_error: Exception | None = None,
                 names_as_bytes: bool = False) -> None:
        self.names = names or []
        self.init_error = init_error
        self.names_as_bytes = names_as_bytes
        self.calls: list[str] = []

    def nvmlInit(self) -> None:  # noqa: N802
        self.calls.append("init")
        if self.init_error:
            raise self.init_error

    def nvmlShutdown(self) -> None:  # noqa: N802
        self.calls.append("shutdown")

    def nvmlSystemGetDriverVersion(self):  # noqa: N802
        return b"550.54.15" if self.names_as_bytes else "550.54.15"

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802
        return len(self.names)

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:  # noqa: N802
        return i

    def nvmlDeviceGetName(self, handle: int):  # noqa: N802
        name = self.names[handle]
        return name.encode() if self.names_as_bytes else name


# --- telemetry: the calls tfmatrix.telemetry makes, played back from a script of samples

NVML_CLOCK_SM = 1
NVML_CLOCK_MEM = 2
NVML_TEMPERATURE_GPU = 0


class _Memory:
    def __init__(self, used: int, total: int) -> None:
        self.used, self.total, self.free = used, total, total - used


class _Utilization:
    def __init__(self, gpu: int, memory: int = 0) -> None:
        self.gpu, self.memory = gpu, memory


#: One H200 running a matmul loop, then capped for power (sw-power-cap, 0x4) halfway.  These are
#: plausible values from NVIDIA's H200 board limits (141 GB, 700 W, 1980 MHz SM boost, 3201 MHz
#: HBM3e), not readings of a lent machine: none was lent to the session that wrote this fake.
H200_UNDER_LOAD = [
    {"used": 2_000_000_000, "util": 0, "power_mw": 90_000, "sm": 345, "mem": 3201, "temp": 31, "reasons": 0x1},
    {"used": 48_000_000_000, "util": 97, "power_mw": 610_000, "sm": 1980, "mem": 3201, "temp": 52, "reasons": 0x0},
    {"used": 48_000_000_000, "util": 99, "power_mw": 699_000, "sm": 1755, "mem": 3201, "temp": 61, "reasons": 0x4},
    {"used": 48_500_000_000, "util": 98, "power_mw": 700_000, "sm": 1710, "mem": 3201, "temp": 63, "reasons": 0x4},
]
H200_TOTAL = 150_754_820_096


class TelemetryNvml(FakeNvml):
    """A FakeNvml whose GPUs also answer the telemetry calls, from ``script`` (the last sample repeats)."""

    def __init__(self, names: list[str], script: list[dict] | None = None, total: int = H200_TOTAL,
                 unsupported: tuple[str, ...] = (), **kw) -> None:
        super().__init__(names, **kw)
        self.script = script or H200_UNDER_LOAD
        self.total = total
        self.unsupported = unsupported
        self.reads = {i: 0 for i in range(len(names))}

    def _now(self, handle: int, field: str):
        if field in self.unsupported:
            raise NVMLError("Not Supported")
        return self.script[min(self.reads[handle], len(self.script) - 1)][field]

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> _Memory:  # noqa: N802 - first field read: one sample
        used = self._now(handle, "used")
        return _Memory(used, self.total)

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> _Utilization:  # noqa: N802
        return _Utilization(self._now(handle, "util"))

    def nvmlDeviceGetPowerUsage(self, handle: int) -> int:  # noqa: N802
        return self._now(handle, "power_mw")

    def nvmlDeviceGetClockInfo(self, handle: int, clock: int) -> int:  # noqa: N802
        return self._now(handle, "sm" if clock == NVML_CLOCK_SM else "mem")

    def nvmlDeviceGetTemperature(self, handle: int, sensor: int) -> int:  # noqa: N802
        return self._now(handle, "temp")

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: int) -> int:  # noqa: N802 - the last field read
        value = self._now(handle, "reasons")
        self.reads[handle] += 1
        return value

    # the probe's calls too, so the whole GPU check can run against this fake
    def nvmlSystemGetCudaDriverVersion(self) -> int:  # noqa: N802 - driver 550.54.15 ships CUDA 12.4
        return 12040

    def nvmlDeviceGetCudaComputeCapability(self, handle: int) -> tuple[int, int]:  # noqa: N802 - Hopper
        return (9, 0)


# --- a multi-GPU box: names, memory totals, UUIDs and the driver, as NVML reports them on real cards

H100_80GB = ("NVIDIA H100 80GB HBM3", 85_520_809_984)  # 81559 MiB: an "80 GB" card is 79.6 GiB
A100_40GB = ("NVIDIA A100-SXM4-40GB", 42_949_672_960)
L4_24GB = ("NVIDIA L4", 24_152_899_584)


class GpuBoxNvml(FakeNvml):
    def __init__(self, gpus: list[tuple[str, int]], driver: str = "550.54.15") -> None:
        super().__init__([name for name, _ in gpus])
        self.totals = [total for _, total in gpus]
        self.driver = driver

    def nvmlSystemGetDriverVersion(self) -> str:  # noqa: N802
        return self.driver

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> _Memory:  # noqa: N802
        return _Memory(0, self.totals[handle])

    def nvmlDeviceGetUUID(self, handle: int) -> str:  # noqa: N802
        return f"GPU-fake{handle:04d}-0000-0000-0000-000000000000"


def box_from_env(value: str) -> GpuBoxNvml:
    """``TFMATRIX_FAKE_GPUS="NAME=BYTES,NAME=BYTES"`` (tests' injected module): that box."""
    gpus = []
    for item in value.split(","):
        name, _, total = item.rpartition("=")
        gpus.append((name, int(total)))
    return GpuBoxNvml(gpus)
