"""Typed records made up for a test (as bench would build them), when no real record has the shape needed."""

from __future__ import annotations

from typing import Any, Iterable

from tfmatrix.records.model import CombinationInfo, CombinationRecord, Failure, InstallOutcome, PhaseRecord
from tfmatrix.records.status import Outcome, PhaseStatus, Status

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
