"""Placement: does a machine (its GPUs, its driver) have what a combination needs?

One predicate, :func:`unmet`, used wherever work is placed: a plain or sharded
``bench`` session checks its own host, the ``--gpus`` pool picks the GPUs a
combination may run on, and the Ray executor turns the needs into Ray resources
(:func:`ray_request`) and checks the cluster can satisfy them before submitting.
A combination nothing can satisfy is recorded as ``skipped`` with the reason
"no matching hardware: ...", never run elsewhere.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from packaging.version import InvalidVersion, Version

from ...matrix.model import Combination, Hardware
from .host import GpuInfo

NO_MATCH = "no matching hardware"
GIB = 2 ** 30


def type_matches(gpu_type: str, name: str) -> bool:
    """``H100`` matches "NVIDIA H100 80GB HBM3" (a whole word, any case), not "GH100"."""
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(gpu_type)}(?![A-Za-z0-9])", name, re.IGNORECASE) is not None


def gpu_unmet(hw: Hardware, gpu: GpuInfo) -> str:
    """Why this one GPU does not do ("" when it does)."""
    if hw.gpu_type and not type_matches(hw.gpu_type, gpu.name):
        return f"GPU {gpu.index} is {gpu.name!r}, not {hw.gpu_type}"
    if hw.min_gpu_memory_gib:
        if gpu.memory_bytes is None:
            return f"GPU {gpu.index} ({gpu.name}) did not report its memory"
        if gpu.memory_bytes < hw.min_gpu_memory_gib * GIB:
            return f"GPU {gpu.index} ({gpu.name}) has {gpu.memory_bytes / GIB:.1f} GiB < {hw.min_gpu_memory_gib:g} GiB"
    return ""


def driver_unmet(hw: Hardware, driver: str | None) -> str:
    if not hw.min_driver:
        return ""
    if driver is None:
        return f"the NVIDIA driver version is unknown (driver >= {hw.min_driver} needed)"
    try:
        if Version(driver) < Version(hw.min_driver):
            return f"driver {driver} < {hw.min_driver}"
    except InvalidVersion:
        return f"driver version {driver!r} is not a version number (driver >= {hw.min_driver} needed)"
    return ""


def matching(hw: Hardware | None, gpus: Iterable[GpuInfo], driver: str | None) -> list[GpuInfo]:
    """The GPUs a combination with these needs may run on."""
    gpus = list(gpus)
    if hw is None:
        return gpus
    if driver_unmet(hw, driver):
        return []
    return [g for g in gpus if not gpu_unmet(hw, g)]


def unmet(hw: Hardware | None, gpus: Iterable[GpuInfo], driver: str | None, where: str = "here") -> str:
    """"" when some GPU here satisfies ``hw``; otherwise the skip reason, naming what is here."""
    gpus = list(gpus)
    if hw is None or not gpus:  # no GPU at all is gpu.gpu_skip_reason's to say
        return ""
    if matching(hw, gpus, driver):
        return ""
    why = driver_unmet(hw, driver) or "; ".join(gpu_unmet(hw, g) for g in gpus)
    return f"{NO_MATCH}: needs {hw.describe()}; {where} {why}"


# --------------------------------------------------------------------------- Ray

ACCELERATOR_PREFIX = "accelerator_type:"  # Ray's own name for a node's GPU type resource


def ray_request(combo: Combination, whole_node_cpus: float = 1) -> dict[str, Any]:
    """The Ray task options that place ``combo``: one GPU (and its type), or a whole node's CPUs.

    The GPU type is Ray's ``accelerator_type:<TYPE>`` custom resource, which Ray sets on
    nodes it detects GPUs on and which ``ray start --resources`` can declare; a task asks
    for a sliver of it (as Ray's own ``accelerator_type=`` option does), so several
    tasks can share a node of that type, each with its own GPU.  A CPU combination asks
    for ``whole_node_cpus`` (the driver passes the largest node's CPU count): it runs
    alone on such a node, as a CPU timing must.
    """
    if not combo.needs_gpu:
        return {"num_cpus": whole_node_cpus}
    req: dict[str, Any] = {"num_cpus": 1, "num_gpus": 1}
    if combo.hardware and combo.hardware.gpu_type:
        req["resources"] = {f"{ACCELERATOR_PREFIX}{combo.hardware.gpu_type}": 0.001}
    return req


def node_satisfies(request: dict[str, Any], resources: dict[str, float]) -> bool:
    """Could a node with these total resources ever run a task with this request?"""
    need = {"CPU": request.get("num_cpus", 0), "GPU": request.get("num_gpus", 0), **request.get("resources", {})}
    return all(resources.get(k, 0) >= v for k, v in need.items() if v)


def describe_request(request: dict[str, Any]) -> str:
    parts = [f"{request.get('num_gpus', 0)} GPU"] if request.get("num_gpus") else [f"{request.get('num_cpus', 1):g} CPU"]
    parts += [k for k in request.get("resources", {})]
    return " + ".join(parts)
