"""What one ``bench(<combination>)`` nox session does, from venv to record."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from . import RECORD_SCHEMA_VERSION, __version__, cache, install, locks, outcomes, placement, preflight, runner
from .classify import Classification, classify_failure, find_degraded, read_log, tensorflow_gpu_lines
from .errors import TfmatrixError
from .fingerprint import collect_cpu, collect_git, host_fingerprint
from .gpu import GpuInfo, driver_version, gpu_skip_reason, visible_gpus
from .matrix import Combination, Matrix, combinations
from .atomic import write_json_atomic
from .records import run_folders
from .interrupts import signal_name_of
from .results import REPORTS_ENV, RESULTS_ENV, RunDir, check_run_id, now, read_json, reports_root
from .shard import Shard, members, parse_shard

CACHE_ENV = "TFMATRIX_CACHE"
PROFILE_ENV = "TFMATRIX_PROFILE"



class NoxSession(Protocol):  # the part of nox.Session used here
    posargs: list[str]
    venv_backend: str

    @property
    def virtualenv(self) -> Any: ...
    def log(self, *args: Any) -> None: ...
    def warn(self, *args: Any) -> None: ...
    def error(self, *args: Any) -> Any: ...
    def skip(self, *args: Any) -> Any: ...
    def notify(self, target: str, posargs: Any = None) -> None: ...


@dataclass(frozen=True)
class Options:
    models: tuple[str, ...] = ()
    quick: bool = False
    assume_gpu: bool = False
    resume: str | None = None  # a run id, "latest", or None for a new run
    allow_shared_gpu: bool = False
    gpu: int | None = None  # the GPU (PCI bus order) GPU stacks run on; None: all visible
    telemetry_ms: int = 50  # NVML sampling period beside GPU phases; 0 turns it off
    # scale-out (issue 7)
    shard: Shard | None = None  # run only this slice of the profile
    gpus: tuple[int, ...] = ()  # --gpus 0,1,2,3: one combination per GPU at a time
    executor: str = "local"  # "local" or "ray"
    address: str = "auto"  # the Ray cluster (--executor ray)
    stage: str = "all"  # internal (the --gpus pool): "install" only, or "measure" what was installed
    placed_by: str = "local"  # internal: the executor that started this session ("gpus", "ray")


OPTIONS_HELP = ("--models ID[,ID], --quick, --assume-gpu (or --force-gpu-stacks), --resume [RUN_ID], "
                "--allow-shared-gpu, --gpu N, --gpus N,N,..., --shard I/N, --executor local|ray, "
                "--address ADDR, --telemetry-period MS")
STAGES = ("all", "install", "measure")


def parse_options(posargs: list[str]) -> Options:
    p = argparse.ArgumentParser(prog="nox -s bench --", add_help=False, exit_on_error=False)
    p.add_argument("--models", action="append", default=[])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--assume-gpu", "--force-gpu-stacks", dest="assume_gpu", action="store_true")
    p.add_argument("--resume", nargs="?", const="latest", default=None)
    p.add_argument("--allow-shared-gpu", action="store_true")
    p.add_argument("--gpu", type=int, default=None)
    p.add_argument("--telemetry-period", type=int, default=50)
    p.add_argument("--gpus", default=None)
    p.add_argument("--shard", default=None)
    p.add_argument("--executor", default="local")
    p.add_argument("--address", default="auto")
    p.add_argument("--stage", default="all")
    p.add_argument("--placed-by", default="local")
    try:
        ns, rest = p.parse_known_args(posargs)
    except argparse.ArgumentError as exc:
        raise TfmatrixError(f"bench options: {exc}") from None
    if rest:
        raise TfmatrixError(f"bench options: got {' '.join(rest)!r}; expected {OPTIONS_HELP}")
    if ns.resume not in (None, "latest"):
        check_run_id(ns.resume, "--resume")
    if ns.gpu is not None and ns.gpu < 0:
        raise TfmatrixError(f"--gpu: got {ns.gpu}; expected a GPU index (0, 1, ... in PCI bus order, as nvidia-smi)")
    if ns.telemetry_period < 0:
        raise TfmatrixError(f"--telemetry-period: got {ns.telemetry_period}; expected milliseconds >= 0 (0: off)")
    models = tuple(m for arg in ns.models for m in arg.split(",") if m)
    gpus = parse_gpus(ns.gpus) if ns.gpus is not None else ()
    if ns.executor not in ("local", "ray"):
        raise TfmatrixError(f"--executor: got {ns.executor!r}; expected local or ray")
    if ns.stage not in STAGES or ns.placed_by not in ("local", "gpus", "ray"):
        raise TfmatrixError(f"--stage/--placed-by: got {ns.stage!r}/{ns.placed_by!r}; these are set by tfmatrix's "
                            "own executors, not by hand")
    if (ns.executor == "ray" or len(gpus) > 1) and ns.resume is not None:
        raise TfmatrixError("--resume: not with --executor ray or --gpus; resume runs one combination at a time "
                            "(drop --gpus/--executor to finish a run)")
    if ns.executor == "ray" and gpus:
        raise TfmatrixError("--gpus: not with --executor ray; Ray gives each task its GPU")
    gpu = gpus[0] if len(gpus) == 1 and ns.gpu is None else ns.gpu  # --gpus N is --gpu N
    return Options(models=models, quick=ns.quick, assume_gpu=ns.assume_gpu, resume=ns.resume,
                   allow_shared_gpu=ns.allow_shared_gpu, gpu=gpu, telemetry_ms=ns.telemetry_period,
                   shard=parse_shard(ns.shard) if ns.shard is not None else None, gpus=gpus,
                   executor=ns.executor, address=ns.address, stage=ns.stage, placed_by=ns.placed_by)


def parse_gpus(text: str) -> tuple[int, ...]:
    items = [t.strip() for t in text.split(",")]
    if not all(t.isdigit() for t in items) or len(set(items)) != len(items):
        raise TfmatrixError(f"--gpus: got {text!r}; expected distinct GPU indices such as 0,1,2,3 "
                            "(PCI bus order, as nvidia-smi numbers them)")
    return tuple(int(t) for t in items)


def run_to_write(ctx: Context, opts: Options) -> RunDir:
    """This invocation's new run, or with ``--resume`` the run it continues (which must exist)."""
    if opts.resume is None:
        return RunDir(ctx.results_root, ctx.run_id)
    if opts.resume == "latest":
        earlier = [p for p in run_folders(ctx.results_root) if p.name != ctx.run_id]
        if not earlier:
            raise TfmatrixError(f"--resume: no earlier run under {ctx.results_root} to resume")
        return RunDir(ctx.results_root, earlier[-1].name)
    run = RunDir(ctx.results_root, opts.resume)
    if not run.run_record.exists():
        raise TfmatrixError(f"--resume: got {opts.resume!r}; expected a run under {ctx.results_root} with a run.json")
    return run


