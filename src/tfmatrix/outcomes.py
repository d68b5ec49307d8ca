"""Combination outcomes as data, mapped in one place (nox's ``Status`` style).

``status`` is what happened; ``outcome`` is how it reads against the matrix's
``expect:``.  Only :data:`SESSION_FAILS` outcomes make the nox session fail.
"""

from __future__ import annotations

OK = "ok"
DEGRADED = "degraded"
FAILED = "failed"
INSTALL_FAILED = "install-failed"
SKIPPED = "skipped"
INTERRUPTED = "interrupted"  # stopped by SIGINT/SIGTERM; `nox -s bench -- --resume` runs it again
STATUSES = (OK, DEGRADED, FAILED, INSTALL_FAILED, SKIPPED, INTERRUPTED)

EXPECTED_FAILURE = "expected-failure"
UNEXPECTED_PASS = "unexpected-pass"
UNEXPECTED_FAILURE = "unexpected-failure"
OUTCOMES = STATUSES + (EXPECTED_FAILURE, UNEXPECTED_PASS, UNEXPECTED_FAILURE)

#: Outcomes that fail `nox -s bench` (a known-bad combination that fails as expected does not).
SESSION_FAILS = frozenset({FAILED, INSTALL_FAILED, UNEXPECTED_PASS, UNEXPECTED_FAILURE})


def read_outcome(status: str, failure_class: str | None, expect: str | None) -> str:
    """How a combination's result reads against what the matrix expected of it."""
    if status in (SKIPPED, INTERRUPTED):
        return status
    if expect is None:
        return status
    observed = None if status == OK else failure_class
    if observed is None:
        return UNEXPECTED_PASS
    return EXPECTED_FAILURE if observed == expect else UNEXPECTED_FAILURE
