"""A derived cache of run summaries: ``results/.tfmatrix-history.sqlite`` (SQLite, from the standard library).

The history (the index, the change points) needs of each run folder only a
summary: its run record's start, profile and commit, its outcome counts, its
predictions count, its warnings and the median of each judged metric.  Reading
and schema-checking every record of every run to get those is what made a
report grow with the whole history, so the summary of each folder is kept here,
keyed by the folder's **digest**: the name, size and mtime (ns) of each of its
record files (``run.json``, ``<combination>.json``, ``predictions/*.json``).
Stat, not sha256: a digest by content would read every byte of every record on
every report, the cost the cache is there to avoid; records are create-only and
a replaced (pending) record is renamed into place, so a change to a record
always changes its size or its mtime.

The cache is never the source of truth.  A folder whose digest differs is read
again (the stale ones in parallel, across processes bounded by the cores); a
file that is missing, truncated, of another layout version or not SQLite at all
is deleted and rebuilt from the records, so a report from a broken cache is the
report from no cache.  ``series`` holds what :mod:`tfmatrix.history.changepoints`
stores per series (its fitted levels, keyed by the series' values).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from . import metrics as catalogue
from .model import CombinationRecord
from .prediction import FOLDER as PREDICTIONS
from .store import Run, load_run, record_paths

NAME = ".tfmatrix-history.sqlite"
TIMEOUT = 5.0  # seconds to wait for another report that holds the file, then go without it
LAYOUT = 1  # bump when the tables or a summary's fields change: an older file is rebuilt
#: (combination id, model or None, metric key) of a summary's metric medians
SummaryKey = tuple[str, "str | None", str]


@dataclass
class RunSummary:
    """What the index and the change points need of one run folder."""

    run_id: str
    started: str
    profile: str
    commit: str
    counts: dict[str, int]  # outcome -> combinations
    predicted: int
    warnings: list[str] = field(default_factory=list)
    medians: dict[SummaryKey, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "started": self.started, "profile": self.profile, "commit": self.commit,
                "counts": self.counts, "predicted": self.predicted, "warnings": self.warnings,
                "medians": [[c, m, k, v] for (c, m, k), v in self.medians.items()]}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "RunSummary":
        return cls(doc["run_id"], doc["started"], doc["profile"], doc["commit"], dict(doc["counts"]),
                   int(doc["predicted"]), list(doc["warnings"]),
                   {(c, m, k): float(v) for c, m, k, v in doc["medians"]})


def run_medians(records: Iterable[CombinationRecord]) -> dict[SummaryKey, float]:
    """The median of each judged metric, keyed as ``history.compare.series`` keys its samples."""
    import statistics

    out: dict[SummaryKey, float] = {}
    for rec in records:
        for phase, metric, samples in catalogue.all_measured(rec.phases, judged=True):
            if samples:
                out[(rec.id, rec.benchmark_model(phase.model), metric.key)] = statistics.median(samples)
    return out


def summarise(run: Run) -> RunSummary:
    counts: dict[str, int] = {}
    for r in run.records:
        counts[str(r.outcome)] = counts.get(str(r.outcome), 0) + 1
    info = run.info
    return RunSummary(run.run_id, (info.started_at if info else "") or "?", (info.profile if info else "") or "?",
                      ((info.commit if info else None) or "?")[:12], counts, len(run.predictions),
                      list(run.warnings), run_medians(run.records))


def read_summary(folder: Path) -> RunSummary:
    """A folder read in full (the one reader) and summarised: what a worker process does."""
    return summarise(load_run(folder))


def digest(folder: Path) -> str:
    """sha256 over (name, size, mtime ns) of the folder's record files (see the module docstring)."""
    h = hashlib.sha256()
    for sub in (folder, folder / PREDICTIONS):
        names = ([folder / "run.json"] if sub == folder else []) + (record_paths(sub) if sub.is_dir() else [])
        for p in names:
            try:
                st = p.stat()
            except OSError:
                continue
            h.update(f"{p.relative_to(folder)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


class Cache:
    """The SQLite file under a results root; any error reading it means: rebuild it from the records."""

    def __init__(self, results_root: Path) -> None:
        self.path = results_root / NAME
        self.db = self._open()

    def _open(self) -> sqlite3.Connection:
        for attempt in (1, 2):
            db = sqlite3.connect(self.path, timeout=TIMEOUT)
            try:
                return _init(db)
            except sqlite3.DatabaseError as exc:
                db.close()
                if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                    return _init(sqlite3.connect(":memory:"))  # another report holds it: this one goes without
                if attempt == 2:
                    raise
                self._discard()
        raise AssertionError("unreachable")

    def _discard(self) -> None:
        for suffix in ("", "-journal", "-wal", "-shm"):
            try:
                os.unlink(f"{self.path}{suffix}")
            except FileNotFoundError:
                pass

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Cache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        """A query whose failure (a file broken under us) empties the cache instead of failing the report."""
        try:
            return self.db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                return []  # another report holds it: read the records, leave the file to that report
            self.close()
            self._discard()
            self.db = self._open()
            return []

    def _write(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        try:
            self.db.executemany(sql, rows)
            self.db.commit()
        except sqlite3.DatabaseError:
            pass  # a cache that cannot be written is only slower next time

    def summaries(self, folders: list[Path], workers: int | None = None) -> list[RunSummary]:
        """A summary per folder (same order): the cached one where its digest still matches, else read."""
        cached: dict[str, tuple[str, str]] = {r[0]: (r[1], r[2]) for r in
                                              self._rows("SELECT run_id, digest, summary FROM runs")}
        out: dict[str, RunSummary] = {}
        stale: list[tuple[Path, str]] = []
        for folder in folders:
            d = digest(folder)
            hit = cached.get(folder.name)
            if hit and hit[0] == d:
                try:
                    out[folder.name] = RunSummary.from_json(json.loads(hit[1]))
                    continue
                except (ValueError, KeyError, TypeError):
                    pass  # a damaged row: read the folder again
            stale.append((folder, d))
        fresh = read_all([f for f, _ in stale], workers)
        for (folder, _), summary in zip(stale, fresh):
            out[folder.name] = summary
        self._write("INSERT OR REPLACE INTO runs VALUES (?, ?, ?)",
                    [(f.name, d, json.dumps(s.to_json())) for (f, d), s in zip(stale, fresh)])
        return [out[f.name] for f in folders]

    def series_states(self) -> dict[str, tuple[str, str]]:
        return {r[0]: (r[1], r[2]) for r in self._rows("SELECT key, sig, state FROM series")}

    def put_series(self, rows: list[tuple[str, str, str]]) -> None:
        self._write("INSERT OR REPLACE INTO series VALUES (?, ?, ?)", rows)


def _init(db: sqlite3.Connection) -> sqlite3.Connection:
    """The tables, in a file of this layout (another layout raises, so the file is rebuilt)."""
    db.execute("CREATE TABLE IF NOT EXISTS meta (layout INTEGER NOT NULL)")
    row = db.execute("SELECT layout FROM meta").fetchone()
    if row is not None and row[0] != LAYOUT:
        raise sqlite3.DatabaseError(f"layout {row[0]}, expected {LAYOUT}")
    if row is None:
        db.execute("INSERT INTO meta VALUES (?)", (LAYOUT,))
    db.execute("CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, digest TEXT NOT NULL, summary TEXT NOT NULL)")
    db.execute("CREATE TABLE IF NOT EXISTS series (key TEXT PRIMARY KEY, sig TEXT NOT NULL, state TEXT NOT NULL)")
    db.commit()
    return db


def read_all(folders: list[Path], workers: int | None = None) -> list[RunSummary]:
    """Summaries of these folders, read across processes (at most ``workers``, default the cores) when several."""
    workers = min(workers or os.cpu_count() or 1, len(folders))
    if workers <= 1:
        return [read_summary(f) for f in folders]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        # one folder a task: a folder is seconds of work at 1,000 records, and chunks of 12 (a quarter of each
        # worker's share) left one core idle for the last chunk, ~5 s at 100k records
        return list(pool.map(read_summary, folders, chunksize=1))
