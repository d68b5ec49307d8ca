"""What a combination's process really is: small ``collect_*`` functions.

Runs inside the combination's venv (standard library + TensorFlow).  Each
collector returns plain JSON data and never raises: a failure becomes
``{"error": ...}`` so one missing fact does not hide the others.
"""

from __future__ import annotations

import functools
import ntpath
import os
import platform
import posixpath
import re
import sys
from typing import Any, Callable, Iterable, Mapping


def _safe(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - a probe never raises
        return {"error": f"{type(exc).__name__}: {exc}"}


def collect_python() -> dict[str, Any]:
    return {"version": platform.python_version(), "implementation": platform.python_implementation(),
            "executable": sys.executable, "prefix": sys.prefix}


def collect_tensorflow() -> dict[str, Any]:
    import tensorflow as tf

    build = dict(tf.sysconfig.get_build_info())
    return {
        "version": tf.__version__,
        "git_version": getattr(tf, "__git_version__", None) or tf.version.GIT_VERSION,
        "built_with_cuda": bool(tf.test.is_built_with_cuda()),
        "build_info": {k: (v if isinstance(v, (str, int, float, bool)) or v is None else str(v))
                       for k, v in build.items()},
    }


def collect_devices() -> dict[str, Any]:
    import tensorflow as tf

    phys = tf.config.list_physical_devices()
    out = {"physical": [{"name": d.name, "type": d.device_type} for d in phys]}
    details = []
    for d in tf.config.list_physical_devices("GPU"):
        details.append({"name": d.name, **{k: str(v) for k, v in
                                          _safe(functools.partial(tf.config.experimental.get_device_details, d)).items()}})
    out["gpu_details"] = details
    return out


def collect_numpy() -> dict[str, Any]:
    import numpy

    return {"version": numpy.__version__}


_GPU_LIB_KEYS = ("cudart", "cudnn", "cublas", "cufft", "curand", "cusolver", "cusparse", "nccl", "nvrtc",
                 "nvjitlink", "libcuda.", "libnvidia", "nvinfer", "tensorrt")


def _basename(path: str) -> str:
    """The file name of a Linux or a Windows path, whichever system reads it (a Windows probe read on Linux)."""
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def _lib_name(path: str) -> str:
    base = _basename(path)
    return base.split(".so")[0].split(".dll")[0].split("64_")[0]


def _library_version(path: str, name: str) -> str | None:
    """The loaded library's own answer (cudnnGetVersion, cudaRuntimeGetVersion), if any."""
    import ctypes

    try:
        lib = ctypes.CDLL(path)  # already mapped: this only takes a handle
    except OSError:
        return None
    try:
        if name.startswith("libcudnn") and hasattr(lib, "cudnnGetVersion"):
            lib.cudnnGetVersion.restype = ctypes.c_size_t
            v = int(lib.cudnnGetVersion())
            # cuDNN 9: major*10000 + minor*100 + patch; cuDNN 8 and older: major*1000 + minor*100 + patch
            if v >= 90000:
                return f"{v // 10000}.{v % 10000 // 100}.{v % 100}"
            return f"{v // 1000}.{v % 1000 // 100}.{v % 100}"
        if name.startswith("libcudart") and hasattr(lib, "cudaRuntimeGetVersion"):
            out = ctypes.c_int()
            if lib.cudaRuntimeGetVersion(ctypes.byref(out)) == 0:
                return f"{out.value // 1000}.{out.value % 1000 // 10}"
        if name == "libcuda" and hasattr(lib, "cuDriverGetVersion"):
            out = ctypes.c_int()
            if lib.cuDriverGetVersion(ctypes.byref(out)) == 0:
                return f"{out.value // 1000}.{out.value % 1000 // 10}"
    except Exception:  # noqa: BLE001 - a version call must never crash the probe
        return None
    return None


def read_process_maps(maps: str = "/proc/self/maps") -> list[str]:
    """Paths of the files mapped into this process (Linux); [] elsewhere."""
    if not os.path.exists(maps):
        return []
    out = []
    with open(maps, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.split(maxsplit=5)
            if len(parts) == 6 and parts[5].strip().startswith("/"):
                out.append(parts[5].strip())
    return out


def collect_loaded_libraries(paths: list[str] | None = None) -> list[dict[str, Any]]:
    """The CUDA-family libraries this process actually loaded, with their versions."""
    if paths is None:
        paths = read_process_maps()
        if not paths and sys.platform == "win32":  # pragma: no cover - Windows branch
            paths = _windows_modules()
    found: dict[str, dict[str, Any]] = {}
    for path in paths:
        base = _basename(path).lower()
        if any(k in base for k in _GPU_LIB_KEYS) and path not in found:
            name = _lib_name(path)
            found[path] = {"path": path, "name": name, "version": _library_version(path, name)}
    return sorted(found.values(), key=lambda d: d["path"])


def _windows_modules() -> list[str]:  # pragma: no cover - Windows branch
    if sys.platform != "win32":
        return []
    import ctypes
    from ctypes import wintypes

    psapi, kernel32 = ctypes.WinDLL("psapi"), ctypes.WinDLL("kernel32")
    handle = kernel32.GetCurrentProcess()
    mods = (wintypes.HMODULE * 2048)()
    needed = wintypes.DWORD()
    if not psapi.EnumProcessModules(handle, mods, ctypes.sizeof(mods), ctypes.byref(needed)):
        return []
    out = []
    for i in range(needed.value // ctypes.sizeof(wintypes.HMODULE)):
        buf = ctypes.create_unicode_buffer(1024)
        if psapi.GetModuleFileNameExW(handle, mods[i], buf, 1024):
            out.append(buf.value)
    return out


#: The CUDA runtime and cuDNN files the loader looks for by name: cudart64_110.dll, cudnn64_8.dll (Windows);
#: libcudart.so.11.0, libcudnn.so.8 (Linux)
_SEARCHED = {True: re.compile(r"^(cudart64|cudnn64)_\d+\.dll$", re.IGNORECASE),
             False: re.compile(r"^lib(cudart|cudnn)\.so(\.\d+)+$")}
_TOOLKIT_VAR = re.compile(r"^CUDA_PATH(_V\d+_\d+)?$", re.IGNORECASE)


def collect_library_search(environ: Mapping[str, str] | None = None, windows: bool | None = None,
                           listdir: Callable[[str], Iterable[str]] = os.listdir) -> dict[str, Any]:
    """Where the loader looks for the CUDA runtime and cuDNN, and what it finds there.

    The folders of PATH (Windows, where DLLs are found) or LD_LIBRARY_PATH (Linux), in order, and on
    Windows the CUDA toolkits' own ``bin`` folders named by CUDA_PATH / CUDA_PATH_V11_2 ..., which the
    loader does not search unless they are on PATH: each file found says whether its folder is.
    ``environ``, ``windows`` and ``listdir`` are the seams (a fake environment and file tree in tests)."""
    environ = os.environ if environ is None else environ
    windows = sys.platform == "win32" if windows is None else windows
    var, sep, path = ("PATH", ";", ntpath) if windows else ("LD_LIBRARY_PATH", ":", posixpath)
    folders = [f.strip() for f in environ.get(var, "").split(sep) if f.strip()]
    toolkits = {k.upper(): v for k, v in sorted(environ.items()) if windows and v and _TOOLKIT_VAR.match(k)}

    def key(folder: str) -> str:  # one folder however PATH spells it (Windows: any case, a trailing backslash)
        return path.normcase(path.normpath(folder))

    on_path = {key(f) for f in folders}
    searched: dict[str, str] = {}  # in search order, each folder once, as first spelled
    for f in [*folders, *(path.join(v, "bin") for v in toolkits.values())]:
        searched.setdefault(key(f), f)
    found = []
    for k, folder in searched.items():
        try:
            names = sorted(listdir(folder))
        except OSError:
            continue
        found += [{"path": path.join(folder, n), "on_path": k in on_path} for n in names if _SEARCHED[windows].match(n)]
    return {"variable": var, "folders": folders, "toolkits": toolkits, "found": found}


def collect_nvidia_wheels() -> dict[str, str]:
    """Installed nvidia-* distributions (the CUDA wheels of a cuda-pip stack)."""
    from importlib.metadata import distributions

    out = {}
    for dist in distributions():
        name = (dist.metadata["Name"] or "").lower()
        if name.startswith("nvidia-") or name in ("tensorrt", "tensorrt-libs"):
            out[name] = dist.version
    return dict(sorted(out.items()))


def collect_nvml(nvml: Any = None) -> dict[str, Any]:
    """Driver and GPUs through NVML (nvidia-ml-py), or why NVML is unavailable."""
    if nvml is None:
        try:
            import pynvml
        except ImportError:
            return {"available": False, "reason": "nvidia-ml-py (pynvml) is not installed in this environment"}
        nvml = pynvml
    try:
        nvml.nvmlInit()
    except Exception as exc:  # noqa: BLE001 - NVMLError_LibraryNotFound, DriverNotLoaded, ...
        return {"available": False, "reason": f"{type(exc).__name__}: {exc}"}
    try:
        def text(v: Any) -> str:
            return v.decode() if isinstance(v, bytes) else str(v)

        cuda = int(nvml.nvmlSystemGetCudaDriverVersion())
        gpus = []
        for i in range(int(nvml.nvmlDeviceGetCount())):
            h = nvml.nvmlDeviceGetHandleByIndex(i)
            major, minor = nvml.nvmlDeviceGetCudaComputeCapability(h)
            gpus.append({"index": i, "name": text(nvml.nvmlDeviceGetName(h)),
                         "memory_total_bytes": int(nvml.nvmlDeviceGetMemoryInfo(h).total),
                         "compute_capability": f"{major}.{minor}"})
        return {"available": True, "driver_version": text(nvml.nvmlSystemGetDriverVersion()),
                "cuda_driver_version": f"{cuda // 1000}.{cuda % 1000 // 10}", "gpus": gpus}
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:  # noqa: BLE001
            pass


def collect_cpu() -> dict[str, Any]:
    model = platform.processor()
    flags: list[str] = []
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    have = set(line.split(":", 1)[1].split())
                    flags = sorted(x for x in ("avx", "avx2", "avx512f", "fma", "sse4_1", "sse4_2") if x in have)
    except OSError:
        pass
    return {"model": model, "flags": flags, "logical_cores": os.cpu_count()}


def collect_os() -> dict[str, Any]:
    return {"system": platform.system(), "release": platform.release(), "version": platform.version(),
            "machine": platform.machine()}


def collect_all() -> dict[str, Any]:
    """Everything, TensorFlow first: the loaded libraries are read after it initialised."""
    out: dict[str, Any] = {"python": _safe(collect_python), "tensorflow": _safe(collect_tensorflow),
                           "devices": _safe(collect_devices), "numpy": _safe(collect_numpy)}
    out.update({
        "loaded_libraries": _safe(collect_loaded_libraries),
        "library_search": _safe(collect_library_search),
        "nvidia_wheels": _safe(collect_nvidia_wheels),
        "nvml": _safe(collect_nvml),
        "cpu": _safe(collect_cpu),
        "os": _safe(collect_os),
        "env": {k: os.environ[k] for k in ("CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH", "TF_CPP_MIN_LOG_LEVEL")
                if k in os.environ},
    })
    return out
