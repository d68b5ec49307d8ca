"""The host a run happened on: small ``collect_*`` functions into one record."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from . import probe
from .gpu import visible_gpus


def collect_platform() -> dict[str, Any]:
    return {"system": platform.system(), "release": platform.release(), "machine": platform.machine(),
            "platform": platform.platform(), "node": platform.node()}


def collect_cpu() -> dict[str, Any]:
    cpu = probe.collect_cpu()
    cpu["affinity"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return cpu


def collect_memory() -> dict[str, Any]:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return {"total_bytes": int(line.split()[1]) * 1024}
    except OSError:
        pass
    return {"total_bytes": None}


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
