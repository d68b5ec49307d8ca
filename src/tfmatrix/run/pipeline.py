"""What one ``bench(<combination>)`` nox session does, from venv to record, in four stages.

1. :meth:`Bench.gate`: the pre-flight prediction, then whether the combination
   can run here at all (a GPU, the hardware it needs, the GPU to itself);
2. :meth:`Bench.install`: the venv made to hold exactly its pins;
3. :meth:`Bench.phases`: every phase in a fresh worker (:mod:`.runner`), a failed
   one named, what a failure makes pointless skipped;
4. :meth:`Bench.verdict`: failed, degraded (known error text in the logs of a
   run that worked) or ok.

Each stage returns a value (an :class:`Ending` when the combination stops
there) and fills the :class:`~tfmatrix.records.model.CombinationRecord`;
:meth:`Bench.finish` writes it.  The installer, the phase runner and the host's
facts are parameters, so each stage is tested on its own.  :mod:`.invocation` makes the Bench of each
bench session.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..atomic import write_json_atomic
from ..diagnosis import blame, preflight
from ..diagnosis.classify import find_degraded, read_log
from ..errors import TfmatrixError
from ..matrix.model import Combination
from ..records.model import CombinationRecord, Failure, InstallOutcome, PhaseRecord, Prediction
from ..records.status import Outcome, PhaseStatus, Status
from ..records.store import RunDir, now, read_json
from ..worker.contract import Telemetry
from . import ahead as ahead_
from . import cache, exports, install, locks, phases, placement, runner
from .context import Context
from .endings import Ending, NoxSession, install_failed, new_record, outcome_of, tell_nox
from .host import HostFacts, gpu_skip_reason
from .interleave import Interleave, Pending
from .interrupts import signal_name_of
from .options import Options

EXPORTS = ("export", "shared-export")
BESIDE = ("exported during the installs ahead, while other combinations installed or exported: its seconds are "
          "not a quiet machine's")


@dataclass
class Progress:
    """What is being done now, for the record of an interruption."""

    doing: str = "pre-flight"
    phase: runner.PhaseSpec | None = None
    log: Path | None = None  # the log of the process running it


class Bench:
    """One combination of one run, from pre-flight to its record."""

    def __init__(self, session: NoxSession, ctx: Context, combo: Combination, opts: Options, run: RunDir, *,
                 host: HostFacts | None = None, installer: Callable[..., InstallOutcome] = install.install,
                 run_phase: Callable[..., tuple[Any, Any]] = runner.run_phase,
                 resolver: Callable[..., tuple[str, str]] = exports.resolve_exporter,
                 interleave: Interleave | None = None, ahead: ahead_.Ahead | None = None) -> None:
        self.session, self.ctx, self.combo, self.opts, self.run = session, ctx, combo, opts, run
        self.interleave = interleave  # several combinations in this invocation: warm phases in shared rounds
        self.ahead = ahead  # the installs this invocation's first session started for the others
        self.waiting = False  # warm workers kept for the interleave session; the record is provisional
        self.alone: dict[str, str] = {}  # model -> why its warm phases were not interleaved though others were
        self.held = contextlib.ExitStack()  # the venv's lock (and GPU lease) while its warm workers wait
        self.host = host if host is not None else HostFacts.here()
        self.installer, self.run_phase, self.resolver = installer, run_phase, resolver
        self.workload = ctx.matrix.workload.quick() if opts.quick else ctx.matrix.workload
        self.record = new_record(run, combo, opts, opts.placed_by)
        self.log_dir = run.log_dir(combo.id)
        self.progress = Progress()
        # the phases stage's state (set by phases(): where the SavedModels are, the workers' environment, ...)
        self.srcs: dict[str, exports.Source] = {}
        self.env: dict[str, str] = {}
        self.watch: Telemetry | None = None
        self.stop_all = ""  # set: every later phase but the probe is pointless (the import failed, or no GPU)
        self.broken: set[str] = set()  # models a phase failed for
        self.inspected: dict[str, dict[str, Any]] = {}  # model -> what its saved_model.pb says
        self.fallback: Failure | None = None  # a GPU stack whose TensorFlow sees no GPU

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
                self._keep(PhaseRecord.from_json(made))
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
            self.record.preflight = preflight.predict(self.record.combination, inst.resolved, self.host)
            if inst.check_ok is False:
                last = inst.check_output.splitlines()[-1] if inst.check_output else ""
                self.session.warn(f"{self.combo.id}: the installer's check reports conflicts (recorded): {last}")
        return inst

    def prepare(self, inst: InstallOutcome) -> None:
        """Before the first phase: where each model's SavedModel is, the workers' config and environment."""
        combo, opts = self.combo, self.opts
        self.srcs = exports.sources(combo, self.ctx.cache_root, inst.lock_sha256, self.workload.seed, self._resolve)
        config_path = self.log_dir / "bench-config.json"
        write_json_atomic(str(config_path), runner.bench_config(
            combo, self.workload, {m: src.path for m, src in self.srcs.items()}).to_json())
        self.env = runner.child_env(config_path, phases.stack_env(combo, opts.gpu))
        self.watch = None
        if combo.needs_gpu:
            self.record.gpu_index = opts.gpu
            if opts.telemetry_ms:
                gpus = [opts.gpu] if opts.gpu is not None else ([g.index for g in self.host.gpus] or [0])
                self.watch = Telemetry(tuple(gpus), opts.telemetry_ms / 1000)
        self.stop_all, self.broken, self.inspected, self.fallback = "", set(), {}, None

    def phases(self, inst: InstallOutcome) -> Failure | None:
        """Every phase of the plan, job by job (a worker process each); the failure that explains the most
        (one of import or the probe before any model's; None: all measured)."""
        combo = self.combo
        self.prepare(inst)
        for job in runner.plan(combo, self.workload):
            if self._made_ahead(job):
                continue
            worker = runner.Worker(runner.python_in(self.venv), self.env, self.log_dir / f"{job.name}.log")
            pointless = bool(combo.models) and not any(s.phase == "probe" or (s.model and s.model not in self.broken)
                                                       for s in job.steps)  # --import-only: the import is the point
            kept = False
            try:
                for i, spec in enumerate(job.steps):
                    if spec.phase in runner.WARM and self._wait_for_rounds(job.steps[i:], worker):
                        kept = True  # the interleave session measures the rest, and closes the worker
                        break
                    self.step(spec, worker, skip="" if not pointless or spec.model else "nothing left to measure")
            finally:
                if not kept:
                    worker.close()
        self.record.producers = [exports.producer(src, combo, self.inspected.get(m)) for m, src in self.srcs.items()]
        return self.first_failure()

    def first_failure(self) -> Failure | None:
        """The failure that explains the most: a GPU stack on the CPU, then import or the probe, then a model's."""
        failed = [p for p in self.record.phases if p.failure is not None]
        general = [p.failure for p in failed if p.model is None]  # an import that fails explains an export's fall
        return self.fallback or (general or [p.failure for p in failed] or [None])[0]

    def _wait_for_rounds(self, steps: tuple[runner.PhaseSpec, ...], worker: runner.Worker) -> bool:
        """Keep this warm worker alive for the interleave session's rounds (False: measure it now)."""
        model = steps[0].model
        if self.interleave is None or self.stop_all or model in self.broken:
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
        self.alone[model or ""] = why
        self.session.warn(f"{self.combo.id}: {model}: {why}")
        return False

    def step(self, spec: runner.PhaseSpec, worker: runner.Worker, skip: str = "") -> None:
        """One phase of a job: skipped, cached, or run (in the job's worker); its record kept."""
        combo, result = self.combo, None
        spec, unfit = phases.fit_batch(spec, self.inspected.get(spec.model or ""))
        src = self.srcs.get(spec.model or "")
        stopped = self.stop_all if spec.phase != "probe" else ""  # the probe says what was installed, always
        if skip or stopped or spec.model in self.broken or unfit:
            why = stopped or unfit or skip or "an earlier phase of this model failed"
            phase = runner.planned(spec, PhaseStatus.SKIPPED, note=f"not run: {why}")
        elif spec.phase in ("export", "shared-export") and src is not None and src.exported:
            cache.touch(src.path)
            phase = exports.cached_export(spec, src.path)
        elif spec.phase == "shared-export" and src is not None:
            self.progress.doing, self.progress.phase, self.progress.log = spec.name, spec, None
            phase = exports.shared_export(spec, src, ctx=self.ctx, workload=self.workload, log_dir=self.log_dir,
                                          run_id=self.run.run_id, installer=self.installer,
                                          run_phase=self.run_phase, say=self.session.log)
            self.progress.phase = None
        else:
            self.session.log(f"tfmatrix: {combo.id}: {spec.name} ({spec.benchmark}) in {worker.name}")
            self.progress.doing, self.progress.phase, self.progress.log = spec.name, spec, worker.log_path
            phase, result = self.run_phase(spec, python=runner.python_in(self.venv),
                                           benchmark_file=self.ctx.benchmark_file, log_dir=self.log_dir,
                                           timeout=self.ctx.matrix.timeouts.for_phase(spec.timeout_key),
                                           env=self.env, telemetry=self.watch, worker=worker)
            self.progress.phase = None
            if spec.phase == "export" and phase.status == PhaseStatus.OK and src is not None:
                exports.remember(src.path, phase.samples, self.run.run_id, combo)
                cache.touch(src.path)
        if spec.phase == "probe" and phase.status == PhaseStatus.OK:
            self.record.environment = result.probe if result is not None else None
            self.stop_all = phases.cpu_fallback(combo, self.record.environment)
            if self.stop_all:
                phases.discard_device_timings(self.record.phases, self.stop_all)
                self.fallback = phases.cpu_fallback_failure(phase, self.stop_all)
        if spec.phase == "inspect" and phase.status == PhaseStatus.OK and spec.model:
            self.inspected[spec.model] = (phase.extra or {}).get("saved_model") or {}
            self._predict_load(spec.model, self.inspected[spec.model])
        alone = self.alone.get(spec.model or "")
        if alone and spec.phase in runner.WARM and phase.status.measured:
            phase.note = "; ".join(n for n in (phase.note, alone) if n)
        if not phase.status.measured and phase.status != PhaseStatus.SKIPPED:
            phase.failure = phases.classify_phase(phase, combo.needs_gpu, self.facts())
            if spec.model is None:
                self.stop_all = f"{spec.name} {phase.status}"
            else:
                self.broken.add(spec.model)
        self._keep(phase)
        if spec.phase == "import" and not combo.models and phase.status == PhaseStatus.OK and phase.peak_rss_bytes:
            self._keep(phases.import_peak(phase))  # --import-only: the import's peak, one sample per process

    def _keep(self, phase: PhaseRecord) -> None:
        """Record a phase; one sampled again in a later process (a cold start) is joined to its record."""
        phases_ = self.record.phases
        for i, old in enumerate(phases_):
            if old.name == phase.name:
                if phase.status != PhaseStatus.SKIPPED:
                    phases_[i] = phase if old.status == PhaseStatus.SKIPPED else old.joined(phase)
                return
        phases_.append(phase)

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
        self.prepare(inst)
        for job in jobs:
            worker = runner.Worker(runner.python_in(self.venv), self.env, self.log_dir / f"{job.name}.log")
            try:
                for spec in job.steps:
                    self.step(spec, worker)
            finally:
                worker.close()
            for phase in (p for p in self.record.phases if p.name in {s.name for s in job.steps}):
                if beside and phase.status == PhaseStatus.OK:
                    phase.note = "; ".join(n for n in (phase.note, BESIDE) if n)
                self.session.log(f"tfmatrix: {self.combo.id}: {phase.name} ahead: {phase.status} {phase.note}")

    def _made_ahead(self, job: runner.Job) -> bool:
        """An export job already recorded by :meth:`export_ahead` (a failed one still breaks its model)."""
        done = {p.name: p for p in self.record.phases if p.phase in EXPORTS and p.status != PhaseStatus.SKIPPED}
        if not job.steps or not all(s.phase in EXPORTS and s.name in done for s in job.steps):
            return False
        for spec in job.steps:
            if not done[spec.name].status.measured and spec.model:
                self.broken.add(spec.model)
        return True

    def _resolve(self, exporter: Combination) -> tuple[str, str]:
        return self.resolver(exporter, cache_root=self.ctx.cache_root, timeout=self.ctx.matrix.timeouts.install,
                             log=self.log_dir / f"resolve-{exporter.id}.log", index_url=self.ctx.matrix.index_url,
                             say=self.session.log)

    def _predict_load(self, model: str, inspected: dict[str, Any]) -> None:
        """What ``saved_model.pb`` says before the load (ops this TensorFlow lacks) becomes the prediction."""
        why = inspected.get("expected_failure")
        if not why:
            return
        before = self.record.preflight
        reasons = (f"{model}: {why}",) + (before.reasons if before and not before.ok else ())
        self.record.preflight = Prediction("unknown-op", reasons)
        self.session.warn(f"{self.combo.id}: {model}: the load is expected to fail: {why}")

    def verdict(self, first: Failure | None) -> Ending:
        """Failed (the first failure), degraded (known error text in the logs of a run that worked), or ok."""
        self.progress.doing = "writing the record"
        if first is not None:
            return Ending(Status.FAILED, first)
        logs = "\n".join(read_log(p.log) for p in self.record.phases if p.log)
        degraded = find_degraded(logs, gpu_stack=self.combo.needs_gpu)
        if degraded is None:
            return Ending(Status.OK)
        return Ending(Status.DEGRADED, blame.assign(degraded, logs, self.facts()))

    def facts(self) -> blame.Facts:
        """What the record knows to blame a package with: its pins, forced pins and pip check."""
        return blame.Facts.of(self.record.combination, self.record.install, self.record.resolved_pins)

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
            return self.wait()
        return self.finish(self.verdict(first))

    def wait(self) -> None:
        """Warm workers kept for the interleave session: a provisional record until it concludes this one."""
        rec = self.record
        rec.status, rec.outcome, rec.ended_at = Status.INTERRUPTED, Outcome.INTERRUPTED, now()
        rec.reason = ("waiting for the interleave session's rounds (after the last bench session); if this stays, "
                      f"the run stopped before them: `nox -s bench -- --resume {self.run.run_id}` runs it again")
        self.progress.doing = "waiting for the interleaved rounds"
        self.run.write_record(rec)
        self.session.log(f"tfmatrix: {self.combo.id}: cold starts measured; its warm phases are measured in the "
                         "interleave session, in rounds shared with the other combinations")

    def _write(self) -> Path:
        """Write the record; one written while waiting for the rounds is moved to ``attempts/`` first (records
        are never overwritten)."""
        if self.waiting and self.run.record_path(self.combo.id).exists():
            self.run.set_aside(self.combo.id)
        return self.run.write_record(self.record)

    def conclude(self) -> CombinationRecord:
        """After the interleaved rounds: the verdict and the record (the interleave session reports failures)."""
        try:
            return self.finish(self.verdict(self.first_failure()), tell=False)
        finally:
            self.waiting = False
            self.held.close()

    def finish(self, ending: Ending, tell: bool = True) -> CombinationRecord:
        """Write the record; tell nox (a skip, a failure, a warning) how the combination ended."""
        combo, rec = self.combo, self.record
        rec.status, rec.failure, rec.reason, rec.ended_at = ending.status, ending.failure, ending.why, now()
        rec.outcome = outcome_of(ending.status, ending.failure, combo.expect)
        path = self._write()
        expected = f" (expected {combo.expect})" if combo.expect else ""
        said = f" - {rec.reason}" if rec.reason else ""
        self.session.log(f"tfmatrix: {combo.id}: {rec.outcome}{expected}{said} -> {path}")
        if tell:
            tell_nox(self.session, combo, rec)
        return rec

    def interrupted(self, signal_name: str) -> None:
        """Ctrl-C or SIGTERM: keep what was measured, the phase that was running, and how to finish the run."""
        rec = self.record
        if self.progress.phase is not None:  # its worker's group is already killed
            spec = self.progress.phase
            self._keep(runner.planned(spec, PhaseStatus.INTERRUPTED, note=f"stopped by {signal_name}",
                                      log=str(self.progress.log or self.log_dir / f"{spec.name}.log")))
        rec.status, rec.outcome, rec.ended_at = Status.INTERRUPTED, Outcome.INTERRUPTED, now()
        rec.reason = (f"interrupted by {signal_name} during {self.progress.doing}; `nox -s bench -- --resume "
                      f"{self.run.run_id}` runs it again")
        if self.waiting or not self.run.record_path(self.combo.id).exists():
            self._write()
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