@dataclass(frozen=True)
class Context:
    """What the noxfile knows once, at import: project, matrix, run."""

    root: Path
    matrix: Matrix
    profile: str
    run_id: str
    results_root: Path

    @property
    def reports_root(self) -> Path:
        return reports_root(self.root)

    def env(self) -> dict[str, str]:
        """Where a session's ``python -m tfmatrix`` finds results and writes reports."""
        return {RESULTS_ENV: str(self.results_root), REPORTS_ENV: str(self.reports_root)}

    @property
    def cache_root(self) -> Path:
        value = os.environ.get(CACHE_ENV)
        return Path(value).resolve() if value else self.root / ".tfmatrix-cache"

    @property
    def benchmark_file(self) -> Path:
        return self.root / "benchmarks" / "bench_detection.py"

    def combinations(self) -> list[Combination]:
        return combinations(self.matrix, self.profile)

    def run_info(self, opts: Options) -> dict[str, Any]:
        return {"host": host_fingerprint(), "matrix": {"path": self.matrix.path, "sha256": self.matrix.sha256},
                "profile": self.profile, "suite": collect_git(self.root),
                "options": {"models": list(opts.models), "quick": opts.quick, "assume_gpu": opts.assume_gpu,
                            "shard": str(opts.shard) if opts.shard else None,
                            "executor": "gpus" if len(opts.gpus) > 1 else opts.executor}}


