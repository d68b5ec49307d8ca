"""How a combination ends, for nox and in its record, wherever it ends: in its own bench session, in the
interleave session, at its install ahead, or in an executor's driver that never saw it run.

A record ends one way, :meth:`~tfmatrix.records.model.CombinationRecord.end`, from an :class:`Ending`;
nox is told one way, :func:`tell_nox`, from the records a session ended."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Sequence

from ...diagnosis import blame
from ...diagnosis.classify import classify_failure, family_of
from ...matrix.model import Combination
from ...records.model import CombinationInfo, CombinationRecord, Failure, InstallOutcome, Placement
from ...records.status import SESSION_FAILS, Outcome, Status
from ...records.store import RunDir, now
from ..execution.host import host_fingerprint
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
    def family(self) -> str | None:
        """The failure class's family in the taxonomy (an ``expect:`` may name the family)."""
        return family_of(self.failure.cls if self.failure else None)


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
    ending = Ending(status, failure, reason)
    return run.write_record(new_record(run, combo, opts, executor).end(status, failure, reason, family=ending.family))


def install_failed(inst: InstallOutcome, combo: CombinationInfo) -> Ending:
    """The installer's cause (never its banner line), its class, and the package to blame."""
    failure = classify_failure(status=Status.INSTALL_FAILED, text=inst.error, gpu_stack=combo.needs_gpu)
    failure = blame.assign(failure, inst.error, blame.Facts.of(combo, inst), installer=True)
    return Ending(Status.INSTALL_FAILED, failure, f"{inst.failed_step}: {failure.cls}: {failure.evidence}")


def tell_nox(session: NoxSession, ended: CombinationRecord | Sequence[CombinationRecord | None],
             what: str = "combinations failed") -> None:
    """How a session ends for nox, from the records it ended: a warning for each unexpected degraded run,
    then failed if any failed (``what``: how many, and what happened to them), or skipped when its one
    combination was skipped."""
    records = [ended] if isinstance(ended, CombinationRecord) else [r for r in ended if r is not None]
    for warning in filter(None, map(degraded_warning, records)):
        session.warn(warning)
    bad = [r for r in records if r.outcome in SESSION_FAILS]
    if isinstance(ended, CombinationRecord):
        rec, expect = ended, ended.combination.expect
        if bad:
            session.error(f"{rec.id}: {rec.outcome}{f' (expected {expect})' if expect else ''}: {rec.reason}")
        if rec.outcome == Outcome.SKIPPED:
            session.skip(f"{rec.id}: {rec.reason}")
    elif bad:
        session.error(f"tfmatrix: {len(bad)} {what}: "
                      + "; ".join(f"{r.id}: {r.outcome}" + (f" ({r.failure.cls})" if r.failure else "") for r in bad))


def degraded_warning(rec: CombinationRecord) -> str:
    """What nox is told of a run that worked but printed a known error, unless the matrix expects it ("")."""
    if rec.failure and rec.failure.cls == "degraded" and not rec.combination.expect:
        return f"{rec.id}: degraded: {rec.failure.evidence}"
    return ""
