"""Every way a combination or a phase can end, as enums, mapped in one place (nox's ``Status`` style).

A combination's :class:`Status` is what happened; its :class:`Outcome` is how
that reads against the matrix's ``expect:``.  ``pending`` is not an ending: a record written when the
cold starts are measured and the warm phases wait for the interleave session, replaced in place when it ends.  Only :data:`SESSION_FAILS`
outcomes make the nox session fail.  A phase ends in a :class:`PhaseStatus`.

The members are strings (``Status.OK == "ok"``), so records stay plain JSON
and ``str()``/f-strings give the value on every Python tfmatrix supports.
"""

from __future__ import annotations

import enum


class _Value(str, enum.Enum):
    """A str enum whose str() and format() are its value (Python 3.9 to 3.13 alike)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class Status(_Value):
    """What happened to a combination."""

    OK = "ok"
    DEGRADED = "degraded"
    FAILED = "failed"
    INSTALL_FAILED = "install-failed"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"  # stopped by SIGINT/SIGTERM; `nox -s bench -- --resume` runs it again
    PENDING = "pending"  # cold starts measured, warm phases waiting for the interleave session's rounds


class Outcome(_Value):
    """How a combination's status reads against what the matrix expected of it."""

    OK = "ok"
    DEGRADED = "degraded"
    FAILED = "failed"
    INSTALL_FAILED = "install-failed"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"
    PENDING = "pending"
    EXPECTED_FAILURE = "expected-failure"
    UNEXPECTED_PASS = "unexpected-pass"
    UNEXPECTED_FAILURE = "unexpected-failure"


class PhaseStatus(_Value):
    """How one phase (one worker process) ended."""

    OK = "ok"
    CACHED = "cached"  # an export reused from the cache: its samples are the original export's
    ERROR = "error"  # a Python exception, with type, message and traceback
    CRASHED = "crashed"  # a signal, an NTSTATUS, or a non-zero exit without a result
    TIMEOUT = "timeout"  # the whole process group killed at the phase timeout
    NO_RESULT = "no-result"  # exit 0 without a result file
    SKIPPED = "skipped"  # not run: an earlier phase failed
    INTERRUPTED = "interrupted"  # stopped by SIGINT/SIGTERM while running

    @property
    def measured(self) -> bool:
        """Did the phase give samples (its own, or a cached export's)?"""
        return self in (PhaseStatus.OK, PhaseStatus.CACHED)


#: Outcomes that fail `nox -s bench` (a known-bad combination that fails as expected does not).
SESSION_FAILS = frozenset({Outcome.FAILED, Outcome.INSTALL_FAILED, Outcome.UNEXPECTED_PASS,
                           Outcome.UNEXPECTED_FAILURE})
#: Outcomes that count as working when two runs are compared.
WORKING = frozenset({Outcome.OK, Outcome.DEGRADED, Outcome.EXPECTED_FAILURE})
#: Outcomes of a combination that did not (fully) run: nothing to judge.
NOT_RUN = frozenset({Outcome.SKIPPED, Outcome.INTERRUPTED, Outcome.PENDING})
#: Statuses ``--resume`` runs again: a real interruption, and a combination whose interleaved rounds never came.
UNFINISHED = frozenset({Status.INTERRUPTED, Status.PENDING})


def read_outcome(status: Status, failure_class: str | None, expect: str | None, family: str | None = None) -> Outcome:
    """How a combination's result reads against what the matrix expected of it; ``expect`` names the class
    observed, or its ``family`` (``install-failed`` accepts each install class: the taxonomy says which)."""
    if status in (Status.SKIPPED, Status.INTERRUPTED, Status.PENDING) or expect is None:
        return Outcome(status.value)
    observed = None if status == Status.OK else failure_class
    if observed is None:
        return Outcome.UNEXPECTED_PASS
    return Outcome.EXPECTED_FAILURE if expect in (observed, family) else Outcome.UNEXPECTED_FAILURE
