"""Interleaved rounds: the warm phases of every combination of one nox invocation, measured side by side.

Run one combination to its end and then the next, and the slow drift of a shared
machine becomes a false ratio between them.  So when one ``nox`` invocation
measures two or more combinations on this host (and ``--no-interleave`` is not
given):

1. each ``bench(<combination>)`` session installs, exports and runs its cold-start
   chains as before, then keeps its warm workers alive (one per model) instead of
   measuring them, and writes its record as ``pending`` (with how to resume, so a
   stop between sessions still leaves one);
2. the ``interleave`` session, after the last bench session, runs
   ``workload.rounds`` rounds: :meth:`Interleave.schedule` decides each round's
   order (shuffled, seeded, and logged), and each step's part of the rounds
   (:func:`share`); the manager sends each visit its quota (:func:`quota`: calls
   and seconds that top its rounds so far up to their share of the minimums), so a
   worker keeps nothing between steps; then the fidelity and peak-memory steps,
   once each; then every pending record is replaced in place by its ending.

Every sample keeps its round (``PhaseRecord.rounds``), so a ratio between two
combinations comes with the interval of its paired rounds (:func:`tfmatrix.stats.paired_ratio`).

A warm worker is kept alive only while the host has room for it
(:func:`room_for`); one that does not fit, and a GPU combination, is measured at
once, alone, and its phases say why.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ...worker.contract import Quota, Workload
from ..execution import runner
from ..execution.host import meminfo_bytes

if TYPE_CHECKING:
    from ..noxside.context import Context
    from ..noxside.options import Options
    from .pipeline import Pipeline

GiB = 1024 ** 3
RESERVE_BYTES = 1 * GiB  # left free beside the kept workers, for the manager and the system
GROWTH = 0.5  # a warm worker's RSS grows by about half from batch 1 to the larger batches (measured: 1.0 -> 1.4 GB)
TIMED = ("latency", "throughput")  # split into rounds; the other warm steps run once, after the rounds


def share(min_queries: int, r: int, rounds: int) -> tuple[int, int] | None:
    """A timed step's part in round ``r``: ``(i, k)``, its i-th of the k rounds it takes part in (None: none).

    A step takes part in ``min(rounds, min_queries)`` rounds, spread evenly over them: split into more, each
    round's call would still be one, and the step would take more calls than alone (``min_queries: 5`` became
    10 calls over 10 rounds).  Both sides of a ratio take the same rounds, so they pair."""
    k = max(1, min(rounds, min_queries))
    picked = [i * rounds // k for i in range(k)]
    return (picked.index(r), k) if r in picked else None


def quota(workload: Workload, spec: runner.PhaseSpec, part: tuple[int, int], taken: tuple[int, float]) -> Quota:
    """What a timed step takes in its ``part`` ``(i, k)`` of the rounds, having ``taken`` (calls, seconds) in
    its earlier ones: enough to reach (i+1)/k of its minimum calls and seconds, at least one call, within 1/k
    of its budget; its warmup calls in its first part only (the process is warm after; a switch's cost hits
    every combination alike)."""
    i, k = part
    min_q, min_s = workload.minimums(spec.batch or 1)
    calls, seconds = taken
    return Quota(min_queries=max(1, -(-min_q * (i + 1) // k) - calls),
                 min_seconds=max(0.0, min_s * (i + 1) / k - seconds),
                 warmup=workload.warmup if i == 0 else 0, budget_seconds=max(4 * min_s, 60.0) / k)


def memory_available() -> int | None:
    """What the host can still give without swapping (Linux ``MemAvailable``); None where it cannot say."""
    return meminfo_bytes("MemAvailable")


def room_for(rss: int | None, kept: list[int], available: int | None) -> str:
    """Why a warm worker of ``rss`` bytes cannot be kept beside the ``kept`` ones ("" when it can).

    ``available`` already excludes what the kept workers hold now; each of them, and the new one,
    may still grow by :data:`GROWTH` of its RSS when it reaches the larger batches."""
    if available is None:
        return "not interleaved: this host does not say how much memory is free (no /proc/meminfo)"
    if rss is None:
        return "not interleaved: its worker's memory was not measured"
    need = GROWTH * (rss + sum(kept)) + RESERVE_BYTES
    if available < need:
        return (f"not interleaved: {available / GiB:.1f} GiB free, {need / GiB:.1f} GiB needed to keep its warm "
                f"worker ({rss / GiB:.1f} GiB) beside {len(kept)} other(s)")
    return ""


@dataclass(frozen=True)
class Visit:
    """One step of one pending worker in one round: its part ``(i, k)`` of the rounds it takes part in."""

    pending: "Pending"
    spec: runner.PhaseSpec
    part: tuple[int, int]


@dataclass
class Pending:
    """A combination's warm worker, kept alive, and the warm steps it has left."""

    owner: "Pipeline"
    worker: runner.Worker
    steps: tuple[runner.PhaseSpec, ...]
    rss: int | None = None

    @property
    def label(self) -> str:
        """``<combination>/<worker>``, as the round's log line names it."""
        return f"{self.owner.combo.id}/{self.worker.name}"


