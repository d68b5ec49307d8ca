"""The host nox runs on: its GPUs and driver, its fingerprint.  (The manager never imports TensorFlow.)

* :func:`visible_gpus` and :func:`driver_version` ask NVML (``pynvml``, from
  nvidia-ml-py) when it is importable, else the driver's files.  ``nvml`` can
  be passed in: tests inject an explicit fake module there, the only stand-in
  for a GPU this project uses.
* :class:`HostFacts` is what the pre-flight verdict and placement need to know
  (GPUs, driver, CPU flags), read once per combination.
* :func:`host_fingerprint` is what a run record says about the machine: small
  ``collect_*`` functions, one fact each.
"""

from __future__ import annotations

import glob
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from ...worker import probe

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
        import pynvml  # type: ignore[import-not-found,unused-ignore]
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
                        lambda h=handle: int(mod.nvmlDeviceGetMemoryInfo(h).total)),
                        uuid=_optional(lambda h=handle: _text(mod.nvmlDeviceGetUUID(h)))))
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


@dataclass(frozen=True)
class HostFacts:
    """What the pre-flight verdict and placement read about this host."""

    gpus: tuple[GpuInfo, ...] = ()
    driver_version: str | None = None
    cpu_flags: tuple[str, ...] = ()  # empty: not read (no /proc/cpuinfo), never "no AVX"
    machine: str = field(default_factory=platform.machine)
    system: str = field(default_factory=platform.system)

    @classmethod
    def here(cls) -> "HostFacts":
        return cls(gpus=tuple(visible_gpus()), driver_version=driver_version(),
                   cpu_flags=tuple(probe.collect_cpu()["flags"]))


# --------------------------------------------------------------------------- fingerprint


def collect_platform() -> dict[str, Any]:
    return {"system": platform.system(), "release": platform.release(), "machine": platform.machine(),
            "platform": platform.platform(), "node": platform.node()}


def collect_cpu() -> dict[str, Any]:
    cpu = probe.collect_cpu()
    cpu["affinity"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return cpu


def meminfo_bytes(key: str, meminfo: str = "/proc/meminfo") -> int | None:
    """One field of Linux's ``/proc/meminfo`` in bytes (``MemTotal``, ``MemAvailable``); None where it cannot say."""
    try:
        for line in Path(meminfo).read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def collect_memory() -> dict[str, Any]:
    return {"total_bytes": meminfo_bytes("MemTotal")}


def collect_python() -> dict[str, Any]:
    return {"version": platform.python_version(), "executable": sys.executable}


def collect_gpus() -> list[dict[str, Any]]:
    return [{"index": g.index, "name": g.name, "source": g.source} for g in visible_gpus()]


def collect_tools() -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        import nox

        out["nox"] = getattr(nox, "__version__", None) or _dist_version("nox")
    except ImportError:
        out["nox"] = None
    uv = shutil.which("uv")
    if uv:
        proc = subprocess.run([uv, "--version"], capture_output=True, text=True, check=False)
        out["uv"] = proc.stdout.strip() or None
    return out


def _dist_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def collect_git(root: Path) -> dict[str, Any]:
    git = shutil.which("git")
    if not git:
        return {"commit": None, "dirty": None}
    proc = subprocess.run([git, "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    commit = proc.stdout.strip() if proc.returncode == 0 else None
    dirty = None
    if commit:
        st = subprocess.run([git, "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                            capture_output=True, text=True, check=False)
        dirty = bool(st.stdout.strip())
    return {"commit": commit, "dirty": dirty}


def host_fingerprint() -> dict[str, Any]:
    return {"platform": collect_platform(), "cpu": collect_cpu(), "memory": collect_memory(),
            "python": collect_python(), "gpus": collect_gpus(), "tools": collect_tools()}
