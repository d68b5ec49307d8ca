"""What a combination's process really is: small ``collect_*`` functions.

Runs inside the combination's venv (standard library + TensorFlow).  Each
collector returns plain JSON data and never raises: a failure becomes
``{"error": ...}`` so one missing fact does not hide the others.
"""

from __future__ import annotations

import os
import platform
import sys
from typing import Any, Callable


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
                                          _safe(lambda d=d: tf.config.experimental.get_device_details(d)).items()}})
    out["gpu_details"] = details
    return out


def collect_numpy() -> dict[str, Any]:
    import numpy

    return {"version": numpy.__version__}


def collect_loaded_libraries() -> list[str]:
    """Shared libraries mapped into this process that matter for the GPU path."""
    keys = ("cuda", "cudnn", "cublas", "cufft", "curand", "cusolver", "cusparse", "nccl", "nvrtc",
            "nvjitlink", "libnvidia", "tensorrt", "nvinfer")
    found: set[str] = set()
    maps = "/proc/self/maps"
    if os.path.exists(maps):
        with open(maps, encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and parts[5].startswith("/"):
                    base = os.path.basename(parts[5]).lower()
                    if any(k in base for k in keys):
                        found.add(parts[5])
    return sorted(found)


def collect_all() -> dict[str, Any]:
    return {
        "python": _safe(collect_python),
        "tensorflow": _safe(collect_tensorflow),
        "devices": _safe(collect_devices),
        "numpy": _safe(collect_numpy),
        "loaded_libraries": _safe(collect_loaded_libraries),
        "env": {k: os.environ[k] for k in ("CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH", "TF_CPP_MIN_LOG_LEVEL")
                if k in os.environ},
    }