@dataclass
class Interleave:
    """The warm workers of one nox invocation's combinations, and the order of the rounds that measure them
    (what decides; :func:`tfmatrix.run.scheduling.pipeline.run_rounds` runs them)."""

    rounds: int
    seed: int
    pending: list[Pending] = field(default_factory=list)
    owners: list["Pipeline"] = field(default_factory=list)  # in the order their sessions ran
    order: list[list[str]] = field(default_factory=list)  # each round's order, as decided
    free: Callable[[], int | None] = memory_available

    def room(self, rss: int | None) -> str:
        return room_for(rss, [p.rss or 0 for p in self.pending], self.free())

    def keep(self, pending: Pending) -> None:
        self.pending.append(pending)
        if pending.owner not in self.owners:
            self.owners.append(pending.owner)

    def schedule(self) -> list[list[Visit]]:
        """Each round's visits: every pending worker, in a shuffled order (seeded), each timed step where
        :func:`share` puts it."""
        rounds = self.rounds if len(self.pending) > 1 else 1
        plan: list[list[Visit]] = []
        self.order = []
        for r in range(rounds):
            order = list(self.pending)
            random.Random(self.seed * 1000 + r).shuffle(order)
            self.order.append([p.label for p in order])
            plan.append([Visit(p, spec, part) for p in order for spec in p.steps if spec.phase in TIMED
                         and (part := share(p.owner.workload.minimums(spec.batch or 1)[0], r, rounds)) is not None])
        return plan

    def close(self, kill: bool = False) -> None:
        for p in self.pending:
            p.worker.close(kill=kill)


NOT_SAID = "this nox does not say which bench sessions follow"


def not_interleaved(opts: "Options", later: int | None) -> str:
    """Why an invocation whose first bench session has ``later`` bench sessions after it (None: nox does not
    say) measures its combinations one after another ("": it interleaves them); the dry run says the same."""
    if opts.no_interleave:
        return "--no-interleave (each combination to its end, one after another)"
    if not opts.top_level:
        return "an executor runs each combination alone"
    if later is None:
        return NOT_SAID
    return "" if later else "the only bench session of this invocation"


def decide(session: Any, ctx: "Context", opts: "Options", later: list[str] | None) -> Interleave | None:
    """This invocation's interleaving, decided once by its first bench session from the bench sessions nox
    runs after it (``later``): None when it measures one combination, with ``--no-interleave``, or under an
    executor (each of its sessions runs one)."""
    why = not_interleaved(opts, None if later is None else len(later))
    if why == NOT_SAID:
        session.warn(f"tfmatrix: {NOT_SAID}: combinations are measured one after another, not interleaved")
    if why or not later:
        return None
    workload = opts.workload(ctx.matrix.workload)
    session.log(f"tfmatrix: {1 + len(later)} combinations in this invocation: their warm phases run in "
                f"{workload.rounds} interleaved rounds after the last bench session (--no-interleave: "
                "one after another)")
    return Interleave(workload.rounds, workload.seed)
