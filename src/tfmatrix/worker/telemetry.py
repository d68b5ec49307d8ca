"""NVML telemetry beside a timed phase: a sampler thread in the worker (standard library + nvidia-ml-py).

Every ``period`` seconds (default 0.05) it reads, for each GPU it watches:
memory used, GPU utilization, power, SM and memory clocks, temperature and
the clock-throttle reasons.  The raw series are kept (for the report's plots)
with a summary per GPU (peak and mean of each field) and the throttle reasons
seen.  Throttling for power or heat during a measurement makes it unstable,
and the report says so.  On a CPU stack the sampler is off; where NVML cannot
start, the phase records why instead of a series.

NVML indices follow the PCI bus; the worker's GPU stacks set
``CUDA_DEVICE_ORDER=PCI_BUS_ID``, so CUDA's device N is NVML's device N.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Sequence

DEFAULT_PERIOD = 0.05
FIELDS = ("memory_used_bytes", "utilization_pct", "power_w", "sm_clock_mhz", "memory_clock_mhz", "temperature_c")

#: NVML's clocks-throttle (clocks-event) reason bits (nvml.h: nvmlClocksThrottleReason*)
THROTTLE_BITS = {
    0x1: "gpu-idle", 0x2: "applications-clocks-setting", 0x4: "sw-power-cap", 0x8: "hw-slowdown",
    0x10: "sync-boost", 0x20: "sw-thermal-slowdown", 0x40: "hw-thermal-slowdown",
    0x80: "hw-power-brake-slowdown", 0x100: "display-clock-setting",
}
#: the reasons that slow a measurement down (idle and settings are not throttling)
SLOWING = frozenset({"sw-power-cap", "hw-slowdown", "sw-thermal-slowdown", "hw-thermal-slowdown",
                     "hw-power-brake-slowdown"})


def throttle_reasons(mask: int) -> list[str]:
    return [name for bit, name in THROTTLE_BITS.items() if mask & bit]


def _read(nvml: Any, handle: Any) -> dict[str, Any]:
    """One sample of one GPU; a field NVML cannot give (not supported on this board) is None."""
    def get(fn: str, *args: Any) -> Any:
        try:
            return getattr(nvml, fn)(handle, *args)
        except Exception:  # noqa: BLE001 - NVMLError_NotSupported and friends
            return None

    mem, util = get("nvmlDeviceGetMemoryInfo"), get("nvmlDeviceGetUtilizationRates")
    power = get("nvmlDeviceGetPowerUsage")
    reasons = get("nvmlDeviceGetCurrentClocksEventReasons")
    if reasons is None:
        reasons = get("nvmlDeviceGetCurrentClocksThrottleReasons")  # the name before NVML 12.2
    return {
        "memory_used_bytes": int(mem.used) if mem is not None else None,
        "utilization_pct": int(util.gpu) if util is not None else None,
        "power_w": power / 1000.0 if power is not None else None,
        "sm_clock_mhz": get("nvmlDeviceGetClockInfo", getattr(nvml, "NVML_CLOCK_SM", 1)),
        "memory_clock_mhz": get("nvmlDeviceGetClockInfo", getattr(nvml, "NVML_CLOCK_MEM", 2)),
        "temperature_c": get("nvmlDeviceGetTemperature", getattr(nvml, "NVML_TEMPERATURE_GPU", 0)),
        "throttle_mask": int(reasons) if reasons is not None else 0,
    }


class Sampler:
    """``with Sampler(indices) as s: ...`` then ``s.result()``; a no-op that says why when NVML is absent."""

    def __init__(self, indices: Sequence[int], period: float = DEFAULT_PERIOD, nvml: Any = None) -> None:
        self.indices = list(indices)
        self.period = period
        self.nvml = nvml
        self.reason = ""  # why there are no samples
        self.series: dict[int, dict[str, list[Any]]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._handles: dict[int, Any] = {}
        self._t0 = 0.0

    def __enter__(self) -> "Sampler":
        if self.nvml is None:
            try:
                import pynvml as nvml
            except ImportError:
                self.reason = "nvidia-ml-py (pynvml) is not installed in this environment"
                return self
            self.nvml = nvml
        try:
            self.nvml.nvmlInit()
            self._handles = {i: self.nvml.nvmlDeviceGetHandleByIndex(i) for i in self.indices}
        except Exception as exc:  # noqa: BLE001 - no driver, no such GPU
            self.reason = f"{type(exc).__name__}: {exc}"
            return self
        self.series = {i: {"t": [], **{f: [] for f in FIELDS}, "throttle_mask": []} for i in self.indices}
        self._t0 = time.perf_counter()
        self._sample()  # one sample at the start, however short the phase
        self._thread = threading.Thread(target=self._loop, name="tfmatrix-nvml", daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        t = round(time.perf_counter() - self._t0, 4)
        for i, handle in self._handles.items():
            sample = _read(self.nvml, handle)
            self.series[i]["t"].append(t)
            for key, value in sample.items():
                self.series[i][key].append(value)

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            self._sample()

    def __exit__(self, *exc: Any) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._sample()  # and one at the end
        if self._handles:
            try:
                self.nvml.nvmlShutdown()
            except Exception:  # noqa: BLE001
                pass

    def result(self) -> dict[str, Any]:
        if not self.series:
            return {"available": False, "reason": self.reason or "no GPU to watch", "period_s": self.period}
        return {"available": True, "period_s": self.period,
                "gpus": {str(i): {"summary": summarize(s), "series": s} for i, s in self.series.items()}}


def summarize(series: dict[str, list[Any]]) -> dict[str, Any]:
    """Peak and mean of every field; the throttle reasons seen, and whether any of them slows a measurement."""
    out: dict[str, Any] = {"samples": len(series["t"])}
    for f in FIELDS:
        values = [v for v in series[f] if v is not None]
        out[f] = {"peak": max(values), "mean": sum(values) / len(values)} if values else None
    seen = sorted({r for mask in series["throttle_mask"] for r in throttle_reasons(mask)})
    out["throttle_reasons"] = seen
    out["throttled"] = bool(SLOWING & set(seen))
    return out
