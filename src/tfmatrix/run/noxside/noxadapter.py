"""Everything tfmatrix reads from nox beyond its public API, in one place, each checked against the shape it
relies on.

* the queue: which ``bench(<combination>)`` sessions nox will run after this one (``-s``, ``-t``, ``-k`` are
  nox's own selection), from ``session._runner.manifest._queue``;
* the sessions nox has ended, with its status and reason, from ``session._runner.manifest._all_sessions``;
* nox's words: its logger ``nox`` says ``Running session NAME`` when a session starts, and logs a failed
  command's output at ERROR, then its verdict line ``Session NAME failed: ...`` (:class:`NoxWords`).

Where an installed nox no longer has that shape, :class:`NoxChanged` says so in one line naming its version,
instead of tfmatrix measuring the wrong sessions quietly.  tests/test_noxadapter.py checks each behaviour
against the nox installed.  A session object that is not nox's (a test's) has no queue: None.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from ...errors import TfmatrixError

RUNNING = re.compile(r"^Running session (?P<name>\S.*)$")
VERDICT = re.compile(r"^Session \S+ (was successful|failed|aborted|skipped)")  # nox's own verdict line: not evidence
BENCH = "bench"  # the session whose parametrised runs are the combinations
PARAM = "combo"  # its parameter: the combination id


class NoxChanged(TfmatrixError):
    """The installed nox no longer has a shape tfmatrix reads."""


def nox_version() -> str:
    try:
        from importlib.metadata import version

        return version("nox")
    except Exception:  # noqa: BLE001 - not installed as a distribution: its module may still say
        import nox

        return str(getattr(nox, "__version__", "unknown"))


def _changed(what: str, exc: BaseException) -> NoxChanged:
    return NoxChanged(f"nox {nox_version()}: {what} is not where tfmatrix reads it ({type(exc).__name__}: {exc}); "
                      "install the nox tests/test_noxadapter.py passes with, or update tfmatrix/run/noxside/noxadapter.py")


def _manifest(session: Any) -> Any:
    """nox's manifest of this invocation's sessions; None for a session object that is not nox's."""
    import nox

    if not isinstance(session, nox.Session):
        return None
    try:
        return session._runner.manifest
    except AttributeError as exc:
        raise _changed("Session._runner.manifest", exc) from None


def _combo(runner: Any) -> str | None:
    """The combination id of a ``bench(<id>)`` session runner (None for any other session)."""
    if runner.name != BENCH:
        return None
    return getattr(runner.func, "call_spec", {}).get(PARAM)


def queued_bench_sessions(session: Any) -> list[str] | None:
    """The combination ids of the bench sessions nox will run after this one (None: not a nox session)."""
    manifest = _manifest(session)
    if manifest is None:
        return None
    try:
        return [c for c in (_combo(r) for r in manifest._queue) if c is not None]
    except (AttributeError, TypeError) as exc:
        raise _changed("Manifest._queue (its SessionRunners' name and func.call_spec)", exc) from None


@dataclass(frozen=True)
class Ended:
    """A bench session nox has ended: its combination, nox's status and reason, its words after ``--``."""

    combo: str
    status: str  # success, failed, aborted, skipped
    reason: str
    posargs: list[str]


def ended_bench_sessions(session: Any) -> list[Ended] | None:
    """Each bench session this nox invocation has ended so far (None: not a nox session)."""
    manifest = _manifest(session)
    if manifest is None:
        return None
    try:
        return [Ended(c, r.result.status.name.lower(), r.result.reason or "", list(r.posargs))
                for r in manifest._all_sessions if (c := _combo(r)) is not None and r.result is not None]
    except (AttributeError, TypeError) as exc:
        raise _changed("Manifest._all_sessions (their result.status, result.reason and posargs)", exc) from None


class NoxWords(logging.Handler):
    """What nox's logger said in error during each session (a command that failed, with its output; the last
    40 lines), less nox's own verdict line."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.current: str | None = None
        self.said: dict[str, list[str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a log call with bad arguments is nox's business
            return
        m = RUNNING.match(message)
        if m:
            self.current = m.group("name")
        elif self.current is not None and record.levelno >= logging.ERROR and not VERDICT.match(message):
            lines = self.said.setdefault(self.current, [])
            lines.extend(message.splitlines())
            del lines[:-40]


def listen(words: NoxWords) -> None:
    """Attach ``words`` to nox's logger, in place of an earlier invocation's (at noxfile import)."""
    logger = logging.getLogger("nox")
    for old in [h for h in logger.handlers if isinstance(h, NoxWords)]:
        logger.removeHandler(old)
    logger.addHandler(words)
