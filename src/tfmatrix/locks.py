"""Locks that let several runs share one machine without spoiling each other.

* A combination's venv (and the SavedModel exports keyed to it) is used by one
  run at a time: a second run of the same combination waits, then finds the
  venv in sync and the exports built (it never re-syncs a venv a first run is
  timing in).
* A GPU is timed by one run at a time: two runs on one GPU distort each
  other's timings, so a second run's GPU combinations are refused (recorded as
  skipped, with the reason) unless ``--allow-shared-gpu`` is given, in which
  case the record says ``shared_gpu: true``.  The lock is host-wide (in the
  temp folder, writable by every user) and covers all GPUs of the host.

py-filelock does the locking (``fcntl`` on POSIX, ``msvcrt`` on Windows).  A
lock dies with its process, so a killed run never leaves a stale one behind.
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

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


@contextmanager
def gpu_lease(path: Path = GPU_LOCK) -> Iterator[bool]:
    """Yield True when this run has the host's GPUs to itself, False when another run holds them."""
    lock = FileLock(str(path), mode=0o666)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()
