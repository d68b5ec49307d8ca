"""Is an NVIDIA GPU visible to this host?  (The parent never imports TensorFlow.)

Asked through NVML (``pynvml``, from nvidia-ml-py) when it is importable, else
through the driver's files.  ``nvml`` can be passed in: tests inject an
explicit fake module there, the only stand-in for a GPU this project uses.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from types import ModuleType
from typing import Any

ASSUME_GPU_ENV = "TFMATRIX_ASSUME_GPU"


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    source: str  # "nvml" or "procfs"
    memory_bytes: int | None = None  # NVML's total memory; None when not known
    uuid: str | None = None  # "GPU-...", stable across processes and CUDA_VISIBLE_DEVICES


def _import_nvml() -> ModuleType | None:
    try:
        import pynvml  # type: ignore[import-not-found]
    except ImportError:
        return None
    return pynvml


def visible_gpus(nvml: Any = None, proc_root: str = "/proc/driver/nvidia/gpus") -> list[GpuInfo]:
    """The NVIDIA GPUs this process could use, honouring CUDA_VISIBLE_DEVICES=''."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return []
    mod = nvml if nvml is not None else _import_nvml()
    if mod is not None:
        try:
            mod.nvmlInit()
        except Exception:  # noqa: BLE001 - NVMLError_LibraryNotFound, DriverNotLoaded, ...
            mod = None
        else:
            try:
                out = []
                for i in range(mod.nvmlDeviceGetCount()):
                    handle = mod.nvmlDeviceGetHandleByIndex(i)
                    name = mod.nvmlDeviceGetName(handle)
                    out.append(GpuInfo(i, _text(name), "nvml", memory_bytes=_optional(
                        lambda: int(mod.nvmlDeviceGetMemoryInfo(handle).total)),
                        uuid=_optional(lambda: _text(mod.nvmlDeviceGetUUID(handle)))))
                return out
            finally:
                try:
                    mod.nvmlShutdown()
                except Exception:  # noqa: BLE001
                    pass
    return [GpuInfo(i, os.path.basename(p), "procfs") for i, p in enumerate(sorted(glob.glob(f"{proc_root}/*")))]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _optional(read: Any) -> Any:
    """An NVML answer a GPU or driver may not give (NVMLError_NotSupported, an old nvidia-ml-py)."""
    try:
        return read()
    except Exception:  # noqa: BLE001
        return None


def driver_version(nvml: Any = None, proc_file: str = "/proc/driver/nvidia/version") -> str | None:
    """The NVIDIA driver version (NVML, else the kernel module's version file), or None."""
    mod = nvml if nvml is not None else _import_nvml()
    if mod is not None:
        try:
            mod.nvmlInit()
            try:
                v = mod.nvmlSystemGetDriverVersion()
                return v.decode() if isinstance(v, bytes) else str(v)
            finally:
                mod.nvmlShutdown()
        except Exception:  # noqa: BLE001 - no driver: fall through to the file
            pass
    try:
        with open(proc_file, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return None
    m = re.search(r"Kernel Module(?: for \S+)?\s+([0-9]+(?:\.[0-9]+)+)", text)
    return m.group(1) if m else None


def gpu_skip_reason(assume_gpu: bool, gpus: list[GpuInfo] | None = None) -> str | None:
    """Why a GPU combination cannot run here, or None when it can."""
    if assume_gpu or os.environ.get(ASSUME_GPU_ENV) == "1":
        return None
    gpus = visible_gpus() if gpus is None else gpus
    if gpus:
        return None
    return (f"no NVIDIA GPU visible (NVML and /proc/driver/nvidia found none); "
            f"set {ASSUME_GPU_ENV}=1 or pass --assume-gpu to run it anyway")
