"""Combinations nox ended before tfmatrix's code ran: a record for each, never a silent gap.

nox ends a session before its function runs when the session's Python cannot be found or made
(``skipped: Python interpreter 3.12 not found``; ``failed`` on CI, where nox errors on missing
interpreters), when its venv cannot be created (``failed``, with the installer's words in nox's log),
or when a session it requires failed (``aborted``).  None of these reaches :mod:`.invocation`, so none
writes a record.  The ``plan`` session, which every bench session requires, queues the ``summary``
session; the summary (:func:`record_unrun`) then writes a record for each bench session of this nox
invocation that ended without one, classified from nox's and uv's words, and the summary session fails
unless the matrix expected that ending.

nox's words come from its logger and from its session results, both read through
:mod:`.noxside.noxadapter` (the invocation's ``words``, attached at noxfile import); uv's from
``uv python find`` for a missing interpreter.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
from typing import Any

from ...diagnosis import blame
from ...diagnosis.classify import classify_failure, family_of
from ...errors import TfmatrixError
from ...matrix.model import Combination
from ...records.model import CombinationInfo, CombinationRecord, Failure
from ...records.status import Status
from ...records.store import RunDir
from ..provisioning.install import find_uv
from . import options
from .context import Context
from .endings import record_by_driver
from .noxadapter import ended_bench_sessions

_VENV = re.compile(r"\bvenv\b|virtual ?env|Python interpreter")


def uv_python_find(python: str) -> str:
    """uv's own words on looking for that Python ("" when uv finds it, or there is no uv)."""
    uv = find_uv()
    if uv is None:
        return ""
    try:
        proc = subprocess.run([uv, "python", "find", "--no-python-downloads", python], capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return "" if proc.returncode == 0 else condensed(proc.stderr or proc.stdout)


def condensed(said: str) -> str:
    """uv's error, its causes, and the first line a failed child printed (not the rest of its help)."""
    parts: list[str] = []
    child = False
    for line in (ln.strip() for ln in said.splitlines()):
        if not line:
            continue
        if line == "[stderr]":
            child = True
        elif child:
            parts.append(line)
            child = False
        elif line.startswith(("error:", "cause:", "×", "╰─▶")) or not parts:
            parts.append(line.removeprefix("cause: "))
    return ": ".join(parts)


def record_unrun(session: Any, ctx: Context) -> list[CombinationRecord]:
    """A record for each bench session of this invocation that nox ended before tfmatrix's code ran."""
    written: list[CombinationRecord] = []
    for ended in ended_bench_sessions(session) or []:
        combo_id, status, reason, posargs = ended.combo, ended.status, ended.reason, ended.posargs
        if reason.startswith("tfmatrix:"):
            continue  # tfmatrix's own code ran and ended it with a user error (one line, already said)
        try:
            opts = options.parse(posargs)
            combo = opts.narrow(ctx.combination(combo_id))
            run = ctx.run_to_write(opts)
        except TfmatrixError:  # its own session said so in one line, and wrote nothing to record it in
            continue
        if not opts.top_level or not ctx.in_shard(combo, opts):
            continue  # an executor's driver, or the shard that owns it, records it
        if run.record_path(combo.id).exists():
            continue
        ctx.ensure_run(run, opts)
        said = [f"nox: session {status}" + (f": {reason}" if reason else "")]
        said += ctx.invocation.words.said.get(f"bench({combo.id})", [])
        uv_said = uv_python_find(combo.python) if "interpreter" in reason.lower() else ""
        text = "\n".join(said + ([f"uv: {uv_said}"] if uv_said else []))
        failure = classify_failure(status="error", text=text, gpu_stack=combo.needs_gpu)
        no_venv = family_of(failure.cls) == "install-failed" or bool(_VENV.search(text))
        if no_venv and failure.cls == "python-error":
            failure = classify_failure(status=Status.INSTALL_FAILED, text=text, gpu_stack=combo.needs_gpu)
        written.append(_record(run, combo, opts, failure, text, Status.INSTALL_FAILED if no_venv else Status.FAILED))
    return written


def _record(run: RunDir, combo: Combination, opts: options.Options, failure: Failure, text: str,
            status: Status) -> CombinationRecord:
    failure = blame.assign(failure, text, blame.Facts.of(CombinationInfo.of(combo)),
                           installer=status == Status.INSTALL_FAILED)
    evidence = "; ".join(ln.strip() for ln in text.splitlines() if ln.strip())
    failure = dataclasses.replace(failure, evidence=evidence[:1000])
    record_by_driver(run, combo, opts, "local", status, f"nox ended the session before tfmatrix ran: {failure.evidence}",
                     failure)
    done = run.existing_record(combo.id)
    assert done is not None
    return done
