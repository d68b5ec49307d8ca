"""What the noxfile's sessions call: one function per session, the session's options parsed once.

User errors end a session with one line through :func:`tfmatrix.errors.reported`
(``session.error``); at noxfile import, with one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, NoReturn, Sequence

from packaging.version import Version

from .errors import TfmatrixError, reported
from .matrix.expand import matrix_path_from_env
from .matrix.load import load_matrix
from .matrix.model import Combination
from .records.status import Status
from .records.store import RUN_ID_ENV, RunDir, check_run_id, new_run_id, results_root
from .run.noxside import options
from .run.noxside.context import PROFILE_ENV, Context


def _exit(line: str) -> NoReturn:
    sys.stderr.write(f"tfmatrix: error: {line}\n")
    raise SystemExit(2)


def _fails(session: Any) -> Any:
    """How a session reports a user error: one line, and the session fails."""
    return lambda line: session.error(f"tfmatrix: {line}")


def nox_context(root: Path) -> Context:
    """Load the matrix once, at noxfile import; a bad one ends nox with status 2."""
    with reported(_exit):
        matrix = load_matrix(matrix_path_from_env(root))
        profile = os.environ.get(PROFILE_ENV, "default")
        matrix.profile(profile)
        run_id = os.environ.get(RUN_ID_ENV) or new_run_id()
        check_run_id(run_id, RUN_ID_ENV)
        os.environ[RUN_ID_ENV] = run_id  # every session of this nox invocation writes into the same run
        from .run.noxside.noxadapter import listen

        ctx = Context(root=root, matrix=matrix, profile=profile, run_id=run_id, results_root=results_root(root))
        listen(ctx.invocation.words)  # nox's words on the sessions it ends before they run (a venv it cannot make)
        return ctx


def dispatch_mode(argv: Sequence[str]) -> str | None:
    """At noxfile import: "gpus" or "ray" when the bench sessions only queue (they then need no venv)."""
    from .executors.dispatch import mode_from_argv

    with reported(_exit):
        return mode_from_argv(argv)


def bench_session(session: Any, ctx: Context, combo: Combination) -> None:
    from .executors import dispatch
    from .run.noxside import dryrun
    from .run.noxside.interrupts import signals_as_interrupt
    from .run.noxside.invocation import run_combination

    with reported(_fails(session)):
        opts = options.parse(session.posargs)
        if opts.dry_run:  # says what it would do; no venv, nothing installed or written
            return dryrun.bench(session, ctx, combo, opts)
        how = dispatch.mode(opts)
        if how is not None:
            where = "the Ray cluster" if how == "ray" else f"the GPU pool {','.join(map(str, opts.gpus))}"
            dispatch.queue(session, ctx, combo, opts, where)
            return
        if opts.pooled:
            session.warn(f"tfmatrix: --gpus {','.join(map(str, opts.gpus))}: no GPU is visible here, so "
                         "combinations run one at a time (timings taken side by side on a shared CPU would "
                         "mean nothing)")
        with signals_as_interrupt():  # SIGTERM, like Ctrl-C, records the combination as interrupted
            run_combination(session, ctx, combo, opts)


def dispatch_session(session: Any, ctx: Context) -> None:
    """Run what the bench sessions queued, on the GPU pool or Ray; fail if any combination failed."""
    from .executors import dispatch
    from .run.noxside.endings import tell_nox
    from .run.noxside.interrupts import signals_as_interrupt

    with reported(_fails(session)), signals_as_interrupt():
        records = dispatch.run_queued(session, ctx, options.parse(session.posargs))
    session.notify("summary", [ctx.run_id])
    tell_nox(session, records)


def interleave_session(session: Any, ctx: Context) -> None:
    """The warm phases the bench sessions left pending, in shared rounds; fail if any combination failed."""
    from .run.noxside.endings import tell_nox
    from .run.noxside.interrupts import signal_name_of, signals_as_interrupt
    from .run.scheduling.pipeline import run_rounds, stop_rounds

    rounds = ctx.invocation.rounds
    if rounds is None or not rounds.owners:
        session.log("tfmatrix: no warm phases wait for interleaved rounds in this invocation")
        return
    try:
        with reported(_fails(session)), signals_as_interrupt():
            records = run_rounds(rounds, session.log)
    except KeyboardInterrupt as exc:
        stop_rounds(rounds, signal_name_of(exc))
        raise
    tell_nox(session, records)  # as their own sessions would have said it


def compare_args(session: Any, ctx: Context) -> list[str]:
    """The arguments of ``python -m tfmatrix compare``.  With ``--rerun-base BASE CANDIDATE``, the two combinations
    are first measured in one nox invocation, interleaved (a new run), and compared ``--within`` it."""
    args = list(session.posargs)
    if "--rerun-base" not in args:
        return args
    at = args.index("--rerun-base")
    pair, rest = args[at + 1:at + 3], args[:at] + args[at + 3:]
    with reported(_fails(session)):
        if len(pair) != 2 or any(a.startswith("-") for a in pair):
            raise TfmatrixError(f"compare --rerun-base: got {' '.join(pair) or 'nothing'}; expected BASE CANDIDATE, "
                                "two combination ids (`nox -l` lists them)")
        base, cand = (ctx.combination(c) for c in pair)
        if base.id == cand.id:
            raise TfmatrixError(f"compare --rerun-base: got {base.id} twice; expected two different combinations")
    bench = [a for a in ("--quick", "--dry-run") if a in rest]
    rest = [a for a in rest if a not in bench]
    from .history.verdicts import DEFAULT_ALPHA, samples_needed

    alpha = DEFAULT_ALPHA
    if "--alpha" in rest and rest.index("--alpha") + 1 < len(rest):
        with reported(_fails(session)):
            alpha = _alpha(rest[rest.index("--alpha") + 1])
    cold = samples_needed(alpha)  # import, load and first inference reach a verdict, not a certain undecidable
    bench += ["--cold-starts", str(cold)]
    session.log(f"tfmatrix: measuring {base.id} and {cand.id} in one interleaved run ({ctx.run_id}), "
                f"{cold} cold starts each: the fewest with which Mann-Whitney can reach p < {alpha:g} (more rounds, up "
                f"to --max-cold-starts, where a cold-start metric moved but p is not yet below it)")
    session.run(sys.executable, "-m", "nox", "-f", str(ctx.root / "noxfile.py"), "-s", f"bench({base.id})",
                f"bench({cand.id})", "--", *bench, env=ctx.env(), external=True, success_codes=[0, 1])
    if "--dry-run" in bench:  # the two plans are said; nothing was measured, so nothing is compared
        session.skip("tfmatrix: compare --rerun-base --dry-run: nothing measured, nothing compared")
    # more rounds where a cold-start metric moved but p is not yet below alpha: `compare` runs them (history/gate.py)
    again = ["--nox-python", sys.executable, "--noxfile", str(ctx.root / "noxfile.py"),
             *(a for a in bench if a == "--quick")]
    return ["--within", ctx.run_id, base.id, cand.id, *again, *rest]


def _alpha(word: str) -> float:
    try:
        alpha = float(word)
    except ValueError:
        alpha = -1.0
    if not 0 < alpha < 1:
        raise TfmatrixError(f"compare --alpha: got {word!r}; expected a significance level between 0 and 1 (0.01)")
    return alpha


def bisect_args(session: Any, ctx: Context) -> list[str]:
    """The arguments of ``python -m tfmatrix bisect``: the user's, and where this invocation's matrix, results,
    reports and run are; each probe is a ``bench`` session of the nox running this one (its interpreter)."""
    return ["--", *session.posargs, "--matrix", ctx.matrix.path, "--profile", ctx.profile, "--root", str(ctx.root),
            "--results", str(ctx.results_root), "--reports", str(ctx.reports_root), "--run-id", ctx.run_id,
            "--nox-python", sys.executable]


def fix_args(session: Any, ctx: Context) -> list[str]:
    """The arguments of ``python -m tfmatrix fix``: the user's, and where this invocation's matrix, results and
    run are; each probe is a ``bench`` session of the nox running this one (its interpreter)."""
    return ["--", *session.posargs, "--matrix", ctx.matrix.path, "--profile", ctx.profile, "--root", str(ctx.root),
            "--results", str(ctx.results_root), "--run-id", ctx.run_id, "--nox-python", sys.executable]


def predict_session(session: Any, ctx: Context) -> None:
    """Resolve every combination of the profile for other platforms; record and print what installs where."""
    from .predicting import command

    with reported(_fails(session)):
        command.main(ctx, session.posargs, say=print)


def clean_session(session: Any, ctx: Context) -> None:
    """List the venvs and exports kept between runs; with --older-than, remove the unused ones."""
    from .run.provisioning import cache

    p = argparse.ArgumentParser(prog="nox -s clean --", exit_on_error=False)
    p.add_argument("--older-than", default=None, help="remove entries unused for longer: 12h, 30d, 2w")
    p.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    with reported(_fails(session)):
        try:
            args = p.parse_args(session.posargs)
        except argparse.ArgumentError as exc:
            raise TfmatrixError(f"clean options: {exc}") from None
        found = cache.entries(ctx.root / ".nox", ctx.cache_root)
        age = cache.parse_age(args.older_than) if args.older_than else float("inf")
        done = cache.prune(found, age, args.dry_run)
    print(cache.render(done))


def plan_session(session: Any, ctx: Context, dispatch: str | None) -> None:
    """Before the bench sessions: queue the sessions that end the invocation, in their order, so the summary
    runs (and records what nox ended before it ran) even when no bench session reaches tfmatrix's code."""
    if dispatch:
        return  # the dispatch session queues the summary; bench sessions there make no venv nox could fail
    with reported(_fails(session)):
        opts = options.parse(session.posargs)
        run = ctx.run_to_write(opts)  # with --resume, the run it continues
    if opts.dry_run:  # a dry run writes no run: nothing to summarise
        return
    if opts.top_level:  # the one place they are queued; an executor's child leaves the summary to its driver
        session.notify("interleave")
        session.notify("summary", [run.run_id])


