"""One combination's record and the one thing that fills it: a step (a phase) run into the record.

:class:`Bench` holds what its steps share (where each model's SavedModel is, the workers' environment,
what a failure made pointless) and runs one :class:`~tfmatrix.run.execution.runner.PhaseSpec` at a time into the
:class:`~tfmatrix.records.model.CombinationRecord`: skipped, cached, or run in a worker.  It never ends the
record; :mod:`.pipeline` (the stages) and :mod:`.interleave` (the rounds) decide which step runs when.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ...atomic import write_json_atomic
from ...diagnosis import blame
from ...matrix.model import Combination
from ...records.model import CombinationRecord, Failure, InstallOutcome, PhaseRecord, Prediction
from ...records.status import PhaseStatus
from ...records.store import RunDir
from ...worker.contract import Telemetry, Workload
from ..noxside.context import Context
from ..noxside.endings import NoxSession
from ..noxside.options import Options
from ..provisioning import cache, exports
from . import phases, runner
from .host import HostFacts

EXPORTS = ("export", "shared-export")


@dataclass
class Progress:
    """What is being done now, for the record of an interruption."""

    doing: str = "pre-flight"
    phase: runner.PhaseSpec | None = None
    log: Path | None = None  # the log of the process running it


@dataclass
class Bench:
    """One combination's record, and the state its steps share."""

    session: NoxSession
    ctx: Context
    combo: Combination
    opts: Options
    run: RunDir
    record: CombinationRecord
    host: HostFacts
    workload: Workload
    installer: Callable[..., InstallOutcome]
    run_phase: Callable[..., tuple[Any, Any]]
    resolver: Callable[..., tuple[str, str]]
    progress: Progress = field(default_factory=Progress)
    alone: dict[str, str] = field(default_factory=dict)  # model -> why its warm phases were not interleaved
    srcs: dict[str, exports.Source] = field(default_factory=dict)  # model -> where its SavedModel is
    env: dict[str, str] = field(default_factory=dict)  # the workers' environment
    watch: Telemetry | None = None
    stop_all: str = ""  # set: every later phase but the probe is pointless (the import failed, or no GPU)
    broken: set[str] = field(default_factory=set)  # models a phase failed for
    inspected: dict[str, dict[str, Any]] = field(default_factory=dict)  # model -> what its saved_model.pb says
    fallback: Failure | None = None  # a GPU stack whose TensorFlow sees no GPU

    @property
    def venv(self) -> Path:
        return Path(self.session.virtualenv.location)

    @property
    def log_dir(self) -> Path:
        return self.run.log_dir(self.combo.id)

    @property
    def python(self) -> str:
        return runner.python_in(self.venv)

    def worker(self, job: runner.Job) -> runner.Worker:
        return runner.Worker(self.python, self.env, self.log_dir / f"{job.name}.log")

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

    def step(self, spec: runner.PhaseSpec, worker: runner.Worker, skip: str = "") -> PhaseRecord:
        """One phase of a job: skipped, cached, or run (in the job's worker); its record kept."""
        combo, result = self.combo, None
        spec, unfit = phases.fit_batch(spec, self.inspected.get(spec.model or ""))
        src = self.srcs.get(spec.model or "")
        stopped = self.stop_all if spec.phase != "probe" else ""  # the probe says what was installed, always
        if skip or stopped or spec.model in self.broken or unfit:
            why = stopped or unfit or skip or "an earlier phase of this model failed"
            phase = runner.planned(spec, PhaseStatus.SKIPPED, note=f"not run: {why}")
        elif spec.phase in EXPORTS and src is not None and src.exported:
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
            phase, result = self.run_phase(spec, python=self.python,
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
        self.keep(phase)
        if spec.phase == "import" and not combo.models and phase.status == PhaseStatus.OK and phase.peak_rss_bytes:
            self.keep(phases.import_peak(phase))  # --import-only: the import's peak, one sample per process
        return phase

    def keep(self, phase: PhaseRecord) -> None:
        """Record a phase; one sampled again in a later process (a cold start) is joined to its record."""
        phases_ = self.record.phases
        for i, old in enumerate(phases_):
            if old.name == phase.name:
                if phase.status != PhaseStatus.SKIPPED:
                    phases_[i] = phase if old.status == PhaseStatus.SKIPPED else old.joined(phase)
                return
        phases_.append(phase)

    def made_ahead(self, job: runner.Job) -> bool:
        """An export job already recorded at the install ahead (a failed one still breaks its model)."""
        done = {p.name: p for p in self.record.phases if p.phase in EXPORTS and p.status != PhaseStatus.SKIPPED}
        if not job.steps or not all(s.phase in EXPORTS and s.name in done for s in job.steps):
            return False
        for spec in job.steps:
            if not done[spec.name].status.measured and spec.model:
                self.broken.add(spec.model)
        return True

    def first_failure(self) -> Failure | None:
        """The failure that explains the most: a GPU stack on the CPU, then import or the probe, then a model's."""
        failed = [p for p in self.record.phases if p.failure is not None]
        general = [p.failure for p in failed if p.model is None]  # an import that fails explains an export's fall
        return self.fallback or (general or [p.failure for p in failed] or [None])[0]

    def facts(self) -> blame.Facts:
        """What the record knows to blame a package with: its pins, forced pins and pip check."""
        return blame.Facts.of(self.record.combination, self.record.install, self.record.resolved_pins,
                              self.record.preflight)

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
