"""``nox -s bench -- --dry-run``: what each bench session would do, said, and nothing done.

A full run takes minutes to hours; a dry run answers in seconds which combinations a command selects and
what each would be: its Python, pins and stack, its models and who exports them, the pre-flight verdict on
this host, whether this host would skip it and why, its shard, the run it would write (or, with
``--resume``, continue), and whether its warm phases would run in interleaved rounds.  The noxfile makes
the bench sessions venv-less when ``--dry-run`` is on its command line (:func:`requested`), as it does in
dispatch mode: nothing is installed, and no run folder or record is written.  The other words after ``--``
are checked as a real run checks them; a dry run exits 0 whatever its plan says.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any, Sequence

from ...matrix.model import Combination
from ...records.status import Status
from ...records.store import RunDir
from ..execution.host import HostFacts
from .context import Context
from .options import Options

FLAG = "--dry-run"


def requested(argv: Sequence[str]) -> bool:
    """At noxfile import: is ``--dry-run`` among the words after ``--`` (then the bench sessions need no venv)?"""
    words = list(argv)
    return "--" in words and FLAG in words[words.index("--") + 1:]


def bench(session: Any, ctx: Context, combo: Combination, opts: Options, host: HostFacts | None = None) -> None:
    """The body of ``bench(<combination>)`` with ``--dry-run``: print its plan (``host``: this one's facts)."""
    from .noxadapter import ended_bench_sessions, queued_bench_sessions

    combo = opts.narrow(combo)  # --models is checked as a real run checks it
    run = ctx.run_to_write(opts)  # --resume: the run must exist, as for a real run
    queued, ended = queued_bench_sessions(session), ended_bench_sessions(session)
    others = None if queued is None or ended is None else len(queued) + len(ended)
    print("\n".join(plan(ctx, combo, opts, run, skip_reason(session, ctx, combo, opts, host), others)))


def skip_reason(session: Any, ctx: Context, combo: Combination, opts: Options,
                host: HostFacts | None = None) -> tuple[str, str]:
    """(pre-flight verdict, why this host would skip it or ""), decided by the real pipeline's gate.

    The gate runs as the ``--gpus`` pool's install stage runs it, so it takes no GPU lease."""
    from ..scheduling.pipeline import Pipeline

    gate = Pipeline(session, ctx, combo, dataclasses.replace(opts, stage="install"),
                 RunDir(ctx.results_root, ctx.run_id), host=host or HostFacts.here())
    with contextlib.ExitStack() as held:
        ending = gate.gate(held)
    pred = gate.record.preflight
    verdict = "-" if pred is None else "; ".join([pred.predicted, *pred.reasons])
    return verdict, ending.reason if ending is not None else ""


def plan(ctx: Context, combo: Combination, opts: Options, run: RunDir, gate: tuple[str, str],
         others: int | None) -> list[str]:
    """The lines a dry run prints for one combination; ``others``: the other bench sessions of this
    invocation (None: nox does not say)."""
    from ..execution.runner import plan as jobs_of

    verdict, skip = gate
    workload = opts.workload(ctx.matrix.workload)
    jobs = jobs_of(combo, workload)
    phases = list(dict.fromkeys(s.phase for j in jobs for s in j.steps))
    models = [f"{m.id} ({_source(combo, m)})" for m in combo.models]
    in_shard = ctx.in_shard(combo, opts)
    lines = [
        f"tfmatrix: dry run of bench({combo.id}): nothing installed, nothing recorded",
        f"  python:      {combo.python}",
        f"  requires:    {', '.join(combo.requirements())}",
        f"  forced:      {', '.join(combo.force) or '-'}",
        f"  stack:       {combo.stack.id} ({combo.stack.kind}{', needs a GPU' if combo.needs_gpu else ''})",
        f"  models:      {', '.join(models) or 'none (--import-only)'}",
        f"  expect:      {combo.expect or '-'}",
        f"  predicted:   {verdict}",
        f"  here:        {_here(in_shard, skip, opts)}",
        f"  shard:       {_shard(in_shard, opts)}",
        f"  run:         {_run(ctx, run, combo, opts)}",
        f"  placed by:   {_placer(opts)}",
        f"  interleaved: {_interleaved(combo, opts, others, workload.rounds, bool(skip) or not in_shard)}",
        f"  workload:    {'quick' if opts.quick else 'full'}: {len(jobs)} worker processes "
        f"({workload.cold_starts} cold starts per model); {', '.join(phases)}",
    ]
    if combo.install_note:
        lines.append(f"  note:        {combo.install_note}")
    return lines


def _source(combo: Combination, model: Any) -> str:
    exporter = combo.exporter(model)
    if exporter is None:
        return f"SavedModel at {model.path}"
    return "exported here" if exporter.id == combo.id else f"loads the export of {exporter.id}"


def _here(in_shard: bool, skip: str, opts: Options) -> str:
    if not in_shard:
        return f"skipped: not in shard {opts.shard} (another shard runs it)"
    return f"skipped: {skip}" if skip else "would run"


def _shard(in_shard: bool, opts: Options) -> str:
    if opts.shard is None:
        return "all (no --shard)"
    return f"{opts.shard}: {'in it' if in_shard else 'not in it'}"


def _run(ctx: Context, run: RunDir, combo: Combination, opts: Options) -> str:
    if opts.resume is None:
        return f"a new run {run.run_id} under {ctx.results_root} (not made)"
    done = run.existing_record(combo.id)
    if done is None:
        return f"resumes run {run.run_id}: not recorded there yet, would run"
    if done.status == Status.PENDING:
        return f"resumes run {run.run_id}: pending (its interleaved rounds never came), would run again in place"
    if done.status == Status.INTERRUPTED:
        return f"resumes run {run.run_id}: its interrupted attempt would be set aside, and it would run again"
    return f"resumes run {run.run_id}: already recorded ({done.outcome}), not run again"


def _placer(opts: Options) -> str:
    if opts.executor == "ray":
        return f"the Ray cluster at {opts.address} (one task per combination)"
    if opts.pooled:
        return (f"the GPU pool {','.join(map(str, opts.gpus))} where those GPUs are visible; "
                "on a host without GPUs, this session, one combination at a time")
    return "this session" + (f", on GPU {opts.gpu}" if opts.gpu is not None else "")


def _interleaved(combo: Combination, opts: Options, others: int | None, rounds: int, skipped: bool) -> str:
    from ..scheduling.interleave import not_interleaved

    if skipped:
        return "no: it would not run here"
    if opts.executor == "ray":
        return "no: the Ray cluster runs each combination alone"
    pool = "no where the GPU pool runs them (each alone); on a host without those GPUs: " if opts.pooled else ""
    why = not_interleaved(opts, others)
    if why:
        return f"{pool or 'no: '}{why}"
    if combo.needs_gpu:
        return "no: a GPU combination is measured alone"
    return f"{pool}yes: with the {others} other bench session(s) of this invocation, in {rounds} rounds"
