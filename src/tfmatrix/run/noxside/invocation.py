"""What one ``bench(<combination>)`` session does within its nox invocation, around its :class:`Pipeline`.

The shard it belongs to, the run it writes, ``--resume``; and the invocation's plan, made once by its first
bench session into the :class:`~tfmatrix.run.noxside.context.Invocation` the noxfile's context holds
(:func:`plan`): the combinations nox selected (:mod:`.noxside.noxadapter` reads its queue), the installs of
the ones after it (:mod:`.ahead`), and whether their warm phases wait, ``pending``, for interleaved rounds
(:mod:`.interleave`).  A later session waits for those installs before it takes its venv's lock, then finds
its venv installed, or its record already written.
"""

from __future__ import annotations

from ...matrix.model import Combination
from ...records.model import CombinationRecord
from ...records.status import UNFINISHED, Status
from ...records.store import RunDir
from ..provisioning import ahead as ahead_
from ..scheduling import interleave
from ..scheduling.pipeline import Pipeline, stop_rounds
from .context import Context, Invocation
from .endings import NoxSession, tell_nox
from .interrupts import signal_name_of
from .noxadapter import queued_bench_sessions
from .options import Options


def plan(session: NoxSession, ctx: Context, run: RunDir, opts: Options, combo: Combination) -> Invocation:
    """The invocation's plan, made by its first top-level bench session (later sessions find it made)."""
    inv = ctx.invocation
    if inv.planned or not opts.top_level:
        return inv
    later = queued_bench_sessions(session)
    inv.selected = None if later is None else [combo.id, *later]
    inv.rounds = interleave.decide(session, ctx, opts, later)
    inv.ahead = ahead_.start(session, ctx, run, opts, later)
    inv.planned = True
    return inv


def run_combination(session: NoxSession, ctx: Context, combo: Combination,
                    opts: Options) -> CombinationRecord | None:
    """The body of ``bench(<combination>)``; the record it wrote (None: already done on --resume, or installed
    ahead for the pool)."""
    combo = opts.narrow(combo)
    if not ctx.in_shard(combo, opts):  # no record: the shard that owns it writes one
        session.skip(f"{combo.id}: not in shard {opts.shard} (another shard runs it)")
    run = ctx.run_to_write(opts)
    ctx.ensure_run(run, opts)
    inv = plan(session, ctx, run, opts, combo)
    ahead = inv.ahead if opts.top_level else None
    rounds = inv.rounds if opts.top_level else None
    if ahead is not None and any(c.id == combo.id for c in ahead.combos):
        try:
            ahead.wait(session.log)  # before its venv's lock: its own install ahead may not have started yet
        except KeyboardInterrupt:
            ahead.stop()
            raise
    if opts.resume is not None:
        run.mark_resumed(ctx.run_id)
        done = run.existing_record(combo.id)
        if done is not None and done.status not in UNFINISHED:
            session.log(f"tfmatrix: {combo.id}: already recorded in run {run.run_id} ({done.outcome}); not run again")
            return None
        if done is not None and done.status == Status.PENDING:
            session.log(f"tfmatrix: {combo.id}: pending in run {run.run_id} (its rounds never ran): run again, its "
                        "record replaced in place")
        elif done is not None:
            session.log(f"tfmatrix: {combo.id}: the interrupted attempt is kept as {run.set_aside(combo.id)}")
    if ahead is not None and ahead.tried(combo.id) and not ahead.installed(combo.id):
        done = run.existing_record(combo.id)
        if done is not None:  # its install stage recorded it (skipped here, or the install failed)
            session.log(f"tfmatrix: {combo.id}: {done.outcome} at its install ahead -> {run.record_path(combo.id)}")
            tell_nox(session, done)
            return done
        session.warn(f"tfmatrix: {combo.id}: its install ahead ended without a record (see "
                     f"{run.log_dir(combo.id) / 'nox-install.log'}); installing it here")
    try:
        return Pipeline(session, ctx, combo, opts, run, interleave=rounds, ahead=ahead)()
    except KeyboardInterrupt as exc:  # the combinations waiting for their rounds keep what they measured too
        if ahead is not None:
            ahead.stop()
        if rounds is not None:
            stop_rounds(rounds, signal_name_of(exc))
        raise