def summary_session(session: Any, ctx: Context) -> None:
    from .run.noxside.endings import tell_nox
    from .run.noxside.unrun import record_unrun

    with reported(_fails(session)):
        unrun = record_unrun(session, ctx)
        text = summary_text(ctx, session.posargs[0] if session.posargs else None)
    print(text)
    tell_nox(session, unrun, "combinations ended before tfmatrix ran")


def summary_text(ctx: Context, run_id: str | None) -> str:
    """The table of a run (default: the latest), through the one reader; stamps the run's end, once."""
    from .matrix.expand import combinations
    from .report import summary

    run = RunDir(ctx.results_root, check_run_id(run_id, "summary run id")) if run_id else RunDir.latest(ctx.results_root)
    if not run.run_record.exists():
        raise TfmatrixError(f"{run.path}: no run record (no bench session ran in this run)")
    read = run.load()
    run.finish()
    wanted = combinations(ctx.matrix, read.info.profile if read.info else ctx.profile)
    from .fixing.state import verified, verified_line

    fixes = {cid: f"{verified_line(s)}; {run.path / 'fixes' / (cid + '.json')}" for cid, s in verified(run.path).items()}
    text = summary.render(run.run_id, read.records, wanted, fixes)
    skipped = [w for w in read.warnings if w.startswith("skipped:")]
    pending = [r.id for r in read.records if r.status == Status.PENDING]
    if pending:  # the run stopped before the interleave session's rounds
        skipped.append(f"{len(pending)} pending ({', '.join(pending)}): the run stopped before the interleave "
                       f"session measured their warm phases; `nox -s bench -- --resume {run.run_id}` finishes them")
    return "\n".join([text, *(f"  warning: {w}" for w in skipped)])


def doctor_session(session: Any, ctx: Context) -> None:
    """Diagnose ``--python PATH``, or else this session's own venv with the matrix's newest TensorFlow."""
    from .cli import doctor_text
    from .run.execution.runner import python_in

    p = argparse.ArgumentParser(prog="nox -s doctor --")
    p.add_argument("--python", default=None)
    args = p.parse_args(session.posargs)
    python = args.python
    if python is None:
        newest = max((t for t in ctx.matrix.tensorflow if not t.expect), key=lambda t: Version(t.version))
        session.install(f"tensorflow=={newest.version}", *newest.requires, "nvidia-ml-py")
        python = python_in(Path(session.virtualenv.location))
    with reported(_fails(session)):
        text, status = doctor_text(python)
    print(text)
    if status:
        session.error("tfmatrix doctor found errors (above)")
