"""Interleaved rounds: the warm phases of every combination of one nox invocation, measured side by side.

Run one combination to its end and then the next, and the slow drift of a shared
machine becomes a false ratio between them.  So when one ``nox`` invocation
measures two or more combinations on this host (and ``--no-interleave`` is not
given):

1. each ``bench(<combination>)`` session installs, exports and runs its cold-start
   chains as before, then keeps its warm workers alive (one per model) instead of
   measuring them, writes a provisional record (``interrupted``, with how to resume,
   so a stop between sessions still leaves one) and notifies the ``interleave``
   session;
2. the ``interleave`` session, after the last bench session, runs
   ``workload.rounds`` rounds: each round visits every warm worker in a shuffled
   order (seeded, and the order is logged) and takes its share of the latency and
   throughput samples (:func:`share`); then the fidelity and peak-memory steps,
   once each; then every record is concluded and written.

Every sample keeps its round (``PhaseRecord.rounds``), so a ratio between two
combinations comes with the interval of its paired rounds (:func:`tfmatrix.stats.paired_ratio`).

A warm worker is kept alive only while the host has room for it
(:func:`room_for`); one that does not fit, and a GPU combination, is measured at
once, alone, and its phases say why.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ..records.model import CombinationRecord
from . import runner
from .host import meminfo_bytes

if TYPE_CHECKING:
    from .context import Context
    from .options import Options
    from .pipeline import Bench

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


@dataclass
class Pending:
    """A combination's warm worker, kept alive, and the warm steps it has left."""

    bench: "Bench"
    worker: runner.Worker
    steps: tuple[runner.PhaseSpec, ...]
    rss: int | None = None

    @property
    def label(self) -> str:
        return f"{self.bench.combo.id}/{self.worker.name}"


@dataclass
class Interleave:
    """The warm workers of one nox invocation's combinations, and the rounds that measure them."""

    rounds: int
    seed: int
    pending: list[Pending] = field(default_factory=list)
    benches: list["Bench"] = field(default_factory=list)  # in the order their sessions ran
    order: list[list[str]] = field(default_factory=list)  # each round's order, as run
    free: Callable[[], int | None] = memory_available

    def room(self, rss: int | None) -> str:
        return room_for(rss, [p.rss or 0 for p in self.pending], self.free())

    def keep(self, pending: Pending) -> None:
        self.pending.append(pending)
        if pending.bench not in self.benches:
            self.benches.append(pending.bench)

    def measure(self, say: Callable[[str], object]) -> list[CombinationRecord]:
        """The rounds, then the once-only warm steps, then every combination's record."""
        try:
            rounds = self.rounds if len(self.pending) > 1 else 1
            say(f"tfmatrix: interleaving {len(self.pending)} warm workers over {rounds} round(s): "
                f"{', '.join(p.label for p in self.pending)}")
            for r in range(rounds):
                order = list(self.pending)
                random.Random(self.seed * 1000 + r).shuffle(order)
                self.order.append([p.label for p in order])
                say(f"tfmatrix: round {r + 1}/{rounds}: {' -> '.join(p.label for p in order)}")
                for p in order:
                    for spec in p.steps:
                        part = (share(p.bench.workload.minimums(spec.batch or 1)[0], r, rounds)
                                if spec.phase in TIMED else None)
                        if part is not None:
                            p.bench.step(dataclasses.replace(spec, round=part) if rounds > 1 else spec, p.worker)
            for p in self.pending:
                for spec in p.steps:
                    if spec.phase not in TIMED:
                        p.bench.step(spec, p.worker)
        except BaseException:
            self.close(kill=True)
            raise
        self.close()
        return [b.conclude() for b in self.benches]

    def close(self, kill: bool = False) -> None:
        for p in self.pending:
            p.worker.close(kill=kill)

    def interrupted(self, signal_name: str) -> None:
        """A stop before or during the rounds: every waiting combination keeps what it measured."""
        self.close(kill=True)
        for b in self.benches:
            with contextlib.suppress(Exception):
                b.interrupted(signal_name)
        self.pending.clear()
        self.benches.clear()


#: this nox process's interleaving, per run id (the bench sessions fill it; the interleave session empties it)
INVOCATIONS: dict[str, Interleave | None] = {}


def interleave_for(session: Any, ctx: "Context", opts: "Options", later: list[str] | None) -> Interleave | None:
    """This invocation's interleaving, decided by its first bench session from the bench sessions nox runs
    after it (``later``): None when it measures one combination, with ``--no-interleave``, or under an
    executor (each of its sessions runs one)."""
    if ctx.run_id in INVOCATIONS:
        return INVOCATIONS[ctx.run_id]
    found: Interleave | None = None
    if not opts.no_interleave and opts.stage == "all" and opts.placed_by == "local":
        if later is None:
            session.warn("tfmatrix: this nox does not say which bench sessions follow: combinations are measured "
                         "one after another, not interleaved")
        elif later:
            workload = ctx.matrix.workload.quick() if opts.quick else ctx.matrix.workload
            found = Interleave(workload.rounds, workload.seed)
            session.log(f"tfmatrix: {1 + len(later)} combinations in this invocation: their warm phases run in "
                        f"{workload.rounds} interleaved rounds after the last bench session (--no-interleave: "
                        "one after another)")
    INVOCATIONS[ctx.run_id] = found
    return found


#: the bench sessions nox runs after the first one of this invocation, per run id
LATER: dict[str, list[str] | None] = {}


def later_sessions(session: Any, run_id: str) -> list[str] | None:
    """:func:`queued_bench_sessions`, as the invocation's first bench session saw them."""
    if run_id not in LATER:
        LATER[run_id] = queued_bench_sessions(session)
    return LATER[run_id]


def queued_bench_sessions(session: Any) -> list[str] | None:
    """The combination ids of the bench sessions nox will run after this one; None where nox does not say.

    This reads nox's manifest (``session._runner.manifest``), which has no public accessor: the one place
    tfmatrix looks into nox, so selection by ``-s``, ``-t`` and ``-k`` is nox's own."""
    try:
        queue = session._runner.manifest._queue
        return [r.func.call_spec["combo"] for r in queue
                if r.name == "bench" and "combo" in getattr(r.func, "call_spec", {})]
    except AttributeError:
        return None


def ended_bench_sessions(session: Any) -> list[tuple[str, str, str, list[str]]] | None:
    """(combination id, nox's status, nox's reason, posargs) of each bench session this nox invocation has
    ended so far; None where nox does not say (the manifest, as :func:`queued_bench_sessions` reads it)."""
    try:
        runners = session._runner.manifest._all_sessions
        return [(r.func.call_spec["combo"], r.result.status.name.lower(), r.result.reason or "", list(r.posargs))
                for r in runners if r.name == "bench" and r.result is not None
                and "combo" in getattr(r.func, "call_spec", {})]
    except AttributeError:
        return None