def select(ctx: Context, combo_id: str, opts: Options) -> Combination:
    combo = next(c for c in ctx.combinations() if c.id == combo_id)
    if not opts.models:
        return combo
    known = {m.id for m in combo.models}
    unknown = [m for m in opts.models if m not in known]
    if unknown:
        raise TfmatrixError(f"--models: got {', '.join(unknown)}; expected models of {combo.id}: "
                            f"{', '.join(sorted(known))}")
    return dataclasses.replace(combo, models=tuple(m for m in combo.models if m.id in opts.models))


def in_shard(ctx: Context, combo_id: str, opts: Options) -> bool:
    return opts.shard is None or combo_id in members(ctx.combinations(), opts.shard)


def new_record(run: RunDir, combo: Combination, opts: Options, executor: str) -> dict[str, Any]:
    """A combination record before anything is measured (its host is the one this runs on)."""
    return {
        "schema_version": RECORD_SCHEMA_VERSION, "kind": "combination", "run_id": run.run_id,
        "tfmatrix_version": __version__, "combination": combo.to_json(), "quick": opts.quick,
        "started_at": now(), "ended_at": None, "status": None, "outcome": None, "expect": combo.expect,
        "failure": None, "reason": "", "preflight": None, "install": None, "resolved_pins": [],
        "environment": None, "phases": [], "host": host_fingerprint(),
        "placement": {"executor": executor, "shard": str(opts.shard) if opts.shard else None,
                      "gpu_index": opts.gpu if combo.needs_gpu else None, "node": None},
    }


def record_by_driver(run: RunDir, combo: Combination, opts: Options, executor: str, status: str,
                     reason: str, failure: Classification | None = None) -> Path:
    """What an executor's driver records when a combination never ran (no matching hardware) or
    its session ended without a record (killed): the reason, never a silent gap."""
    record = new_record(run, combo, opts, executor)
    record.update(status=status, reason=reason, ended_at=now(), failure=failure.to_json() if failure else None,
                  outcome=outcomes.read_outcome(status, failure.cls if failure else None, combo.expect))
    return run.write_record(combo.id, record)


def export_dirs(ctx: Context, combo: Combination, lock_sha256: str, seed: int) -> dict[str, Path]:
    """The export cache key: (combination, model config, resolved pins, seed)."""
    out = {}
    for m in combo.models:
        key = hashlib.sha256(f"{m.config_digest()}|{lock_sha256}|{seed}".encode()).hexdigest()[:16]
        out[m.id] = ctx.cache_root / "exports" / combo.id / f"{m.id}-{key}"
    return out


def _exported(path: Path) -> bool:
    return (path / "saved_model.pb").exists() or (path / "saved_model" / "saved_model.pb").exists()


def run_combination(session: NoxSession, ctx: Context, combo_id: str) -> dict[str, Any] | None:
    """The body of ``bench(<combo_id>)``; returns the record it wrote (None: already done, on --resume)."""
    opts = parse_options(list(session.posargs))
    combo = select(ctx, combo_id, opts)
    if not in_shard(ctx, combo.id, opts):  # no record: the shard that owns it writes one
        session.skip(f"{combo.id}: not in shard {opts.shard} (another shard runs it)")
    run = run_to_write(ctx, opts)
    run.ensure(lambda: ctx.run_info(opts))
    if opts.placed_by == "local":  # an executor's child leaves the summary (and the run's end) to its driver
        session.notify("summary", [run.run_id])
    if opts.resume is not None:
        run.mark_resumed(ctx.run_id)
        done = run.existing_record(combo.id)
        if done is not None and done.get("status") != outcomes.INTERRUPTED:
            session.log(f"tfmatrix: {combo.id}: already recorded in run {run.run_id} "
                        f"({done.get('outcome') or done.get('status')}); not run again")
            return None
        if done is not None:
            session.log(f"tfmatrix: {combo.id}: the interrupted attempt is kept as {run.set_aside(combo.id)}")
    workload = ctx.matrix.workload.quick() if opts.quick else ctx.matrix.workload
    record = new_record(run, combo, opts, opts.placed_by)
    log_dir = run.log_dir(combo.id)
    log_dir.mkdir(parents=True, exist_ok=True)
    state = {"doing": "pre-flight", "spec": None}
    try:
        with contextlib.ExitStack() as held:
            state["doing"] = "waiting for the venv"
            held.enter_context(locks.exclusive(Path(session.virtualenv.location) / ".tfmatrix.lock", session.log))
            return _measure(session, ctx, combo, opts, run, workload, record, log_dir, state, held)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM through interrupts.signals_as_interrupt
        sig = signal_name_of(exc)
        if state["spec"] is not None:  # the phase that was running: its worker's group is already killed
            record["phases"].append(runner.PhaseResult(
                spec=state["spec"], status=outcomes.INTERRUPTED, note=f"stopped by {sig}",
                log=str(log_dir / f"{state['spec'].name}.log")).to_json())
        record.update(status=outcomes.INTERRUPTED, outcome=outcomes.INTERRUPTED, ended_at=now(),
                      reason=f"interrupted by {sig} during {state['doing']}; `nox -s bench -- --resume "
                             f"{run.run_id}` runs it again")
        if not run.record_path(combo.id).exists():
            run.write_record(combo.id, record)
        run.mark_interrupted(combo.id, sig)
        session.log(f"tfmatrix: {combo.id}: interrupted by {sig}; what was measured is kept in "
                    f"{run.record_path(combo.id)}")
        raise


