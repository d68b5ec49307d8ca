"""Locks that let several runs share one machine without spoiling each other.

* A combination's venv (and the SavedModel exports keyed to it) is used by one
  run at a time: a second run of the same combination waits, then finds the
  venv in sync and the exports built (it never re-syncs a venv a first run is
  timing in).
* A GPU is timed by one run at a time: two runs on one GPU distort each
  other's timings, so a second run's GPU combinations are refused (recorded as
  skipped, with the reason) unless ``--allow-shared-gpu`` is given, in which
  case the record says ``shared_gpu: true``.  There is one lock per GPU (in the
  temp folder, writable by every user), named by the GPU's UUID: a session
  holds the lock of each GPU it may use (``--gpu N``; else those
  ``CUDA_VISIBLE_DEVICES`` names, as a batch scheduler sets it; else all), so
  the ``--gpus`` pool's children, or jobs a scheduler put on one node, time on
  their own GPUs side by side.

py-filelock does the locking (``fcntl`` on POSIX, ``msvcrt`` on Windows).  A
lock dies with its process, so a killed run never leaves a stale one behind.
"""

from __future__ import annotations

import os
import re
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence

from filelock import FileLock, Timeout

GPU_LOCK = Path(tempfile.gettempdir()) / "tfmatrix-gpu.lock"


@contextmanager
def exclusive(path: Path, waiting: Callable[[str], object]) -> Iterator[None]:
    """Hold ``path``'s lock for the block; say so (through ``waiting``) before waiting for another run."""
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        waiting(f"tfmatrix: waiting for another run that is using {path.parent.name} (lock {path})")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def lease_paths(gpu: int | None, gpus: Sequence[object], root: Path = GPU_LOCK.parent) -> list[Path]:
    """The lock files of the GPUs a session may use (``gpus``: :class:`tfmatrix.run.execution.host.GpuInfo`)."""
    chosen = [g for g in gpus if getattr(g, "index") == gpu] if gpu is not None else _visible(list(gpus))
    if not chosen:  # no GPU listed (--assume-gpu on a machine without one): the host-wide lock
        return [root / GPU_LOCK.name]
    names = [getattr(g, "uuid", None) or f"index{getattr(g, 'index')}" for g in chosen]
    return [root / f"tfmatrix-gpu-{re.sub(r'[^A-Za-z0-9_.-]', '_', n)}.lock" for n in names]


def _visible(gpus: list[object]) -> list[object]:
    """The GPUs ``CUDA_VISIBLE_DEVICES`` names (indices or UUIDs), or all of them."""
    value = os.environ.get("CUDA_VISIBLE_DEVICES")
    if not value:
        return gpus
    picked = []
    for token in (t.strip() for t in value.split(",")):
        for g in gpus:
            uuid = getattr(g, "uuid", None) or ""
            if (token.isdigit() and getattr(g, "index") == int(token)) or (uuid and token.startswith("GPU-")
                                                                            and uuid.startswith(token)):
                picked.append(g)
    return picked or gpus


@contextmanager
def gpu_lease(paths: Path | Sequence[Path] = GPU_LOCK) -> Iterator[bool]:
    """Yield True when this run has these GPUs to itself, False when another run holds any of them."""
    with ExitStack() as held:
        for path in [paths] if isinstance(paths, Path) else list(paths):
            lock = FileLock(str(path), mode=0o666)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                held.close()
                yield False
                return
            held.callback(lock.release)
        yield True
