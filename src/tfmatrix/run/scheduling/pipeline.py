"""What one ``bench(<combination>)`` nox session does, from venv to record, in four stages.

1. :meth:`Pipeline.gate`: the pre-flight prediction, then whether the combination
   can run here at all (a GPU, the hardware it needs, the GPU to itself);
2. :meth:`Pipeline.install`: the venv made to hold exactly its pins;
3. :meth:`Pipeline.phases`: every phase in a fresh worker (:mod:`.runner`), each run into the record by its
   :class:`~tfmatrix.run.execution.bench.Bench`, a failed one named, what a failure makes pointless skipped;
4. :meth:`Pipeline.verdict`: failed, degraded (known error text in the logs of a
   run that worked) or ok.

Each stage returns a value (an :class:`Ending` when the combination stops there); :meth:`Pipeline.finish`
ends the record (:meth:`~tfmatrix.records.model.CombinationRecord.end`) and writes it, once.  A combination
whose warm workers wait for interleaved rounds is written ``pending`` instead, and its ending replaces that
record in place (:meth:`Pipeline.conclude`, from the interleave session).  The installer, the phase runner
and the host's facts are parameters, so each stage is tested on its own.  :mod:`.invocation` makes the
Pipeline of each bench session.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any, Callable

from ...atomic import write_json_atomic
from ...diagnosis import blame, evidence, preflight
from ...diagnosis.classify import find_degraded, read_log
from ...errors import TfmatrixError
from ...matrix.model import Combination
from ...records.model import CombinationRecord, Failure, InstallOutcome, PhaseRecord
from ...records.status import PhaseStatus, Status
from ...records.store import RunDir, read_json
from ..execution import placement, runner
from ..execution.bench import EXPORTS, Bench
from ..execution.host import HostFacts, gpu_skip_reason
from ..noxside.context import Context
from ..noxside.endings import Ending, NoxSession, install_failed, new_record, tell_nox
from ..noxside.interrupts import signal_name_of
from ..noxside.options import Options
from ..provisioning import cache, exports, install, locks
from ..provisioning.ahead import Ahead
from .interleave import TIMED, Interleave, Pending, quota

BESIDE = ("exported during the installs ahead, while other combinations installed or exported: its seconds are "
          "not a quiet machine's")


class Pipeline:
    """One combination of one run, from pre-flight to its record."""

    def __init__(self, session: NoxSession, ctx: Context, combo: Combination, opts: Options, run: RunDir, *,
                 host: HostFacts | None = None, installer: Callable[..., InstallOutcome] = install.install,
                 run_phase: Callable[..., tuple[Any, Any]] = runner.run_phase,
                 resolver: Callable[..., tuple[str, str]] = exports.resolve_exporter,
                 interleave: Interleave | None = None, ahead: Ahead | None = None) -> None:
        self.session, self.ctx, self.combo, self.opts, self.run = session, ctx, combo, opts, run
        self.interleave = interleave  # several combinations in this invocation: warm phases in shared rounds
        self.ahead = ahead  # the installs this invocation's first session started for the others
        self.waiting = False  # warm workers kept for the interleave session; the record is pending
        self.held = contextlib.ExitStack()  # the venv's lock (and GPU lease) while its warm workers wait
        self.host = host if host is not None else HostFacts.here()
        self.installer = installer
        self.workload = opts.workload(ctx.matrix.workload)
        self.record = new_record(run, combo, opts, opts.placed_by)
        self.bench = Bench(session, ctx, combo, opts, run, self.record, self.host, self.workload, installer,
                           run_phase, resolver)
        self.progress = self.bench.progress
        self.log_dir = run.log_dir(combo.id)

    @property
    def venv(self) -> Path:
        return Path(self.session.virtualenv.location)

    @property
    def installed(self) -> Path:
        """The ``--gpus`` pool's install stage leaves its outcome here for its measure stage."""
        return self.log_dir / "install-outcome.json"

    # ------------------------------------------------------------------ the stages

    def gate(self, held: contextlib.ExitStack) -> Ending | None:
        """The pre-flight prediction; then a skip when this host cannot run it (None: it can)."""
        combo, opts, host = self.combo, self.opts, self.host
        self.record.preflight = preflight.predict(self.record.combination, [], host)
        if not combo.needs_gpu:
            return None
        reason = gpu_skip_reason(opts.assume_gpu, list(host.gpus))
        if reason:
            return Ending(Status.SKIPPED, reason=reason)
        mine = [g for g in host.gpus if opts.gpu is None or g.index == opts.gpu]
        if opts.gpu is not None and not mine and host.gpus:
            return Ending(Status.SKIPPED, reason=f"--gpu {opts.gpu}: this host has GPUs "
                                                 f"{', '.join(str(g.index) for g in host.gpus)}")
        reason = placement.unmet(combo.hardware, mine, host.driver_version)
        if reason:
            return Ending(Status.SKIPPED, reason=reason)
        if opts.stage != "install" and not held.enter_context(locks.gpu_lease(locks.lease_paths(opts.gpu,
                                                                                                 host.gpus))):
            shared = ("another tfmatrix run is timing on this host's GPU; two runs on one GPU distort each "
                      "other's timings")
            if not opts.allow_shared_gpu:
                return Ending(Status.SKIPPED, reason=f"{shared}: run it later, or pass --allow-shared-gpu")
            self.session.warn(f"{combo.id}: {shared} (--allow-shared-gpu: running anyway, recorded as shared_gpu)")
            self.record.shared_gpu = True
        return None

    def install(self) -> InstallOutcome:
        """The venv made to hold the pins (or, in the pool's measure stage, what its install stage did)."""
        self.progress.doing = "install"
        cache.touch(self.venv)
        ahead = self.ahead is not None and self.ahead.installed(self.combo.id)
        if self.opts.stage == "measure" or ahead:  # installed ahead: nothing installs beside a timed phase
            if not self.installed.exists():
                raise TfmatrixError(f"{self.installed}: missing; the --gpus pool installs before it measures")
            saved = read_json(self.installed)
            inst = InstallOutcome.from_json(saved["install"], saved["resolved_pins"])
            assert inst is not None
            for made in saved.get("exports", []):  # made by the install stage: adopted, not made again
                self.bench.keep(PhaseRecord.from_json(made))
            if ahead:  # read once: a later run of this session installs again
                self.installed.unlink()
                self.session.log(f"tfmatrix: {self.combo.id}: installed ahead ({inst.seconds:.1f} s), see "
                                 f"{self.log_dir / 'nox-install.log'}")
        else:
            if self.combo.install_note:  # said in the log, and first in its install.log
                self.session.warn(f"{self.combo.id}: {self.combo.install_note}")
                with open(self.log_dir / "install.log", "a", encoding="utf-8") as log:
                    log.write(f"tfmatrix: {self.combo.install_note}\n")
            inst = self.installer(
                **install.install_args(self.combo), venv=self.venv, python=runner.python_in(self.venv),
                backend=self.session.venv_backend, project_root=self.ctx.root,
                timeout=self.ctx.matrix.timeouts.install, log=self.log_dir / "install.log",
                index_url=self.ctx.matrix.index_url)
        self.record.install, self.record.resolved_pins = inst, list(inst.resolved)
        if inst.ok:  # predict again, now from what was really resolved
            self.record.preflight = preflight.predict(self.record.combination, inst.resolved, self.host,
                                                      evidence.check_conflicts(inst.check_output))
            if inst.check_ok is False:
                last = inst.check_output.splitlines()[-1] if inst.check_output else ""
                self.session.warn(f"{self.combo.id}: the installer's check reports conflicts (recorded): {last}")
        return inst

    def phases(self, inst: InstallOutcome) -> Failure | None:
        """Every phase of the plan, job by job (a worker process each); the failure that explains the most
        (one of import or the probe before any model's; None: all measured)."""
        combo, bench = self.combo, self.bench
        bench.prepare(inst)
        for job in runner.plan(combo, self.workload):
            if bench.made_ahead(job):
                continue
            worker = bench.worker(job)
            pointless = bool(combo.models) and not any(s.phase == "probe" or (s.model and s.model not in bench.broken)
                                                       for s in job.steps)  # --import-only: the import is the point
            kept = False
            try:
                for i, spec in enumerate(job.steps):
                    if spec.phase in runner.WARM and self._wait_for_rounds(job.steps[i:], worker):
                        kept = True  # the interleave session measures the rest, and closes the worker
                        break
                    bench.step(spec, worker, skip="" if not pointless or spec.model else "nothing left to measure")
            finally:
                if not kept:
                    worker.close()
        self.record.producers = [exports.producer(src, combo, bench.inspected.get(m)) for m, src in bench.srcs.items()]
        return bench.first_failure()

    def _wait_for_rounds(self, steps: tuple[runner.PhaseSpec, ...], worker: runner.Worker) -> bool:
        """Keep this warm worker alive for the interleave session's rounds (False: measure it now)."""
        model = steps[0].model
        if self.interleave is None or self.bench.stop_all or model in self.bench.broken:
            return False
        if self.combo.needs_gpu:
            why = ("not interleaved: a GPU combination is measured alone (each TensorFlow process reserves most of "
                   "its GPU's memory)")
        else:
            first = next((p for p in self.record.phases if p.phase == "first-inference" and p.model == model), None)
            rss = first.peak_rss_bytes if first else None
            why = self.interleave.room(rss)
            if not why:
                self.interleave.keep(Pending(self, worker, steps, rss))
                self.waiting = True
                return True
        self.bench.alone[model or ""] = why
        self.session.warn(f"{self.combo.id}: {model}: {why}")
        return False

    def export_ahead(self, inst: InstallOutcome, beside: bool) -> None:
        """Installs ahead make the exports too (its session adopts their records): nothing installs or exports
        beside a timed phase.  ``beside``: other installs and exports may run meanwhile (a plain run's), which
        the export's note says; those make only their own exports, since a shared one may be the export another
        of them makes as its own (the pool's run one at a time, and make both).  A GPU combination's own export
        needs the GPU, so it waits for its measure stage."""
        jobs = [job for job in runner.plan(self.combo, self.workload)
                if (kinds := {s.phase for s in job.steps}) <= set(EXPORTS)
                and not (beside and "shared-export" in kinds) and not (self.combo.needs_gpu and "export" in kinds)]
        if not jobs:  # nothing to make here: not even an exporter's pins are resolved
            return
        self.bench.prepare(inst)
        for job in jobs:
            worker = self.bench.worker(job)
            try:
                for spec in job.steps:
                    self.bench.step(spec, worker)
            finally:
                worker.close()
            for phase in (p for p in self.record.phases if p.name in {s.name for s in job.steps}):
                if beside and phase.status == PhaseStatus.OK:
                    phase.note = "; ".join(n for n in (phase.note, BESIDE) if n)
                self.session.log(f"tfmatrix: {self.combo.id}: {phase.name} ahead: {phase.status} {phase.note}")

    def verdict(self, first: Failure | None) -> Ending:
        """Failed (the first failure), degraded (known error text in the logs of a run that worked), or ok."""
        self.progress.doing = "writing the record"
        if first is not None:
            return Ending(Status.FAILED, first)
        logs = "\n".join(read_log(p.log) for p in self.record.phases if p.log)
        degraded = find_degraded(logs, gpu_stack=self.combo.needs_gpu)
        if degraded is None:
            return Ending(Status.OK)
        return Ending(Status.DEGRADED, blame.assign(degraded, logs, self.bench.facts()))

    # ------------------------------------------------------------------ around the stages

    def measure(self, held: contextlib.ExitStack) -> CombinationRecord | None:
        """The four stages; None after ``--stage install`` (the ``--gpus`` pool's first stage) installed it."""
        ending = self.gate(held)
        if ending is not None:
            return self.finish(ending)
        inst = self.install()
        if not inst.ok:
            return self.finish(install_failed(inst, self.record.combination))
        local = self.opts.placed_by == "local"
        if self.opts.stage == "install" or (self.ahead is not None and self.ahead.busy()):
            self.export_ahead(inst, beside=local)  # a plain run's installs ahead run JOBS at once; the pool's, one
        if self.ahead is not None:
            self.ahead.wait(self.session.log)
        if self.opts.stage == "install":
            made = [p.to_json() for p in self.record.phases if p.phase in EXPORTS]
            write_json_atomic(str(self.installed), {"install": inst.to_json(), "resolved_pins": inst.resolved,
                                                    "exports": made})
            by = "its own session" if local else "the pool"
            self.session.log(f"tfmatrix: {self.combo.id}: installed ahead ({inst.seconds:.1f} s); measured later "
                             f"by {by}")
            return None
        first = self.phases(inst)
        if self.waiting:
            self.pend()
            return None
        return self.finish(self.verdict(first))

    def pend(self) -> None:
        """Warm workers kept for the interleave session: the record is written ``pending``, and its ending
        replaces it in place (a stop before the rounds leaves it pending, which ``--resume`` runs again)."""
        self.record.end(Status.PENDING, reason=(
            "cold starts measured; its warm phases wait for the interleave session's rounds (after the last bench "
            f"session); if the run stops before them, `nox -s bench -- --resume {self.run.run_id}` runs it again"))
        self.progress.doing = "waiting for the interleaved rounds"
        self.run.write_record(self.record)
        self.session.log(f"tfmatrix: {self.combo.id}: cold starts measured; its warm phases are measured in the "
                         "interleave session, in rounds shared with the other combinations")

    def conclude(self) -> CombinationRecord:
        """After the interleaved rounds: the verdict, in place of the pending record (the interleave session
        tells nox)."""
        try:
            return self.finish(self.verdict(self.bench.first_failure()), tell=False)
        finally:
            self.waiting = False
            self.held.close()

    def finish(self, ending: Ending, tell: bool = True) -> CombinationRecord:
        """End the record and write it; tell nox (a skip, a failure, a warning) how the combination ended."""
        combo = self.combo
        rec = self.record.end(ending.status, ending.failure, ending.reason, family=ending.family)
        path = self.run.write_record(rec)
        expected = f" (expected {combo.expect})" if combo.expect else ""
        said = f" - {rec.reason}" if rec.reason else ""
        self.session.log(f"tfmatrix: {combo.id}: {rec.outcome}{expected}{said} -> {path}")
        if tell:
            tell_nox(self.session, rec)
        return rec

    def interrupted(self, signal_name: str) -> None:
        """Ctrl-C or SIGTERM: keep what was measured, the phase that was running, and how to finish the run."""
        if self.progress.phase is not None:  # its worker's group is already killed
            spec = self.progress.phase
            self.bench.keep(runner.planned(spec, PhaseStatus.INTERRUPTED, note=f"stopped by {signal_name}",
                                           log=str(self.progress.log or self.log_dir / f"{spec.name}.log")))
        self.record.end(Status.INTERRUPTED, reason=(
            f"interrupted by {signal_name} during {self.progress.doing}; `nox -s bench -- --resume "
            f"{self.run.run_id}` runs it again"))
        if self.waiting or not self.run.record_path(self.combo.id).exists():
            self.run.write_record(self.record)  # in place of its pending record, if it had one
            self.waiting = False
            self.held.close()
        self.run.mark_interrupted(self.combo.id, signal_name)
        self.session.log(f"tfmatrix: {self.combo.id}: interrupted by {signal_name}; what was measured is kept in "
                         f"{self.run.record_path(self.combo.id)}")

    def __call__(self) -> CombinationRecord | None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            with contextlib.ExitStack() as held:  # the venv's lock and the GPU lease, until it is recorded
                self.progress.doing = "waiting for the venv"
                held.enter_context(locks.exclusive(self.venv / ".tfmatrix.lock", self.session.log))
                out = self.measure(held)
                if self.waiting:  # its warm workers still use the venv: held until concluded
                    self.held = held.pop_all()
                return out
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM through interrupts.signals_as_interrupt
            self.interrupted(signal_name_of(exc))
            raise