def _measure(session: NoxSession, ctx: Context, combo: Combination, opts: Options, run: RunDir, workload: Any,
             record: dict[str, Any], log_dir: Path, state: dict[str, Any],
             held: contextlib.ExitStack) -> dict[str, Any] | None:
    """Pre-flight, install, every phase, the verdict; ``state`` says what is being done (for an interrupt).

    Returns None after ``--stage install`` (the ``--gpus`` pool's first stage) installed it.

    ``held`` keeps what this combination holds (its venv's lock, the GPU lease) until it is recorded.
    """

    def finish(status: str, failure: Classification | None = None, reason: str = "") -> dict[str, Any]:
        outcome = outcomes.read_outcome(status, failure.cls if failure else None, combo.expect)
        reason = reason or (f"{failure.cls}: {failure.evidence}" if failure else "")
        record.update(status=status, outcome=outcome, failure=failure.to_json() if failure else None,
                      reason=reason, ended_at=now())
        path = run.write_record(combo.id, record)
        expected = f" (expected {combo.expect})" if combo.expect else ""
        session.log(f"tfmatrix: {combo.id}: {outcome}{expected}{' - ' + reason if reason else ''} -> {path}")
        if outcome == outcomes.SKIPPED:
            session.skip(f"{combo.id}: {reason}")
        if outcome in outcomes.SESSION_FAILS:
            session.error(f"{combo.id}: {outcome}{expected}: {reason}")
        if failure and failure.cls == "degraded" and not combo.expect:
            session.warn(f"{combo.id}: degraded: {failure.evidence}")
        return record

    host = host_facts()
    record["preflight"] = preflight.predict(combo.to_json(), [], host).to_json()
    if combo.needs_gpu:
        gpus = [GpuInfo(g["index"], g["name"], "", g.get("memory_bytes"), g.get("uuid")) for g in host["gpus"]]
        reason = gpu_skip_reason(opts.assume_gpu, gpus)
        if reason:
            return finish(outcomes.SKIPPED, reason=reason)
        mine = [g for g in gpus if opts.gpu is None or g.index == opts.gpu]
        if opts.gpu is not None and not mine and gpus:
            return finish(outcomes.SKIPPED, reason=f"--gpu {opts.gpu}: this host has GPUs "
                                                   f"{', '.join(str(g.index) for g in gpus)}")
        reason = placement.unmet(combo.hardware, mine, host["driver_version"])
        if reason:
            return finish(outcomes.SKIPPED, reason=reason)
        if opts.stage != "install" and not held.enter_context(locks.gpu_lease(locks.lease_paths(opts.gpu, gpus))):
            shared = ("another tfmatrix run is timing on this host's GPU; two runs on one GPU distort each "
                      "other's timings")
            if not opts.allow_shared_gpu:
                return finish(outcomes.SKIPPED, reason=f"{shared}: run it later, or pass --allow-shared-gpu")
            session.warn(f"{combo.id}: {shared} (--allow-shared-gpu: running anyway, recorded as shared_gpu)")
            record["shared_gpu"] = True

    venv = Path(session.virtualenv.location)
    python = runner.python_in(venv)
    state["doing"] = "install"
    cache.touch(venv)
    installed = log_dir / "install-outcome.json"  # the --gpus pool's install stage, for its measure stage
    if opts.stage == "measure":  # installed ahead by the pool: nothing installs beside a timed phase
        if not installed.exists():
            raise TfmatrixError(f"{installed}: missing; the --gpus pool installs before it measures")
        inst = install.InstallOutcome(**read_json(installed))
    else:
        inst = install.install(
            combo.requirements(), venv=venv, python=python, backend=session.venv_backend,
            project_root=ctx.root, timeout=ctx.matrix.timeouts.install, log=log_dir / "install.log",
            overrides=combo.overrides(), index_url=ctx.matrix.index_url)
    if opts.stage == "install" and inst.ok:
        write_json_atomic(str(installed), dataclasses.asdict(inst))
        session.log(f"tfmatrix: {combo.id}: installed ahead ({inst.seconds:.1f} s); measured later by the pool")
        return None
    record["install"] = inst.to_json()
    record["resolved_pins"] = inst.resolved
    if inst.ok:  # predict again, now from what was really resolved
        record["preflight"] = preflight.predict(combo.to_json(), inst.resolved, host).to_json()
    else:
        failure = classify_failure(status="install-failed", text=inst.error, gpu_stack=combo.needs_gpu)
        first = next((ln for ln in inst.error.splitlines() if ln.strip()), "installer failed")
        return finish(outcomes.INSTALL_FAILED, failure, f"{inst.failed_step}: {first.strip()}")
    if inst.check_ok is False:
        session.warn(f"{combo.id}: the installer's check reports conflicts (recorded): "
                     f"{inst.check_output.splitlines()[-1] if inst.check_output else ''}")

    dirs = export_dirs(ctx, combo, inst.lock_sha256, workload.seed)
    config_path = log_dir / "bench-config.json"
    config_path.write_text(json.dumps(runner.bench_config(combo, workload, dirs), indent=1))
    env = runner.child_env(config_path, _stack_env(combo, opts.gpu))
    watch = None
    if combo.needs_gpu:
        record["gpu_index"] = opts.gpu
        if opts.telemetry_ms:
            gpus = [opts.gpu] if opts.gpu is not None else ([g["index"] for g in host["gpus"]] or [0])
            watch = {"gpus": gpus, "period": opts.telemetry_ms / 1000}
    failure = ""
    broken_models: set[str] = set()
    first_failure: Classification | None = None
    for spec in runner.plan(combo, workload):
        if failure or (spec.model in broken_models):
            res = runner.PhaseResult(spec=spec, status="skipped",
                                     note=f"not run: {failure or 'an earlier phase of this model failed'}")
        elif spec.phase == "export" and _exported(dirs[spec.model]):
            cache.touch(dirs[spec.model])
            res = runner.PhaseResult(spec=spec, status="cached", note=f"export reused from {dirs[spec.model]}",
                                     result=_cached_export(dirs[spec.model]))
        else:
            session.log(f"tfmatrix: {combo.id}: {spec.name} ({spec.benchmark})")
            state.update(doing=spec.name, spec=spec)
            res = runner.run_phase(spec, python=python, benchmark_file=ctx.benchmark_file, log_dir=log_dir,
                                   timeout=ctx.matrix.timeouts.for_phase(spec.timeout_key), env=env,
                                   telemetry=watch)
            state["spec"] = None
            if spec.phase == "export" and res.ok:
                _remember_export(dirs[spec.model], res, run.run_id)
                cache.touch(dirs[spec.model])
        doc = res.to_json()
        if spec.phase == "probe" and res.ok:
            record["environment"] = res.result.get("probe")
            failure = cpu_fallback(combo, record["environment"])
            if failure:  # the probe's log says why (a library that did not load, say) before "no-gpu"
                log_text = read_log(res.log)
                first_failure = classify_failure(status="error", text=f"{log_text}\n{failure}", gpu_stack=True)
                said = tensorflow_gpu_lines(log_text)
                if said:  # TensorFlow's own words, even the lines that are noise on a CPU stack
                    first_failure = dataclasses.replace(
                        first_failure, evidence=f"{first_failure.evidence}; TensorFlow said: {' | '.join(said)}")
        if not res.ok and res.status != "skipped":
            cls = classify_phase(res, gpu_stack=combo.needs_gpu)
            doc["failure"] = cls.to_json()
            first_failure = first_failure or cls
            if spec.model is None:
                failure = f"{spec.name} {res.status}"
            else:
                broken_models.add(spec.model)
        record["phases"].append(doc)

    if first_failure:
        return finish(outcomes.FAILED, first_failure)
    state["doing"] = "writing the record"
    logs = "\n".join(read_log(p["log"]) for p in record["phases"] if p.get("log"))
    degraded = find_degraded(logs, gpu_stack=combo.needs_gpu)
    return finish(outcomes.DEGRADED, degraded) if degraded else finish(outcomes.OK)


