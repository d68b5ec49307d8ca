"""The worker: runs ONE benchmark of ``benchmarks/`` inside a combination's venv.

``python -m tfmatrix.worker --spec STEP.json --out RESULTS.jsonl`` runs one step;
``python -m tfmatrix.worker --serve --out RESULTS.jsonl`` runs the steps the
manager sends on stdin, one JSON line each, until stdin closes (a cold-start
chain, a warm worker).

Each step is a :class:`~tfmatrix.worker.contract.WorkerSpec`; each result is a
:class:`~tfmatrix.worker.contract.WorkerResult`, one JSON line appended to the
results file as the step ends, so whatever was measured before a crash is
there to read.  It reports through that file, never stdout (pyperf's
manager/worker split): the manager owns the timeouts, the log and the exit
status.  After a step that raised, the worker exits (status 3): the manager
decides what runs next, in a fresh process.  It imports only the standard
library here; the benchmark it runs imports TensorFlow and the Model Garden.
Benchmarks follow asv's conventions:

* ``timeraw_*`` returns code (or ``(code, setup)``); each sample is one fresh
  interpreter, timing the code after the setup ran; an ``inline`` step runs it
  once in this process instead (a chain's import is its first step);
* ``time_*`` is called ``warmup`` times, then until both ``min_queries`` calls
  and ``min_seconds`` have passed; each call is one sample (seconds);
* ``track_*`` returns a number (``unit`` attribute); ``peakmem_*`` records the
  peak resident memory of one call.

Peak memory (host, and GPU where TensorFlow sees one) is the step's own: the
high-water marks are reset as it starts (Linux ``/proc/self/clear_refs``,
TensorFlow's ``reset_memory_stats``), so a warm worker gives one per batch
size.  Where they cannot be reset the peak is the process's so far.

A benchmark may leave a JSON-able dict in ``self.tfmatrix_extra``: it is
recorded next to the samples (the detections digest travels this way).
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import functools
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from typing import Any, NoReturn

from .contract import WorkerResult, WorkerSpec

# Exit statuses of the worker itself (the manager maps them in ``outcomes``).
EXIT_OK = 0
EXIT_BENCHMARK_ERROR = 3
EXIT_BAD_SPEC = 4

_TIMERAW_CHILD = r"""
import json, os, sys, time
from tfmatrix.worker.main import die_with_parent
die_with_parent()  # a killed worker takes its timeraw child with it
out = sys.argv[1]
ns = {"__name__": "__tfmatrix_timeraw__"}
exec(compile(sys.argv[3], "<setup>", "exec"), ns)
t0 = time.perf_counter()
exec(compile(sys.argv[2], "<timed>", "exec"), ns)
t1 = time.perf_counter()
with open(out, "w") as f:
    json.dump({"seconds": t1 - t0}, f)
sys.stdout.flush(), sys.stderr.flush()
os._exit(0)  # its sample is written: no teardown of what the timed code loaded
"""


def peak_rss_bytes() -> int | None:
    hwm = _hwm_bytes()
    if hwm is not None:
        return hwm
    try:
        import resource
    except ImportError:  # Windows
        return _peak_rss_windows()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


def _peak_rss_windows() -> int | None:  # pragma: no cover - exercised on Windows only
    try:
        import ctypes
        from ctypes import wintypes

        class PMC(ctypes.Structure):
            _fields_ = [("cb", wintypes.DWORD), ("PageFaultCount", wintypes.DWORD),
                        ("PeakWorkingSetSize", ctypes.c_size_t), ("WorkingSetSize", ctypes.c_size_t),
                        ("QuotaPeakPagedPoolUsage", ctypes.c_size_t), ("QuotaPagedPoolUsage", ctypes.c_size_t),
                        ("QuotaPeakNonPagedPoolUsage", ctypes.c_size_t), ("QuotaNonPagedPoolUsage", ctypes.c_size_t),
                        ("PagefileUsage", ctypes.c_size_t), ("PeakPagefileUsage", ctypes.c_size_t)]
        pmc = PMC()
        pmc.cb = ctypes.sizeof(PMC)
        windll = getattr(ctypes, "windll")  # noqa: B009 - Windows only: not in the type stubs elsewhere
        handle = windll.kernel32.GetCurrentProcess()
        if windll.psapi.GetProcessMemoryInfo(handle, ctypes.byref(pmc), pmc.cb):
            return int(pmc.PeakWorkingSetSize)
    except Exception:
        return None
    return None


def reset_peaks() -> None:
    """Start the step's own high-water marks: the host's (Linux) and TensorFlow's per GPU; best effort."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
    except OSError:
        pass
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return
    try:
        for d in tf.config.list_logical_devices("GPU"):
            tf.config.experimental.reset_memory_stats(d.name)
    except Exception:  # noqa: BLE001 - older TensorFlow: the peak stays the process's
        pass


