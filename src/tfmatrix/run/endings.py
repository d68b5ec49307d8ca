"""How a combination ends, for nox and in its record, wherever it ends: in its own bench session, in the
interleave session, at its install ahead, or in an executor's driver that never saw it run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..diagnosis import blame
from ..diagnosis.classify import classify_failure, family_of
from ..matrix.model import Combination
from ..records.model import (
    CombinationInfo,
    CombinationRecord,
    Failure,
    InstallOutcome,
    Placement,
)
from ..records.status import SESSION_FAILS, Outcome, Status, read_outcome
from ..records.store import RunDir, now
from .host import host_fingerprint
from .options import Options


class NoxSession(Protocol):  # the part of nox.Session used here
    posargs: list[str]
    venv_backend: str

    @property
    def virtualenv(self) -> Any: ...
    def log(self, *args: Any) -> None: ...
    def warn(self, *args: Any) -> None: ...
    def error(self, *args: Any) -> Any: ...
    def skip(self, *args: Any) -> Any: ...
    def notify(self, target: str, posargs: Any = None) -> None: ...


@dataclass(frozen=True)
class Ending:
    """How a combination ends: its status, the failure that ended it, the reason in one line."""

    status: Status
    failure: Failure | None = None
    reason: str = ""

    @property
    def why(self) -> str:
        return self.reason or (f"{self.failure.cls}: {self.failure.evidence}" if self.failure else "")


def new_record(run: RunDir, combo: Combination, opts: Options, executor: str) -> CombinationRecord:
    """A combination record before anything is measured (its host is the one this runs on)."""
    return CombinationRecord(
        run_id=run.run_id, combination=CombinationInfo.of(combo), quick=opts.quick, started_at=now(),
        host=host_fingerprint(),
        placement=Placement(executor=executor, shard=str(opts.shard) if opts.shard else None,
                            gpu_index=opts.gpu if combo.needs_gpu else None))


def record_by_driver(run: RunDir, combo: Combination, opts: Options, executor: str, status: Status,
                     reason: str, failure: Failure | None = None) -> Path:
    """What an executor's driver records when a combination never ran (no matching hardware) or
    its session ended without a record (killed): the reason, never a silent gap."""
    record = new_record(run, combo, opts, executor)
    record.status, record.reason, record.ended_at, record.failure = status, reason, now(), failure
    record.outcome = outcome_of(status, failure, combo.expect)
    return run.write_record(record)


def outcome_of(status: Status, failure: Failure | None, expect: str | None) -> Outcome:
    """:func:`read_outcome` with the failure's class and its family, from the taxonomy."""
    cls = failure.cls if failure else None
    return read_outcome(status, cls, expect, family_of(cls))


def install_failed(inst: InstallOutcome, combo: CombinationInfo) -> Ending:
    """The installer's cause (never its banner line), its class, and the package to blame."""
    failure = classify_failure(status=Status.INSTALL_FAILED, text=inst.error, gpu_stack=combo.needs_gpu)
    failure = blame.assign(failure, inst.error, blame.Facts.of(combo, inst), installer=True)
    return Ending(Status.INSTALL_FAILED, failure, f"{inst.failed_step}: {failure.cls}: {failure.evidence}")


def tell_nox(session: NoxSession, combo: Combination, rec: CombinationRecord) -> None:
    """How the session ends for nox: skipped, failed, or a warning for an unexpected degraded run."""
    expected = f" (expected {combo.expect})" if combo.expect else ""
    if rec.outcome == Outcome.SKIPPED:
        session.skip(f"{combo.id}: {rec.reason}")
    if rec.outcome in SESSION_FAILS:
        session.error(f"{combo.id}: {rec.outcome}{expected}: {rec.reason}")
    warning = degraded_warning(rec)
    if warning:
        session.warn(warning)


def degraded_warning(rec: CombinationRecord) -> str:
    """What nox is told of a run that worked but printed a known error, unless the matrix expects it ("")."""
    if rec.failure and rec.failure.cls == "degraded" and not rec.combination.expect:
        return f"{rec.id}: degraded: {rec.failure.evidence}"
    return ""