def host_facts() -> dict[str, Any]:
    """What the pre-flight verdict needs to know about this host."""
    return {"gpus": [{"index": g.index, "name": g.name, "memory_bytes": g.memory_bytes, "uuid": g.uuid}
                     for g in visible_gpus()],
            "driver_version": driver_version(), "cpu_flags": collect_cpu()["flags"]}


def classify_phase(res: runner.PhaseResult, gpu_stack: bool) -> Classification:
    """A failed phase's class, from its status, signal and everything it printed."""
    exc = res.result.get("exception") or {}
    text = "\n".join([read_log(res.log) if res.log else "", exc.get("message", ""), res.note])
    return classify_failure(status=res.status, text=text, signal=res.signal, ntstatus=res.ntstatus,
                            gpu_stack=gpu_stack)


def cpu_fallback(combo: Combination, environment: dict[str, Any] | None) -> str:
    """A GPU combination whose TensorFlow sees no GPU must not be timed at all.

    Its timings would be CPU timings filed under a GPU stack; the combination
    is recorded as failed (``no-gpu``) instead.
    """
    if not combo.needs_gpu:
        return ""
    devices = (environment or {}).get("devices") or {}
    physical = devices.get("physical") if isinstance(devices, dict) else None
    if physical is None:
        return "no-gpu: the probe could not list TensorFlow's devices"
    if not any(d.get("type") == "GPU" for d in physical):
        return ("no-gpu: the stack expects a GPU but TensorFlow sees none (a CPU fallback); "
                "no timings are recorded for it")
    return ""


