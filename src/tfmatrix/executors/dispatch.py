"""Queue combinations in the ``bench`` sessions; run them all in the ``dispatch`` session."""

from __future__ import annotations

import functools
import sys
from typing import Sequence

from ..errors import TfmatrixError
from ..matrix.model import Combination
from ..records.model import CombinationRecord
from ..records.store import RunDir
from ..run.execution.host import GpuInfo, visible_gpus
from ..run.noxside.context import Context
from ..run.noxside.endings import NoxSession
from ..run.noxside.options import Options, child_posargs, parse_lenient


@functools.lru_cache(maxsize=1)
def host_gpus() -> tuple[GpuInfo, ...]:
    return tuple(visible_gpus())


def mode(opts: Options, gpus: Sequence[GpuInfo] | None = None) -> str | None:
    """"ray", "gpus" (the local pool), or None: each session runs its own combination, in turn.

    ``--gpus`` with one GPU is ``--gpu``; on a host without GPUs it changes nothing (the
    bench session says so): timings taken side by side on a shared CPU would mean nothing.
    """
    if opts.executor == "ray":
        return "ray"
    if len(opts.gpus) < 2:
        return None
    gpus = list(host_gpus() if gpus is None else gpus)
    if not gpus:
        return None
    missing = [i for i in opts.gpus if i not in {g.index for g in gpus}]
    if missing:
        raise TfmatrixError(f"--gpus: got {','.join(map(str, opts.gpus))}; this host has GPUs "
                            f"{','.join(str(g.index) for g in gpus)} (no {','.join(map(str, missing))})")
    return "gpus"


def mode_from_argv(argv: Sequence[str]) -> str | None:
    """What the noxfile asks at import (before nox makes venvs): do the bench sessions only queue?"""
    return mode(parse_lenient(argv))


def queue(session: NoxSession, ctx: Context, combo: Combination, opts: Options, how: str) -> None:
    combo = opts.narrow(combo)  # --models is checked here, before anything runs
    if not ctx.in_shard(combo, opts):
        session.skip(f"{combo.id}: not in shard {opts.shard} (another shard runs it)")
    ctx.invocation.queued.append(combo)
    session.log(f"tfmatrix: {combo.id}: queued for {how} (run {ctx.run_id}); the dispatch session runs it")
    session.notify("dispatch", list(session.posargs))


def run_queued(session: NoxSession, ctx: Context, opts: Options) -> list[CombinationRecord | None]:
    """The ``dispatch`` session: hand the queue to its executor, then read back every record."""
    how = mode(opts)
    combos = ctx.invocation.queued
    if how is None or not combos:
        raise TfmatrixError("dispatch: nothing queued; run `nox -s bench -- --gpus 0,1` or "
                            "`nox -s bench -- --executor ray --address ADDR`, which queue and then dispatch")
    run = RunDir(ctx.results_root, ctx.run_id)
    root = ctx.root
    rest = child_posargs(session.posargs)
    if how == "gpus":
        from ..run.provisioning.ahead import NoxLauncher
        from .pool import run_pool

        ctx.ensure_run(run, opts)
        launcher = NoxLauncher(root=root, run=run, profile=ctx.profile, posargs=rest, python=sys.executable)
        run_pool(run, combos, opts, [g for g in host_gpus() if g.index in opts.gpus], launcher, session.log)
    else:
        from .ray import run_on_ray

        run_on_ray(ctx, run, combos, opts, rest, session.log)
    return [_read_back(run, c, session) for c in combos]


def _read_back(run: RunDir, combo: Combination, session: NoxSession) -> CombinationRecord | None:
    record = run.existing_record(combo.id)
    if record is None:
        session.log(f"tfmatrix: {combo.id}: missing")
        return None
    where = record.placement
    at = ""
    if where is not None:
        at = (f" on GPU {where.gpu_index}" if where.gpu_index is not None else "") + (
            f" on node {where.node.get('node_id', '')[:8]}" if where.node else "")
    session.log(f"tfmatrix: {combo.id}: {record.outcome}{at}{' - ' + record.reason if record.reason else ''}")
    return record
