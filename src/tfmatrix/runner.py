"""The manager side: run each benchmark phase in a fresh child process.

The parent never imports TensorFlow.  Each phase is one worker process in the
combination's venv, in its own process group, with its output in a log file;
the parent owns the timeout (the whole group is killed) and maps every way a
child can end to data (:func:`outcome_of`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import stats
from .exits import describe_exit
from .matrix import Combination, ModelSpec, Workload

STDERR_TAIL_BYTES = 8192


@dataclass(frozen=True)
class PhaseSpec:
    """One benchmark run: which asv-style method, with which params."""

    phase: str  # import, probe, export, load, first-inference, latency, throughput, peakmem
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
        phases += [
            PhaseSpec("export", "export", "ExportSuite", "track_export_seconds", (m.id,), m.id),
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


@dataclass
class PhaseResult:
    spec: PhaseSpec
    status: str  # ok, cached, error, crashed, timeout, no-result, skipped
    exit_code: int | None = None
    signal: str | None = None
    ntstatus: str | None = None
    wall_seconds: float = 0.0
    result: dict[str, Any] = field(default_factory=dict)
    stderr_tail: str = ""
    log: str = ""
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "cached")

    def to_json(self) -> dict[str, Any]:
        samples = self.result.get("samples", [])
        out: dict[str, Any] = {
            "phase": self.spec.phase, "name": self.spec.name, "benchmark": self.spec.benchmark,
            "model": self.spec.model, "batch": self.spec.batch, "status": self.status,
            "exit_code": self.exit_code, "signal": self.signal, "ntstatus": self.ntstatus,
            "wall_seconds": round(self.wall_seconds, 6), "unit": self.result.get("unit"),
            "samples": samples, "summary": stats.summarize(samples) if samples else None,
            "peak_rss_bytes": self.result.get("peak_rss_bytes"),
            "setup_seconds": self.result.get("setup_seconds"),
            "log": self.log, "stderr_tail": self.stderr_tail, "note": self.note,
        }
        for key in ("extra", "exception", "gpu_peak_memory_bytes", "truncated", "warmup", "cached_from", "telemetry"):
            if key in self.result:
                out[key] = self.result[key]
        if self.spec.phase in ("latency", "throughput") and self.spec.batch:
            med = out["summary"]["median"] if out["summary"] else None
            out["throughput_ips"] = (self.spec.batch / med) if med else None
        return out


def outcome_of(returncode: int | None, timed_out: bool, result: dict[str, Any] | None,
               windows: bool | None = None) -> tuple[str, str]:
    """Map how a child ended to (status, note).  The one place for this."""
    if timed_out:
        return "timeout", "killed by tfmatrix at the phase timeout"
    info = describe_exit(returncode, windows)
    if info.signal or info.ntstatus:
        return "crashed", info.text
    if result is None:
        if returncode == 0:
            return "no-result", "exited 0 without writing its result file"
        return "crashed", f"{info.text} without a result file"
    if result.get("status") == "error":
        exc = result.get("exception", {})
        return "error", f"{exc.get('type', 'Exception')}: {exc.get('message', '')}"[:500]
    if returncode not in (0, None):
        return "crashed", f"{info.text} after writing its result"
    return "ok", ""


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


def run_worker(python: str, spec: dict[str, Any], log_path: Path, timeout: float,
               env: dict[str, str]) -> tuple[int | None, bool, dict[str, Any] | None, float]:
    """Start ``python -m tfmatrix.worker``; return (returncode, timed_out, result, seconds)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tfmatrix-phase-") as tmp:
        spec_path = Path(tmp) / "spec.json"
        out_path = Path(tmp) / "result.json"
        spec_path.write_text(json.dumps(dict(spec, timeout=timeout)), encoding="utf-8")
        cmd = [python, "-X", "faulthandler", "-m", "tfmatrix.worker",
               "--spec", str(spec_path), "--out", str(out_path)]
        t0 = time.perf_counter()
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    env=env, **_popen_kwargs())
            timed_out = False
            try:
                proc.wait(timeout=timeout)
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
                result = json.loads(out_path.read_text(encoding="utf-8"))
            except ValueError:
                result = None
        return proc.returncode, timed_out, result, seconds


def run_phase(spec: PhaseSpec, *, python: str, benchmark_file: Path, log_dir: Path,
              timeout: float, env: dict[str, str], telemetry: dict[str, Any] | None = None) -> PhaseResult:
    """One phase in a fresh worker; ``telemetry`` ({"gpus": [...], "period": s}) samples NVML beside it."""
    worker_spec: dict[str, Any]
    if spec.phase == "probe":
        worker_spec = {"probe": True}
    else:
        worker_spec = {"benchmark_file": str(benchmark_file), "class": spec.cls,
                       "method": spec.method, "params": list(spec.params)}
        if telemetry:
            worker_spec["telemetry"] = telemetry
    log_path = log_dir / f"{spec.name}.log"
    rc, timed_out, result, seconds = run_worker(python, worker_spec, log_path, timeout, env)
    status, note = outcome_of(rc, timed_out, result)
    info = describe_exit(rc)
    if timed_out:
        note = f"{note} after {seconds:.1f} s (limit {timeout:g} s)"
    return PhaseResult(
        spec=spec, status=status, exit_code=rc, signal=info.signal, ntstatus=info.ntstatus,
        wall_seconds=seconds, result=result or {}, stderr_tail=_tail(log_path) if status != "ok" else "",
        log=str(log_path), note=note,
    )


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


def bench_config(combo: Combination, workload: Workload, export_dirs: dict[str, Path]) -> dict[str, Any]:
    def model_json(m: ModelSpec) -> dict[str, Any]:
        return dict(m.to_json(), export_dir=str(export_dirs[m.id]))

    return {
        "combination": combo.id,
        "models": [model_json(m) for m in combo.models],
        "workload": {
            "seed": workload.seed, "images": workload.images, "batch_sizes": list(workload.batch_sizes),
            "warmup": workload.warmup, "latency_min_queries": workload.latency_min_queries,
            "latency_min_seconds": workload.latency_min_seconds,
            "throughput_min_queries": workload.throughput_min_queries,
            "throughput_min_seconds": workload.throughput_min_seconds,
            "load_repeats": workload.load_repeats, "import_repeats": workload.import_repeats,
        },
    }


def python_in(venv: Path) -> str:
    return str(venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python"))
