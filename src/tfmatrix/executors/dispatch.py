"""Queue combinations in the ``bench`` sessions; run them all in the ``dispatch`` session."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any, Sequence

from .. import outcomes
from ..bench import Context, NoxSession, Options, in_shard, parse_gpus, parse_options, select
from ..errors import TfmatrixError
from ..gpu import GpuInfo, visible_gpus
from ..matrix import Combination
from ..results import RunDir

#: combination ids queued by this nox process's bench sessions, per run id, in nox's order
QUEUED: dict[str, list[str]] = {}

#: the options only the driver reads; the combination's own session gets the rest
DRIVER_OPTIONS = ("--gpus", "--executor", "--address", "--shard")


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
    """What the noxfile asks at import (before nox makes venvs): do the bench sessions only queue?

    Lenient: the posargs may be another session's (``nox -s report -- RUN_ID``), and a bad bench
    option is the bench session's to report; only ``--executor`` and ``--gpus`` are read here.
    """
    import argparse

    posargs = list(argv[list(argv).index("--") + 1:]) if "--" in argv else []
    p = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    p.add_argument("--executor", default="local")
    p.add_argument("--gpus", default=None)
    try:
        ns, _ = p.parse_known_args(posargs)
        gpus = parse_gpus(ns.gpus) if ns.gpus is not None else ()
    except (argparse.ArgumentError, TfmatrixError):
        return None
    return mode(Options(executor=ns.executor, gpus=gpus))


def child_posargs(posargs: Sequence[str]) -> list[str]:
    """The user's bench options, less the driver's own (a child runs one combination, where it is put)."""
    out: list[str] = []
    skip = False
    for arg in posargs:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in DRIVER_OPTIONS:
            skip = "=" not in arg
            continue
        out.append(arg)
    return out


def queue(session: NoxSession, ctx: Context, combo_id: str, opts: Options, how: str) -> None:
    combo = select(ctx, combo_id, opts)  # --models is checked here, before anything runs
    if not in_shard(ctx, combo.id, opts):
        session.skip(f"{combo.id}: not in shard {opts.shard} (another shard runs it)")
    QUEUED.setdefault(ctx.run_id, []).append(combo.id)
    session.log(f"tfmatrix: {combo.id}: queued for {how} (run {ctx.run_id}); the dispatch session runs it")
    session.notify("dispatch", list(session.posargs))


def run_queued(session: NoxSession, ctx: Context, root: Path) -> list[dict[str, Any]]:
    """The ``dispatch`` session: hand the queue to its executor, then read back every record."""
    opts = parse_options(list(session.posargs))
    how = mode(opts)
    ids = QUEUED.get(ctx.run_id, [])
    if how is None or not ids:
        raise TfmatrixError("dispatch: nothing queued; run `nox -s bench -- --gpus 0,1` or "
                            "`nox -s bench -- --executor ray --address ADDR`, which queue and then dispatch")
    run = RunDir(ctx.results_root, ctx.run_id)
    combos = [select(ctx, i, opts) for i in ids]
    rest = child_posargs(session.posargs)
    if how == "gpus":
        from .pool import NoxLauncher, run_pool

        run.ensure(lambda: ctx.run_info(opts))
        launcher = NoxLauncher(root=root, run=run, profile=ctx.profile, posargs=rest, python=sys.executable)
        run_pool(run, combos, opts, [g for g in host_gpus() if g.index in opts.gpus], launcher, session.log)
    else:
        from .ray import run_on_ray

        run_on_ray(ctx, run, combos, opts, rest, session.log)
    return [_read_back(run, c, session) for c in combos]


def _read_back(run: RunDir, combo: Combination, session: NoxSession) -> dict[str, Any]:
    record = run.existing_record(combo.id) or {}
    outcome = record.get("outcome") or "missing"
    where = record.get("placement") or {}
    at = (f" on GPU {where['gpu_index']}" if where.get("gpu_index") is not None else "") + (
        f" on node {where['node'].get('node_id', '')[:8]}" if where.get("node") else "")
    session.log(f"tfmatrix: {combo.id}: {outcome}{at}{' - ' + record['reason'] if record.get('reason') else ''}")
    return record


def failed(records: list[dict[str, Any]]) -> list[str]:
    return [f"{r['combination']['id']}: {r['outcome']}" for r in records if r.get("outcome") in outcomes.SESSION_FAILS]
