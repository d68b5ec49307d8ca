"""What tfmatrix keeps between runs, listed and pruned: combination venvs, SavedModel exports, exporters' venvs.

Each TensorFlow venv is gigabytes, most of them hard links into uv's cache
(uv's default on Linux) that a venv shares with the cache and with every other
venv of the same wheels.  ``nox -s clean`` lists every entry with its size, the
part of it only that entry holds (what removing it frees while uv's cache stays),
and when a run last used it; ``-- --older-than 30d`` removes those unused
for longer (``--dry-run`` only says what it would remove).  A venv another run
holds (its lock is taken) is never removed.  Only folders inside the nox venv
folder (``bench-*``) and the export cache are ever touched, and symlinks are
not followed.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from ...errors import TfmatrixError

LAST_USED = ".tfmatrix-last-used"
DURATION_RE = re.compile(r"^([0-9]+)([hdw])$")
UNITS = {"h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class Entry:
    kind: str  # venv, export or exporter
    path: Path
    bytes: int
    last_used: float  # epoch seconds
    alone: int = 0  # the bytes of its files with no other link (hard links into uv's cache are shared)


def touch(folder: Path) -> None:
    """Note that a run used ``folder`` now."""
    if folder.is_dir():
        (folder / LAST_USED).touch()


def parse_age(text: str) -> float:
    m = DURATION_RE.match(text)
    if not m:
        raise TfmatrixError(f"--older-than: got {text!r}; expected a number and a unit: 12h, 30d or 2w")
    return int(m.group(1)) * UNITS[m.group(2)]


def sizes(folder: Path) -> tuple[int, int]:
    """(bytes, bytes of the files with no other hard link): its size, and what removing it frees."""
    total = alone = 0
    for root, _dirs, files in os.walk(folder, followlinks=False):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            total += st.st_size
            alone += st.st_size if st.st_nlink == 1 else 0
    return total, alone


def last_used(folder: Path) -> float:
    marker = folder / LAST_USED
    return (marker if marker.exists() else folder).stat().st_mtime


def entries(nox_dir: Path, cache_root: Path) -> list[Entry]:
    found = [("venv", p) for p in sorted(nox_dir.glob("bench-*")) if p.is_dir() and not p.is_symlink()]
    exports = cache_root / "exports"
    found += [("export", p) for p in sorted(exports.glob("*/*")) if p.is_dir() and not p.is_symlink()]
    exporters = cache_root / "exporters"  # the venvs shared exports are made in (export_with)
    found += [("exporter", p) for p in sorted(exporters.glob("*")) if p.is_dir() and not p.is_symlink()]
    out = []
    for kind, p in found:
        size, alone = sizes(p)
        out.append(Entry(kind, p, size, last_used(p), alone))
    return out


def lock_of(entry: Entry) -> Path | None:
    """The lock a run holds while it uses this entry (a bench venv's inside it, an exporter's beside it)."""
    if entry.kind == "venv":
        return entry.path / ".tfmatrix.lock"
    if entry.kind == "exporter":
        return entry.path.parent / f"{entry.path.name}.lock"
    return None


def in_use(entry: Entry) -> bool:
    path = lock_of(entry)
    if path is None:
        return False
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


def prune(found: list[Entry], older_than: float, dry_run: bool, now: float | None = None) -> list[tuple[Entry, str]]:
    """(entry, what was done) for every entry: kept, removed, would remove, or in use."""
    now = time.time() if now is None else now
    out = []
    for e in found:
        if now - e.last_used < older_than:
            out.append((e, "kept"))
        elif in_use(e):
            out.append((e, "in use by a run: kept"))
        elif dry_run:
            out.append((e, "would remove"))
        else:
            shutil.rmtree(e.path)
            out.append((e, "removed"))
    return out


def render(done: list[tuple[Entry, str]], now: float | None = None) -> str:
    now = time.time() if now is None else now
    lines = [f"{'kind':8}  {'size':>9}  {'its own':>9}  {'unused for':>10}  {'action':22}  path"]
    for e, action in done:
        days = (now - e.last_used) / 86400
        lines.append(f"{e.kind:8}  {e.bytes / 2**20:5.0f} MiB  {e.alone / 2**20:5.0f} MiB  {days:8.1f} d  "
                     f"{action:22}  {e.path}")
    freed = sum(e.alone for e, a in done if a in ("removed", "would remove"))
    verb = "would free" if any(a == "would remove" for _, a in done) else "freed"
    lines.append(f"{len(done)} entries, {sum(e.bytes for e, _ in done) / 2**30:.2f} GiB, "
                 f"{sum(e.alone for e, _ in done) / 2**30:.2f} GiB of it their own (the rest is hard links "
                 f"shared with uv's cache); {verb} {freed / 2**30:.2f} GiB")
    return "\n".join(lines)
