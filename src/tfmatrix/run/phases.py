"""What the phases stage needs around the runner: the export cache, the stack's environment, the guards.

* Exports are cached per (combination, model config, resolved lock, seed): a
  reused one becomes a ``cached`` phase carrying the original export's time.
* A GPU combination whose TensorFlow sees no GPU is never timed: its timings
  would be CPU timings filed under a GPU stack (:func:`cpu_fallback`).
* A failed phase is named from its status, its signal and all it printed
  (:func:`classify_phase`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from ..atomic import write_json_atomic
from ..diagnosis.classify import classify_failure, read_log
from ..matrix.model import Combination
from ..records.model import Failure, PhaseRecord
from ..records.status import PhaseStatus
from ..records.store import now, read_json
from ..worker.workload import is_exported
from .runner import PhaseSpec, planned

EXPORT_META = "tfmatrix-export.json"


def export_dirs(cache_root: Path, combo: Combination, lock_sha256: str, seed: int) -> dict[str, Path]:
    """The export cache key: (combination, model config, resolved pins, seed)."""
    out = {}
    for m in combo.models:
        key = hashlib.sha256(f"{m.config_digest()}|{lock_sha256}|{seed}".encode()).hexdigest()[:16]
        out[m.id] = cache_root / "exports" / combo.id / f"{m.id}-{key}"
    return out


def exported(path: Path) -> bool:
    return is_exported(str(path))


def remember_export(path: Path, phase: PhaseRecord, run_id: str) -> None:
    """Beside a fresh export: which run made it and how long it took (what a later ``cached`` phase shows)."""
    if path.exists():
        write_json_atomic(str(path / EXPORT_META), {"run_id": run_id, "samples": phase.samples,
                                                    "unit": "seconds", "exported_at": now()})


def cached_export(spec: PhaseSpec, path: Path) -> PhaseRecord:
    """The export phase of a model whose SavedModel is in the cache: its samples are the original export's."""
    meta = read_json(path / EXPORT_META) if (path / EXPORT_META).exists() else {}
    return planned(spec, PhaseStatus.CACHED, note=f"export reused from {path}", unit="seconds",
                   samples=[float(x) for x in meta.get("samples", [])],
                   cached_from={"path": str(path), "run_id": meta.get("run_id"),
                                "exported_at": meta.get("exported_at")})


def classify_phase(phase: PhaseRecord, gpu_stack: bool) -> Failure:
    """A failed phase's class, from its status, signal and everything it printed."""
    exc = phase.exception or {}
    text = "\n".join([read_log(phase.log) if phase.log else "", exc.get("message", ""), phase.note])
    return classify_failure(status=str(phase.status), text=text, signal=phase.signal, ntstatus=phase.ntstatus,
                            gpu_stack=gpu_stack)


def cpu_fallback(combo: Combination, environment: dict[str, Any] | None) -> str:
    """A GPU combination whose TensorFlow sees no GPU must not be timed at all.

    Its timings would be CPU timings filed under a GPU stack; the combination
    is recorded as failed (``no-gpu``) instead.
    """
    if not combo.needs_gpu:
        return ""
    devices = (environment or {}).get("devices") or {}
    physical = devices.get("physical") if isinstance(devices, dict) else None
    if physical is None:
        return "no-gpu: the probe could not list TensorFlow's devices"
    if not any(d.get("type") == "GPU" for d in physical):
        return ("no-gpu: the stack expects a GPU but TensorFlow sees none (a CPU fallback); "
                "no timings are recorded for it")
    return ""


def stack_env(combo: Combination, gpu: int | None = None, windows: bool | None = None) -> dict[str, str]:
    """The benchmark processes' environment for this stack.

    GPU stacks: devices in PCI bus order (so CUDA's N is NVML's and nvidia-smi's N), only ``gpu`` visible
    when one is chosen, and TensorFlow's memory growth on, so peak GPU memory is what the model used
    rather than the whole card TensorFlow reserves by default.
    """
    if combo.stack.kind == "cpu":
        return {"CUDA_VISIBLE_DEVICES": ""}  # a cpu combination never touches a GPU
    env = {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "TF_FORCE_GPU_ALLOW_GROWTH": "true"}
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = str(gpu)
    if combo.stack.kind == "cuda-system" and combo.stack.library_path:
        # the loader's search path: LD_LIBRARY_PATH on Linux, PATH on Windows (where the CUDA DLLs are found)
        windows = os.name == "nt" if windows is None else windows
        var, sep = ("PATH", ";") if windows else ("LD_LIBRARY_PATH", ":")
        current = os.environ.get(var, "")
        env[var] = sep.join([*combo.stack.library_path, *([current] if current else [])])
    return env
