# /// script
# dependencies = ["nox[uv]>=2025.2.9", "pyyaml>=6", "packaging>=23", "filelock>=3.12", "fastjsonschema>=2.19"]
# ///
"""tfmatrix's nox sessions: wiring only, the logic lives in src/tfmatrix."""

from __future__ import annotations

import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "src"))

from tfmatrix import sessions  # noqa: E402
from tfmatrix.run.noxside import dryrun  # noqa: E402

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["bench"]

CTX = sessions.nox_context(ROOT)  # a bad matrix file ends here: one line, exit status 2; nox's log is heard from here on
# --gpus 0,1,.. / --executor ray: the bench sessions only queue (no venv here); `dispatch` runs them
DISPATCH = sessions.dispatch_mode(sys.argv)
DRY_RUN = dryrun.requested(sys.argv)  # -- --dry-run: the bench sessions only say what they would do (no venv)
# compile at install: this machine sets PYTHONDONTWRITEBYTECODE, and pandas/matplotlib would compile on every run
COMPILED = {"UV_COMPILE_BYTECODE": "1"}


@nox.session(venv_backend="none", default=False)
def plan(session: nox.Session) -> None:
    """Queue the sessions that end a bench invocation (interleave, summary); required by bench."""
    sessions.plan_session(session, CTX, DISPATCH)


@nox.session(venv_backend="none" if DISPATCH or DRY_RUN else "uv|virtualenv", reuse_venv=True, requires=["plan"])
@nox.parametrize(  # ids, not objects: nox writes its parameters into --report and -l --json files
    "python,combo",
    [nox.param(c.python, c.id, id=c.id, tags=list(c.tags)) for c in CTX.combos],
)
def bench(session: nox.Session, combo: str) -> None:
    """Benchmark one combination: install its pins, run every phase, record it."""
    sessions.bench_session(session, CTX, CTX.combination(combo))


@nox.session(venv_backend="none", default=False)
def dispatch(session: nox.Session) -> None:
    """Run the combinations the bench sessions queued (--gpus pool or --executor ray); notified by bench."""
    sessions.dispatch_session(session, CTX)


@nox.session(venv_backend="none", default=False)
def interleave(session: nox.Session) -> None:
    """Measure the warm phases of this invocation's combinations in shared, shuffled rounds; queued by plan."""
    sessions.interleave_session(session, CTX)


@nox.session(venv_backend="none", default=False)
def summary(session: nox.Session) -> None:
    """Record the bench sessions nox ended before they ran, then print the summary table of a run (default: the latest)."""
    sessions.summary_session(session, CTX)


def tfmatrix_tool(session: nox.Session, *args: str) -> None:
    """``python -m tfmatrix ARGS`` in a venv with the report extra (bytecode compiled at install)."""
    session.install(".[report]", env=COMPILED)
    session.run("python", "-m", "tfmatrix", *args, env=CTX.env())


@nox.session(venv_backend="none", default=False)
def clean(session: nox.Session) -> None:
    """List cached venvs and exports; remove unused ones (-- --older-than 30d [--dry-run])."""
    sessions.clean_session(session, CTX)


@nox.session(venv_backend="uv|virtualenv", reuse_venv=True, default=False)
def report(session: nox.Session) -> None:
    """Build the HTML report of a run (-- [RUN_ID] [--baseline COMBO]) and the index of runs."""
    tfmatrix_tool(session, "report", *session.posargs)


@nox.session(venv_backend="uv|virtualenv", reuse_venv=True, default=False)
def merge(session: nox.Session) -> None:
    """Merge results folders from several machines or shards into one new run (-- DIR...)."""
    tfmatrix_tool(session, "merge", *session.posargs)


@nox.session(venv_backend="uv|virtualenv", reuse_venv=True, default=False)
def publish(session: nox.Session) -> None:
    """Write every run in asv's results format (results/asv) and build the asv site (reports/asv)."""
    tfmatrix_tool(session, "publish", *session.posargs)


@nox.session(venv_backend="uv|virtualenv", reuse_venv=True, default=False)
def scale(session: nox.Session) -> None:
    """Time the report (cold, warm cache, one new run), compare and asv publish over 10,000 synthetic records, written as a run of records (benchmarks/bench_reporting.py; -- --records N --runs R --samples K --case PATTERN --results DIR --json PATH)."""
    tfmatrix_tool(session, "scale", "--root", str(ROOT), *session.posargs)


@nox.session(venv_backend="uv|virtualenv", reuse_venv=True, default=False)
def compare(session: nox.Session) -> None:
    """Compare two runs (-- [BASE CANDIDATE]) or re-measure two combinations (-- --rerun-base BASE CANDIDATE)."""
    tfmatrix_tool(session, "compare", *sessions.compare_args(session, CTX))


@nox.session(venv_backend="uv|virtualenv", reuse_venv=True, default=False)
def bisect(session: nox.Session) -> None:
    """Find the first TensorFlow version where an outcome or a metric changed (-- --like COMBO --good V1 --bad V2 ...)."""
    tfmatrix_tool(session, "bisect", *sessions.bisect_args(session, CTX))


@nox.session(venv_backend="uv|virtualenv", reuse_venv=True, default=False)
def fix(session: nox.Session) -> None:
    """Find and prove the smallest pin change that makes a failed combination pass (-- COMBO [--allow ...])."""
    tfmatrix_tool(session, "fix", *sessions.fix_args(session, CTX))


@nox.session(venv_backend="none", default=False)
def predict(session: nox.Session) -> None:
    """Predict whether each combination installs on other platforms, resolving only (-- --platform windows,...)."""
    sessions.predict_session(session, CTX)


@nox.session(venv_backend="uv|virtualenv", reuse_venv=True, default=False)
def doctor(session: nox.Session) -> None:
    """Diagnose TensorFlow / CUDA / cuDNN / driver here, or in another venv (-- --python PATH)."""
    sessions.doctor_session(session, CTX)


@nox.session(venv_backend="uv|virtualenv", reuse_venv=True, default=False)
def lint(session: nox.Session) -> None:
    """ruff (pyflakes, import order, bugbear) and mypy over src/, the noxfile, benchmarks/ and tools/."""
    session.install("ruff>=0.6", "mypy>=1.11", "types-PyYAML", ".[report]", env=COMPILED)
    session.run("ruff", "check", ".")
    session.run("mypy")


@nox.session(venv_backend="uv|virtualenv", default=False)
def tests(session: nox.Session) -> None:
    """Run the test suite (unit tests and real nox + TensorFlow integration tests)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)
