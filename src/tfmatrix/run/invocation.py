"""What one ``bench(<combination>)`` session does within its nox invocation, around its :class:`Bench`.

The shard it belongs to, the run it writes, ``--resume``; and what the invocation's sessions share: the first
bench session starts the installs of the ones after it (:mod:`.ahead`) and decides whether their warm phases
run in interleaved rounds (:mod:`.interleave`); a later session waits for those installs before it takes its
venv's lock, then finds its venv installed, or its record already written.
"""

from __future__ import annotations

from ..matrix.model import Combination
from ..records.model import CombinationRecord
from ..records.status import Status
from . import ahead as ahead_
from .context import Context
from .endings import NoxSession, tell_nox
from .interleave import interleave_for, later_sessions
from .interrupts import signal_name_of
from .options import Options
from .pipeline import Bench


def run_combination(session: NoxSession, ctx: Context, combo: Combination,
                    opts: Options) -> CombinationRecord | None:
    """The body of ``bench(<combination>)``; the record it wrote (None: already done on --resume, or installed
    ahead for the pool)."""
    combo = opts.narrow(combo)
    if not ctx.in_shard(combo, opts):  # no record: the shard that owns it writes one
        session.skip(f"{combo.id}: not in shard {opts.shard} (another shard runs it)")
    run = ctx.run_to_write(opts)
    ctx.ensure_run(run, opts)
    later = later_sessions(session, ctx.run_id) if opts.stage == "all" and opts.placed_by == "local" else None
    rounds = interleave_for(session, ctx, opts, later)
    ahead = ahead_.for_invocation(session, ctx, run, opts, later)
    if ahead is not None and any(c.id == combo.id for c in ahead.combos):
        try:
            ahead.wait(session.log)  # before its venv's lock: its own install ahead may not have started yet
        except KeyboardInterrupt:
            ahead.stop()
            raise
    if opts.placed_by == "local" and opts.stage == "all":  # an executor's child leaves the summary to its driver
        if rounds is not None:
            session.notify("interleave")
        session.notify("summary", [run.run_id])
    if opts.resume is not None:
        run.mark_resumed(ctx.run_id)
        done = run.existing_record(combo.id)
        if done is not None and done.status != Status.INTERRUPTED:
            session.log(f"tfmatrix: {combo.id}: already recorded in run {run.run_id} ({done.outcome}); not run again")
            return None
        if done is not None:
            session.log(f"tfmatrix: {combo.id}: the interrupted attempt is kept as {run.set_aside(combo.id)}")
    if ahead is not None and ahead.tried(combo.id) and not ahead.installed(combo.id):
        done = run.existing_record(combo.id)
        if done is not None:  # its install stage recorded it (skipped here, or the install failed)
            session.log(f"tfmatrix: {combo.id}: {done.outcome} at its install ahead -> {run.record_path(combo.id)}")
            tell_nox(session, combo, done)
            return done
        session.warn(f"tfmatrix: {combo.id}: its install ahead ended without a record (see "
                     f"{run.log_dir(combo.id) / 'nox-install.log'}); installing it here")
    try:
        return Bench(session, ctx, combo, opts, run, interleave=rounds, ahead=ahead)()
    except KeyboardInterrupt as exc:  # the combinations waiting for their rounds keep what they measured too
        if ahead is not None:
            ahead.stop()
        if rounds is not None:
            rounds.interrupted(signal_name_of(exc))
        raise
