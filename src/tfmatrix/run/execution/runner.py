"""The manager side: the benchmark phases, run in worker processes the manager owns.

The parent never imports TensorFlow.  :func:`plan` lays the phases out as
:class:`Job` s, one worker process each:

* the export, its own process (cached as before);
* ``workload.cold_starts`` cold-start chains per model, each a fresh process that
  does what a user's process does: import TensorFlow, load the SavedModel, call it
  once, each step timed (the first chain also inspects the SavedModel and runs the
  probe; the last one goes on as the model's warm worker: latency, throughput
  and peak memory at every batch size);
* or, with ``workload.isolate_phases``, one process per phase (the older layout).

A :class:`Worker` is one live process in the combination's venv, in its own
process group, with its output in a log file.  It is sent one step at a time
and reports each step's result through a file as the step ends.  The parent owns
each step's timeout (the whole group is killed) and maps every way a step can
end to data (:func:`phase_status`), so a crash still says in which phase and at
which batch size it died, and what was measured before it is kept.  What
crosses to the worker and back is the contract's (:mod:`tfmatrix.worker.contract`);
what a phase leaves is a :class:`~tfmatrix.records.model.PhaseRecord`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import Any

from ...matrix.model import Combination
from ...records.model import PhaseRecord
from ...records.status import PhaseStatus
from ...worker.contract import BenchConfig, Quota, Telemetry, WorkerResult, WorkerSpec, Workload
from .exits import describe_exit

STDERR_TAIL_BYTES = 8192


@dataclass(frozen=True)
class PhaseSpec:
    """One benchmark run: which asv-style method, with which params."""

    phase: str  # probe, import, export, shared-export, inspect, load, first-inference, latency, fidelity, throughput,
    # peakmem
    timeout_key: str  # key of matrix Timeouts
    cls: str = ""
    method: str = ""
    params: tuple[Any, ...] = ()
    model: str | None = None
    batch: int | None = None
    inline: bool = False  # timeraw: once, in the chain's own process (its import is the chain's first step)
    round: tuple[int, int] | None = None  # latency/throughput: round i of n, interleaved with other combinations
    quota: Quota | None = None  # and what it takes in that round (the manager's arithmetic, sent to the worker)

    @property
    def name(self) -> str:
        parts = [self.phase] + ([self.model] if self.model else []) + (
            [f"b{self.batch}"] if self.batch is not None else [])
        return "-".join(parts)

    @property
    def benchmark(self) -> str:
        return f"{self.cls}.{self.method}" if self.cls else "probe"


@dataclass(frozen=True)
class Job:
    """One worker process and the phases it runs in order; its log is ``<name>.log``."""

    name: str
    steps: tuple[PhaseSpec, ...]


def phases_of(combo: Combination, workload: Workload) -> list[PhaseSpec]:
    """Every phase of one combination, each once, in the order they depend on each other."""
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
            if b == 1 and workload.fidelity_rounds:
                phases.append(PhaseSpec("fidelity", "inference", "FidelitySuite", "track_timed_region_ratio",
                                        (m.id,), m.id, 1))
        phases.append(PhaseSpec("peakmem", "inference", "InferenceSuite", "peakmem_inference",
                                (m.id, largest), m.id, largest))
    return phases


WARM = ("latency", "fidelity", "throughput", "peakmem")


def plan(combo: Combination, workload: Workload) -> list[Job]:
    """The worker processes of one combination, in run order: exports, then cold-start chains per model
    (the first with the probe, the last going on warm); or one process per phase with ``isolate_phases``."""
    phases = phases_of(combo, workload)
    if workload.isolate_phases:
        return [Job(p.name, (p,)) for p in phases]
    probe, imported = phases[0], dataclasses.replace(phases[1], inline=True)
    jobs = [Job(p.name, (p,)) for p in phases if p.phase in ("export", "shared-export")]
    n = workload.cold_starts
    for j, m in enumerate(combo.models):
        mine = {p.phase: p for p in phases if p.model == m.id and p.phase not in WARM}
        warm = tuple(p for p in phases if p.model == m.id and p.phase in WARM)
        for i in range(1, n + 1):
            steps = (imported, *((mine["inspect"],) if i == 1 else ()),
                     dataclasses.replace(mine["load"], inline=True), mine["first-inference"],
                     *(warm if i == n else ()), *((probe,) if i == 1 and j == 0 else ()))
            jobs.append(Job(f"{'cold' if i < n else 'warm'}-{i}-{m.id}", steps))
    if not combo.models:  # --import-only: the import's cold starts alone, the first with the probe
        jobs += [Job(f"cold-{i}", (imported, *((probe,) if i == 1 else ())))
                 for i in range(1, workload.import_repeats + 1)]
    return jobs


def steps(jobs: list[Job]) -> list[PhaseSpec]:
    """The phases of a plan, in run order."""
    return [s for job in jobs for s in job.steps]


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


class Worker:
    """One worker process (``python -m tfmatrix.worker --serve``) that runs steps one at a time.

    Each step is sent as one JSON line on its stdin; its result is read back from the worker's results
    file.  The process starts with the first step, stays alive while steps end well, and is gone after a
    step that did not (a fresh one starts with the next step).  :meth:`close` ends it.
    """

    POLL = 0.05  # seconds between looks at the results file while a step runs

    def __init__(self, python: str, env: dict[str, str], log_path: Path) -> None:
        self.python, self.env, self.log_path = python, env, log_path
        self.proc: subprocess.Popen | None = None
        self.tmp: str | None = None
        self.read = 0  # result lines read so far
        self.gone_before = False  # the last step found the process already ended

    @property
    def name(self) -> str:
        return self.log_path.stem

    def _start(self) -> subprocess.Popen:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp, self.read = tempfile.mkdtemp(prefix="tfmatrix-worker-"), 0
        cmd = [self.python, "-X", "faulthandler", "-m", "tfmatrix.worker", "--serve", "--out", self._out]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                                         env=self.env, **_popen_kwargs())
        return self.proc

    @property
    def _out(self) -> str:
        return str(Path(self.tmp or ".") / "results.jsonl")

    def _next_result(self) -> WorkerResult | None:
        try:
            lines = Path(self._out).read_text(encoding="utf-8").split("\n")[:-1]  # complete lines only
        except OSError:
            return None
        if len(lines) <= self.read:
            return None
        self.read += 1
        try:
            return WorkerResult.from_json(json.loads(lines[self.read - 1]))
        except (ValueError, TypeError):
            return None

    def run(self, spec: WorkerSpec) -> tuple[int | None, bool, WorkerResult | None, float]:
        """One step: (returncode, or None while the process lives on; timed_out; result; seconds).

        A process that died after its last step, before this one was sent, ends this step unrun, with
        its exit status (``gone_before`` says so): a crash between steps is never lost."""
        self.gone_before = self.proc is not None and self.proc.poll() is not None
        if self.gone_before:
            assert self.proc is not None
            rc = self.proc.returncode
            self.close()
            return rc, False, None, 0.0
        proc = self.proc or self._start()
        t0 = time.perf_counter()
        try:
            try:
                assert proc.stdin is not None
                proc.stdin.write((json.dumps(spec.to_json()) + "\n").encode())
                proc.stdin.flush()
            except (BrokenPipeError, OSError):
                pass  # it is already gone: its exit status says how
            result = None
            while True:
                result = result or self._next_result()
                if result is not None and result.status == "ok":
                    return None, False, result, time.perf_counter() - t0  # alive, ready for the next step
                try:
                    rc = proc.wait(timeout=self.POLL)  # a step that raised: the worker exits after reporting it
                except subprocess.TimeoutExpired:
                    if time.perf_counter() - t0 < spec.timeout:
                        continue
                    self.close(kill=True)
                    return proc.returncode, True, result, time.perf_counter() - t0
                result = result or self._next_result()  # written just before it ended
                self.close()
                return rc, False, result, time.perf_counter() - t0
        except BaseException:
            self.close(kill=True)
            raise

    def close(self, kill: bool = False, grace: float = 30.0) -> None:
        """End the process: stdin closed (it exits after its step), or its whole group killed."""
        proc, self.proc = self.proc, None
        if proc is not None:
            if kill:
                _kill_group(proc)
            elif proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                proc.wait()
            else:
                _kill_group(proc)  # anything it left behind in its group
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


def planned(spec: PhaseSpec, status: PhaseStatus, **fields: Any) -> PhaseRecord:
    """The record of a phase of the plan that ended this way (run, skipped, cached or interrupted)."""
    return PhaseRecord(phase=spec.phase, name=spec.name, benchmark=spec.benchmark, model=spec.model,
                       batch=spec.batch, status=status, **fields)


def run_phase(spec: PhaseSpec, *, python: str, benchmark_file: Path, log_dir: Path,
              timeout: float, env: dict[str, str], telemetry: Telemetry | None = None,
              worker: Worker | None = None) -> tuple[PhaseRecord, WorkerResult | None]:
    """One phase: its record, and what the worker reported (the probe's facts travel there).

    In ``worker`` (a job's process, kept alive between its steps), or else in a fresh worker of its own.
    ``telemetry`` samples NVML beside it (GPU stacks)."""
    if spec.phase == "probe":
        step = WorkerSpec(probe=True, timeout=timeout)
    else:
        step = WorkerSpec(benchmark_file=str(benchmark_file), cls=spec.cls, method=spec.method,
                          params=spec.params, timeout=timeout, telemetry=telemetry, inline=spec.inline,
                          quota=spec.quota)
    own = worker is None
    w = worker or Worker(python, env, log_dir / f"{spec.name}.log")
    try:
        rc, timed_out, result, seconds = w.run(step)
    finally:
        if own:
            w.close()
    status, note = phase_status(rc, timed_out, result)
    info = describe_exit(rc)
    if timed_out:
        note = f"{note} after {seconds:.1f} s (limit {timeout:g} s)"
    if w.gone_before:
        note = f"not run: its worker process had already ended after the previous step ({note})"
    r = result or WorkerResult(status="error")
    log_path = w.log_path
    return planned(spec, status, exit_code=rc, signal=info.signal, ntstatus=info.ntstatus, wall_seconds=seconds,
                   unit=r.unit, samples=list(r.samples or []), peak_rss_bytes=r.peak_rss_bytes,
                   setup_seconds=r.setup_seconds, log=str(log_path),
                   stderr_tail=_tail(log_path) if status != PhaseStatus.OK else "", note=note, extra=r.extra,
                   exception=r.exception, gpu_peak_memory_bytes=r.gpu_peak_memory_bytes, truncated=r.truncated,
                   warmup=r.warmup, telemetry=r.telemetry, processes=[w.name],
                   rounds=[spec.round[0]] * len(r.samples or []) if spec.round else None), result


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


def python_in(venv: Path | str, platform: str = sys.platform) -> str:
    """The interpreter of a venv: ``<venv>\\Scripts\\python.exe`` on Windows, ``<venv>/bin/python`` elsewhere.

    ``platform`` is ``sys.platform`` ("win32", "linux", "darwin") or ``os.name`` ("nt", "posix"); the one place
    that knows where a venv keeps its interpreter (the installer, the worker, the exporter, the doctor use it)."""
    if platform in ("win32", "nt"):
        return str(PureWindowsPath(venv, "Scripts", "python.exe"))
    return str(Path(venv, "bin", "python"))