def run_rounds(rounds: Interleave, say: Callable[[str], object]) -> list[CombinationRecord]:
    """The interleave session: the rounds in the order :meth:`Interleave.schedule` decided, each visit with
    the quota the manager counts for it; then the once-only warm steps; then each combination's ending, in
    place of its pending record."""
    try:
        plan = rounds.schedule()
        say(f"tfmatrix: interleaving {len(rounds.pending)} warm workers over {len(plan)} round(s): "
            f"{', '.join(p.label for p in rounds.pending)}")
        taken: dict[tuple[int, str], tuple[int, float]] = {}  # (pending worker, step) -> calls, seconds so far
        for r, visits in enumerate(plan):
            say(f"tfmatrix: round {r + 1}/{len(plan)}: {' -> '.join(rounds.order[r])}")
            for v in visits:
                bench, key = v.pending.owner.bench, (id(v.pending), v.spec.name)
                if len(plan) == 1:
                    bench.step(v.spec, v.pending.worker)
                    continue
                calls, seconds = taken.get(key, (0, 0.0))
                spec = dataclasses.replace(v.spec, round=v.part,
                                           quota=quota(bench.workload, v.spec, v.part, (calls, seconds)))
                samples = bench.step(spec, v.pending.worker).samples or []
                taken[key] = (calls + len(samples), seconds + sum(samples))
        for p in rounds.pending:
            for spec in p.steps:
                if spec.phase not in TIMED:
                    p.owner.bench.step(spec, p.worker)
    except BaseException:
        rounds.close(kill=True)
        raise
    rounds.close()
    return [o.conclude() for o in rounds.owners]


def stop_rounds(rounds: Interleave, signal_name: str) -> None:
    """A stop before or during the rounds: every pending combination ends interrupted, with what it measured,
    in place of its pending record."""
    rounds.close(kill=True)
    for o in rounds.owners:
        with contextlib.suppress(Exception):
            o.interrupted(signal_name)
    rounds.pending.clear()
    rounds.owners.clear()