def _hwm_bytes() -> int | None:
    """Linux: VmHWM, the peak since the last reset."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def gpu_peak_memory() -> dict[str, int] | None:
    """Peak GPU memory per visible GPU, if TensorFlow was imported and sees one."""
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return None
    try:
        gpus = tf.config.list_logical_devices("GPU")
        return {d.name: int(tf.config.experimental.get_memory_info(d.name)["peak"]) for d in gpus} or None
    except Exception:
        return None


def load_benchmark_class(path: str, class_name: str) -> type:
    spec = importlib.util.spec_from_file_location(
        "tfmatrix_benchmarks_" + os.path.splitext(os.path.basename(path))[0], path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import benchmark file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    spec.loader.exec_module(module)
    return getattr(module, class_name)


def _attr(obj: Any, method: Any, name: str, default: Any) -> Any:
    return getattr(method, name, getattr(obj, name, default))


def run_timeraw(code_and_setup: Any, repeat: int, timeout: float) -> list[float]:
    if isinstance(code_and_setup, tuple):
        code, setup = code_and_setup
    else:
        code, setup = code_and_setup, ""
    samples = []
    with tempfile.TemporaryDirectory(prefix="tfmatrix-timeraw-") as tmp:
        for i in range(repeat):
            out = os.path.join(tmp, f"{i}.json")
            proc = subprocess.run(
                [sys.executable, "-X", "faulthandler", "-c", _TIMERAW_CHILD, out, code, setup],
                stdin=subprocess.DEVNULL, timeout=timeout, check=False,
            )
            if proc.returncode != 0 or not os.path.exists(out):
                raise RuntimeError(f"timeraw child {i} ended with exit status {proc.returncode} without a result")
            with open(out, encoding="utf-8") as f:
                samples.append(float(json.load(f)["seconds"]))
    return samples


def run_inline(code_and_setup: Any) -> list[float]:
    """A ``timeraw_*`` step in this process: its setup untimed, then its code timed once (one sample)."""
    code, setup = code_and_setup if isinstance(code_and_setup, tuple) else (code_and_setup, "")
    ns: dict[str, Any] = {"__name__": "__tfmatrix_timeraw__"}
    exec(compile(setup, "<setup>", "exec"), ns)
    t0 = time.perf_counter()
    exec(compile(code, "<timed>", "exec"), ns)
    return [time.perf_counter() - t0]


@functools.lru_cache(maxsize=None)
def benchmark_class(path: str, class_name: str) -> type:
    """The suite class, its file imported once per process (code, like any import: no measurement state)."""
    return load_benchmark_class(path, class_name)


def run_benchmark(spec: WorkerSpec) -> WorkerResult:
    cls = benchmark_class(spec.benchmark_file, spec.cls)
    params = list(spec.params)
    obj = cls()
    method = getattr(obj, spec.method)
    result = WorkerResult(kind=spec.method.split("_", 1)[0])

    t0 = time.perf_counter()
    if hasattr(obj, "setup"):
        obj.setup(*params)
    result.setup_seconds = time.perf_counter() - t0
    if spec.telemetry:  # GPU stacks only: NVML sampled beside the measurement
        from .telemetry import Sampler

        with Sampler(spec.telemetry.gpus, spec.telemetry.period) as sampler:
            _measure(obj, method, params, spec, result)
        result.telemetry = sampler.result()
    else:
        _measure(obj, method, params, spec, result)
    result.extra = getattr(obj, "tfmatrix_extra", None) or None
    if hasattr(obj, "teardown"):
        obj.teardown(*params)
    return result


def _measure(obj: Any, method: Any, params: list[Any], spec: WorkerSpec, result: WorkerResult) -> None:
    """The timed part, by asv's method prefix; samples and unit go into ``result``."""
    name = spec.method
    if name.startswith("timeraw_") and spec.inline:
        result.samples, result.unit = run_inline(method(*params)), "seconds"
    elif name.startswith("timeraw_"):
        repeat = int(_attr(obj, method, "repeat", 3))
        result.samples = run_timeraw(method(*params), repeat, spec.timeout / max(repeat, 1))
        result.unit = "seconds"
    elif name.startswith("time_"):
        warmup = int(_attr(obj, method, "warmup", 0))
        min_q = int(_attr(obj, method, "min_queries", 10))
        min_s = float(_attr(obj, method, "min_seconds", 1.0))
        budget = spec.budget_seconds if spec.budget_seconds is not None else max(4 * min_s, 60.0)
        if spec.quota is not None:  # one of several interleaved rounds: what the manager decided it takes
            q = spec.quota
            warmup, min_q, min_s, budget = q.warmup, q.min_queries, q.min_seconds, q.budget_seconds
        for _ in range(warmup):
            method(*params)
        samples: list[float] = []
        start = time.perf_counter()
        while True:
            a = time.perf_counter()
            method(*params)
            samples.append(time.perf_counter() - a)
            elapsed = time.perf_counter() - start
            if len(samples) >= min_q and elapsed >= min_s:
                break
            if elapsed >= budget and len(samples) >= 3:
                result.truncated = f"stopped after {len(samples)} queries: budget of {budget:g} s reached"
                break
        result.samples, result.unit, result.warmup = samples, "seconds", warmup
    elif name.startswith("track_"):
        result.samples = [float(method(*params))]
        result.unit = str(_attr(obj, method, "unit", "unit"))
    elif name.startswith("peakmem_"):
        method(*params)
        result.samples = [float(peak_rss_bytes() or 0)]
        result.unit = "bytes"
    else:
        raise ValueError(f"{name}: not an asv benchmark name (timeraw_/time_/track_/peakmem_)")