def _stack_env(combo: Combination, gpu: int | None = None, windows: bool | None = None) -> dict[str, str]:
    """The benchmark processes' environment for this stack.

    GPU stacks: devices in PCI bus order (so CUDA's N is NVML's and nvidia-smi's N), only ``gpu`` visible
    when one is chosen, and TensorFlow's memory growth on, so peak GPU memory is what the model used
    rather than the whole card TensorFlow reserves by default.
    """
    if combo.stack.kind == "cpu":
        return {"CUDA_VISIBLE_DEVICES": ""}  # a cpu combination never touches a GPU
    env = {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "TF_FORCE_GPU_ALLOW_GROWTH": "true"}
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = str(gpu)
    if combo.stack.kind == "cuda-system" and combo.stack.library_path:
        # the loader's search path: LD_LIBRARY_PATH on Linux, PATH on Windows (where the CUDA DLLs are found)
        windows = os.name == "nt" if windows is None else windows
        var, sep = ("PATH", ";") if windows else ("LD_LIBRARY_PATH", ":")
        current = os.environ.get(var, "")
        env[var] = sep.join([*combo.stack.library_path, *([current] if current else [])])
    return env


_EXPORT_META = "tfmatrix-export.json"


def _remember_export(path: Path, res: runner.PhaseResult, run_id: str) -> None:
    if path.exists():
        write_json_atomic(str(path / _EXPORT_META), {"run_id": run_id, "samples": res.result.get("samples", []),
                                                     "unit": "seconds", "exported_at": now()})


def _cached_export(path: Path) -> dict[str, Any]:
    meta_path = path / _EXPORT_META
    meta = read_json(meta_path) if meta_path.exists() else {}
    return {"samples": meta.get("samples", []), "unit": "seconds",
            "cached_from": {"path": str(path), "run_id": meta.get("run_id"), "exported_at": meta.get("exported_at")}}
