"""The manager side: run each benchmark phase in a fresh child process.

The parent never imports TensorFlow.  Each phase is one worker process in the
combination's venv, in its own process group, with its output in a log file;
the parent owns the timeout (the whole group is killed) and maps every way a
child can end to data (:func:`phase_status`).  What crosses to the worker and
back is the contract's (:mod:`tfmatrix.worker.contract`); what a phase leaves
is a :class:`~tfmatrix.records.model.PhaseRecord`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..matrix.model import Combination
from ..records.model import PhaseRecord
from ..records.status import PhaseStatus
from ..worker.contract import BenchConfig, Telemetry, WorkerResult, WorkerSpec, Workload
from .exits import describe_exit

STDERR_TAIL_BYTES = 8192


@dataclass(frozen=True)
class PhaseSpec:
    """One benchmark run: which asv-style method, with which params."""

    phase: str  # probe, import, export or shared-export, inspect, load, first-inference, latency, throughput, peakmem
    timeout_key: str  # key of matrix Timeouts
    cls: str = ""
    method: str = ""
    params: tuple[Any, ...] = ()
    model: str | None = None
    batch: int | None = None

    @property
    def name(self) -> str:
        parts = [self.phase] + ([self.model] if self.model else []) + (
            [f"b{self.batch}"] if self.batch is not None else [])
        return "-".join(parts)

    @property
    def benchmark(self) -> str:
        return f"{self.cls}.{self.method}" if self.cls else "probe"


def plan(combo: Combination, workload: Workload) -> list[PhaseSpec]:
    """The phases of one combination, in run order."""
    phases = [
        PhaseSpec("probe", "import"),
        PhaseSpec("import", "import", "ImportSuite", "timeraw_import_tensorflow"),
    ]
    for m in combo.models:
        largest = max(workload.batch_sizes)
        exporter = combo.exporter(m)
        if exporter is not None:  # a Model Garden model: exported here, or once by its exporter for everyone
            kind = "export" if exporter.id == combo.id else "shared-export"
            phases.append(PhaseSpec(kind, "export", "ExportSuite", "track_export_seconds", (m.id,), m.id))
        phases += [
            PhaseSpec("inspect", "load", "InspectSuite", "track_unknown_ops", (m.id,), m.id),
            PhaseSpec("load", "load", "LoadSuite", "timeraw_load_saved_model", (m.id,), m.id),
            PhaseSpec("first-inference", "inference", "InferenceSuite", "track_first_inference_seconds",
                      (m.id, 1), m.id, 1),
        ]
        for b in workload.batch_sizes:
            kind = "latency" if b == 1 else "throughput"
            phases.append(PhaseSpec(kind, "inference", "InferenceSuite", "time_inference", (m.id, b), m.id, b))
        phases.append(PhaseSpec("peakmem", "inference", "InferenceSuite", "peakmem_inference",
                                (m.id, largest), m.id, largest))
    return phases


def phase_status(returncode: int | None, timed_out: bool, result: WorkerResult | None,
                 windows: bool | None = None) -> tuple[PhaseStatus, str]:
    """Map how a child ended to (status, note).  The one place for this."""
    if timed_out:
        return PhaseStatus.TIMEOUT, "killed by tfmatrix at the phase timeout"
    info = describe_exit(returncode, windows)
    if info.signal or info.ntstatus:
        return PhaseStatus.CRASHED, info.text
    if result is None:
        if returncode == 0:
            return PhaseStatus.NO_RESULT, "exited 0 without writing its result file"
        return PhaseStatus.CRASHED, f"{info.text} without a result file"
    if result.status == "error":
        exc = result.exception or {}
        return PhaseStatus.ERROR, f"{exc.get('type', 'Exception')}: {exc.get('message', '')}"[:500]
    if returncode not in (0, None):
        return PhaseStatus.CRASHED, f"{info.text} after writing its result"
    return PhaseStatus.OK, ""


def _tail(path: Path, limit: int = STDERR_TAIL_BYTES) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


#: Windows' CREATE_NEW_PROCESS_GROUP (subprocess has the name only on Windows)
CREATE_NEW_PROCESS_GROUP = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x00000200)


def _popen_kwargs(windows: bool | None = None) -> dict[str, Any]:
    """A worker gets its own process group: POSIX a new session, Windows a new process group."""
    if os.name == "nt" if windows is None else windows:
        return {"creationflags": CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def _kill_group(proc: subprocess.Popen, windows: bool | None = None, run: Any = subprocess.run) -> None:
    """Kill a worker and everything it started: SIGKILL to its group, or ``taskkill /T`` (the tree) on Windows."""
    if os.name == "nt" if windows is None else windows:
        run(["taskkill", "/F", "/T", "/PID", str(proc.pid)], check=False,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_worker(python: str, spec: WorkerSpec, log_path: Path,
               env: dict[str, str]) -> tuple[int | None, bool, WorkerResult | None, float]:
    """Start ``python -m tfmatrix.worker``; return (returncode, timed_out, result, seconds).

    The manager owns the timeout (``spec.timeout``): past it, the worker's whole process group is killed.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tfmatrix-phase-") as tmp:
        spec_path = Path(tmp) / "spec.json"
        out_path = Path(tmp) / "result.json"
        spec_path.write_text(json.dumps(spec.to_json()), encoding="utf-8")
        cmd = [python, "-X", "faulthandler", "-m", "tfmatrix.worker",
               "--spec", str(spec_path), "--out", str(out_path)]
        t0 = time.perf_counter()
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    env=env, **_popen_kwargs())
            timed_out = False
            try:
                proc.wait(timeout=spec.timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_group(proc)
                proc.wait()
            except BaseException:
                _kill_group(proc)
                proc.wait()
                raise
        seconds = time.perf_counter() - t0
        result = None
        if out_path.exists():
            try:
                result = WorkerResult.from_json(json.loads(out_path.read_text(encoding="utf-8")))
            except (ValueError, TypeError):
                result = None
        return proc.returncode, timed_out, result, seconds


def planned(spec: PhaseSpec, status: PhaseStatus, **fields: Any) -> PhaseRecord:
    """The record of a phase of the plan that ended this way (run, skipped, cached or interrupted)."""
    return PhaseRecord(phase=spec.phase, name=spec.name, benchmark=spec.benchmark, model=spec.model,
                       batch=spec.batch, status=status, **fields)


def run_phase(spec: PhaseSpec, *, python: str, benchmark_file: Path, log_dir: Path,
              timeout: float, env: dict[str, str],
              telemetry: Telemetry | None = None) -> tuple[PhaseRecord, WorkerResult | None]:
    """One phase in a fresh worker: its record, and what the worker reported (the probe's facts travel there).

    ``telemetry`` samples NVML beside it (GPU stacks)."""
    if spec.phase == "probe":
        worker = WorkerSpec(probe=True, timeout=timeout)
    else:
        worker = WorkerSpec(benchmark_file=str(benchmark_file), cls=spec.cls, method=spec.method,
                            params=spec.params, timeout=timeout, telemetry=telemetry)
    log_path = log_dir / f"{spec.name}.log"
    rc, timed_out, result, seconds = run_worker(python, worker, log_path, env)
    status, note = phase_status(rc, timed_out, result)
    info = describe_exit(rc)
    if timed_out:
        note = f"{note} after {seconds:.1f} s (limit {timeout:g} s)"
    r = result or WorkerResult(status="error")
    return planned(spec, status, exit_code=rc, signal=info.signal, ntstatus=info.ntstatus, wall_seconds=seconds,
                   unit=r.unit, samples=list(r.samples or []), peak_rss_bytes=r.peak_rss_bytes,
                   setup_seconds=r.setup_seconds, log=str(log_path),
                   stderr_tail=_tail(log_path) if status != PhaseStatus.OK else "", note=note, extra=r.extra,
                   exception=r.exception, gpu_peak_memory_bytes=r.gpu_peak_memory_bytes, truncated=r.truncated,
                   warmup=r.warmup, telemetry=r.telemetry), result


def child_env(config_path: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a worker: the parent's, plus the bench config."""
    env = dict(os.environ)
    env["TFMATRIX_BENCH_CONFIG"] = str(config_path)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    env["PYTHONUNBUFFERED"] = "1"
    # the worker must import tfmatrix from its own venv, not from this checkout
    env.pop("PYTHONPATH", None)
    if extra:
        env.update(extra)
    return env


def bench_config(combo: Combination, workload: Workload, export_dirs: dict[str, Path],
                 models: tuple[Any, ...] | None = None) -> BenchConfig:
    """What the combination's benchmarks are parametrised by (written to ``bench-config.json``)."""
    return BenchConfig(combination=combo.id, models=combo.models if models is None else models,
                       export_dirs={m: str(p) for m, p in export_dirs.items()}, workload=workload)


def python_in(venv: Path) -> str:
    return str(venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python"))