def die_with_parent() -> bool:
    """Linux: be killed when the manager dies, even by SIGKILL, instead of running on as an orphan.

    The worker runs in its own session (so Ctrl-C reaches only the manager,
    which stops it); this covers the manager's death, which nothing can catch.
    Elsewhere the manager's own cleanup is all there is.
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import signal

    try:
        pr_set_pdeathsig = 1
        return ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):  # no prctl (a sandbox): best effort only
        return False


def run_step(spec: WorkerSpec) -> tuple[WorkerResult, int]:
    """One step: its result (whatever it raised becomes data) and the worker's exit status so far."""
    t0 = time.perf_counter()
    reset_peaks()
    try:
        if spec.probe:
            from . import probe

            result = WorkerResult(kind="probe", probe=probe.collect_all())
        else:
            result = run_benchmark(spec)
        code = EXIT_OK
    except BaseException as exc:  # noqa: BLE001 - everything becomes data
        if isinstance(exc, KeyboardInterrupt):
            raise
        traceback.print_exc()
        result = WorkerResult(status="error", exception={
            "type": type(exc).__name__, "message": str(exc), "traceback": traceback.format_exc()[-8000:]})
        code = EXIT_BENCHMARK_ERROR
    result.wall_seconds = time.perf_counter() - t0
    result.peak_rss_bytes = peak_rss_bytes()
    result.gpu_peak_memory_bytes = gpu_peak_memory()
    return result, code


def report(out: str, result: WorkerResult) -> None:
    """Append one result line, flushed before the next step starts (a crash later keeps it)."""
    with open(out, "a", encoding="utf-8") as f:
        f.write(json.dumps(result.to_json()) + "\n")
        f.flush()
        os.fsync(f.fileno())


def serve(out: str) -> int:
    """Run the steps sent on stdin, one JSON line each, until stdin closes or a step fails."""
    while True:
        line = sys.stdin.readline()
        if not line:
            return EXIT_OK
        if not line.strip():
            continue
        try:
            spec = WorkerSpec.from_json(json.loads(line))
        except (ValueError, KeyError, TypeError) as exc:
            print(f"tfmatrix.worker: cannot read step {line[:200]!r}: {exc}", file=sys.stderr)
            return EXIT_BAD_SPEC
        print(f"tfmatrix.worker: step {spec.cls}.{spec.method}{list(spec.params)}" if not spec.probe
              else "tfmatrix.worker: step probe", flush=True)
        result, code = run_step(spec)
        report(out, result)
        if code != EXIT_OK:
            return code


def main(argv: list[str] | None = None) -> int:
    faulthandler.enable()  # a native crash leaves its Python stack in the log
    die_with_parent()
    parser = argparse.ArgumentParser(prog="python -m tfmatrix.worker")
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument("--spec", help="run the one step in this JSON file")
    how.add_argument("--serve", action="store_true", help="run the steps sent on stdin, one JSON line each")
    parser.add_argument("--out", required=True, help="results file: one JSON line per step, appended")
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.out)
    try:
        with open(args.spec, encoding="utf-8") as f:
            spec = WorkerSpec.from_json(json.load(f))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"tfmatrix.worker: cannot read spec {args.spec}: {exc}", file=sys.stderr)
        return EXIT_BAD_SPEC
    result, code = run_step(spec)
    report(args.out, result)
    return code


def exit_now(code: int) -> NoReturn:
    """End the worker without the interpreter's teardown.

    Every result is already in the results file (flushed and fsynced as its step ended), and tearing down a
    process that holds TensorFlow and a loaded model takes seconds: the next cold start would wait for it."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
