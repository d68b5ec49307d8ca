"""Typed records made up for a test (as bench would build them), when no real record has the shape needed."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable

from tfmatrix.history.comparison import Change, Comparison, StatusChange
from tfmatrix.records import metrics
from tfmatrix.records.model import CombinationInfo, CombinationRecord, Failure, InstallOutcome, PhaseRecord, RunRecord
from tfmatrix.records.status import Outcome, PhaseStatus, Status
from tfmatrix.records.store import Run

RUN_ID = "20260101T000000Z-000000"


def info(cid: str, models: Iterable[str] = ("m",), tensorflow: str = "2.20.0", stack_kind: str = "cpu",
         expect: str | None = None) -> CombinationInfo:
    return CombinationInfo(id=cid, tensorflow=tensorflow, tensorflow_id=cid.split("-")[0], models_official=tensorflow,
                           stack=stack_kind, stack_kind=stack_kind, python="3.11", models=tuple(models), tags=(),
                           requirements=(), force=(), expect=expect, library_path=())


def phase(kind: str, model: str | None = "m", batch: int | None = None, samples: Iterable[float] = (1.0,),
          status: str = "ok", unit: str = "seconds", name: str = "", **fields: Any) -> PhaseRecord:
    parts = [kind] + ([model] if model else []) + ([f"b{batch}"] if batch is not None else [])
    return PhaseRecord(phase=kind, name=name or "-".join(parts), benchmark="Suite.method", model=model, batch=batch,
                       status=PhaseStatus(status), samples=list(samples), unit=unit, **fields)


def record(cid: str, status: str = "ok", phases: Iterable[PhaseRecord] = (), models: Iterable[str] = ("m",),
           outcome: str | None = None, failure: Failure | None = None, reason: str = "",
           install: InstallOutcome | None = None, **fields: Any) -> CombinationRecord:
    return CombinationRecord(run_id=RUN_ID, combination=info(cid, models), status=Status(status),
                             outcome=Outcome(outcome or status), failure=failure, reason=reason, install=install,
                             phases=list(phases), **fields)


def run_info(run_id: str, day: int = 0) -> RunRecord:
    """A run's run.json as bench writes it, started ``day`` days after 2026-01-01."""
    started = (datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(days=day)).isoformat()
    return RunRecord(run_id=run_id, started_at=started, host={}, matrix={"path": "matrix.yaml", "sha256": "0" * 64},
                     profile="nightly", suite={"commit": f"{day:040x}", "dirty": False},
                     options={"models": [], "quick": False, "assume_gpu": False})


def history(runs: int, per_run: int, steps: int = 0, root: Path = Path("results")) -> tuple[list[Any], list[Any]]:
    """A long history held in memory, cheaply, as the index reads it: ``runs`` nightly runs' summaries
    (:class:`~tfmatrix.records.runcache.RunSummary`) of ``per_run`` records each (the same records in every
    run: an index only counts their outcomes), and ``steps`` change points in each
    (combination, metric) series, spread over the runs and alternating slower and faster."""
    from tfmatrix.history.changepoints import ChangePoint
    from tfmatrix.records.metrics import IMPORT, LATENCY, LOAD, PEAK_RSS

    records = [record(f"tf2.{i % 20}-cpu-{i:05d}", status="failed" if i % 10 == 0 else "ok") for i in range(per_run)]
    ids = [f"{(date(2026, 1, 1) + timedelta(days=d)).strftime('%Y%m%d')}T020000Z-{d:06x}" for d in range(runs)]
    from tfmatrix.records.runcache import summarise

    one = summarise(Run(ids[0], root / ids[0], run_info(ids[0]), records))  # counted once: every run holds the same
    folders = [dataclasses.replace(one, run_id=rid, started=run_info(rid, d).started_at, commit=f"{d:040x}"[:12],
                                   medians={}) for d, rid in enumerate(ids)]
    points = [ChangePoint(r.id, "m", metric, ids[(k + 1) * runs // (steps + 1)], level, level * ratio, ratio)
              for r in records for metric, level in ((IMPORT, 3.0), (LOAD, 5.0), (LATENCY, 0.14), (PEAK_RSS, 2.0**30))
              for k, ratio in zip(range(steps), [1.5, 1 / 1.5] * steps)]
    return folders, points


VERDICTS = ["not-significant", "improvement", "regression", "within-noise"]


def comparison(n: int, warnings: int = 0, only: int = 0, unchanged: int = 1) -> Comparison:
    """``n`` notable metric changes (verdicts interleaved, a quarter of them regressions), ``unchanged`` more,
    n/10 status changes, ids in order."""
    changes = [Change(f"combo-{i:05d}", "m", metrics.LOAD, 5.0, 5.0 * (1.5 if i % 4 == 2 else 1.2), 1.5, 0.004,
                      VERDICTS[i % 4]) for i in range(n)]
    changes += [Change(f"combo-quiet{i or ''}", "m", metrics.LOAD, 5.0, 5.0, 1.0, None, "unchanged")
                for i in range(unchanged)]
    status = [StatusChange(f"combo-{i:05d}", "ok", "failed", "regression" if i // 10 % 2 else "improvement",
                           "segfault: Fatal Python error") for i in range(0, n, 10)]
    return Comparison("base-run", "cand-run", changes=changes, status_changes=status,
                      only_in_base=[f"gone-{i:05d}" for i in range(only)],
                      warnings=[f"skipped: results/x/r{i}.json: not valid JSON" for i in range(warnings)])
