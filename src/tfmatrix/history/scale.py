"""``python -m tfmatrix scale``: the reporting benchmarks of ``benchmarks/bench_reporting.py``.

Each method runs in a fresh worker process (:class:`tfmatrix.run.execution.runner.Worker`,
``python -m tfmatrix.worker``), as the detection benchmarks do; the manager owns
the timeout and reads the result.  ``records`` synthetic records (10,000) are
spread over ``runs`` runs (100) for the report, and over two runs for compare;
a smaller count makes a smoke run (``nox -s scale -- --records 300``).  The figures
(the report cold, its peak memory, compare, the report with a warm history cache and with one new run
added to a warm history) are printed and returned as data; ``--json PATH`` also writes their raw samples.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import TfmatrixError
from ..records.quantity import Quantity
from ..run.execution.runner import Worker
from ..worker.contract import WorkerSpec

RECORDS = 10_000  # synthetic records, by default
RUNS = 100  # the runs the report's records are spread over, by default
#: (class, method, whether it takes the runs): the report's time (cold: no history cache) and peak memory,
#: compare's time, then the report with a warm cache and with one new run added to a warm history
BENCHMARKS = (("ReportScale", "time_report", True), ("ReportScale", "peakmem_report", True),
              ("CompareScale", "time_compare", False), ("ReportScale", "time_report_warm", True),
              ("ReportScale", "time_report_new_run", True),
              ("CompareScale", "time_compare_new_run", False))


@dataclass(frozen=True)
class ScaleResult:
    benchmark: str
    shape: str  # "10000 records: 100 runs x 100"
    unit: str
    samples: list[float]

    def line(self) -> str:
        med = statistics.median(self.samples)
        each = ", ".join(Quantity(s, self.unit).compact for s in self.samples)
        return f"{self.benchmark} over {self.shape}: {Quantity(med, self.unit)} (median of {len(self.samples)}: {each})"


def write_json(results: list[ScaleResult], path: Path) -> Path:
    """The raw samples of each benchmark, with when and where they were taken (the machine's cores)."""
    from ..records.model import now

    doc = {"taken_at": now(), "host": platform.node(), "cores": os.cpu_count(), "python": platform.python_version(),
           "results": [{"benchmark": r.benchmark, "shape": r.shape, "unit": r.unit, "samples": r.samples,
                        "median": statistics.median(r.samples) if r.samples else None} for r in results]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return path


def shape(records: int, runs: int) -> tuple[int, int]:
    """(runs, records per run) of a synthetic tree; a one-line error for counts that make none."""
    if runs < 1 or records < max(runs, 2):
        raise TfmatrixError(f"scale: got --records {records} --runs {runs}; expected --runs >= 1 and --records at "
                            "least --runs and at least 2 (compare reads two runs)")
    return runs, records // runs


def run(project_root: Path, records: int = RECORDS, runs: int = RUNS, timeout: float = 900.0) -> list[ScaleResult]:
    """Each benchmark in a fresh worker process, over ``records`` records (``runs`` runs for the report)."""
    bench_file = project_root / "benchmarks" / "bench_reporting.py"
    if not bench_file.is_file():
        raise TfmatrixError(f"scale: {bench_file} not found; --root names the project folder (holds benchmarks/)")
    report_runs, per_run = shape(records, runs)
    _, per_compared = shape(records, 2)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(project_root / "src"), str(project_root / "benchmarks")])
    out = []
    with tempfile.TemporaryDirectory(prefix="tfmatrix-scale-") as tmp:
        for cls, method, by_runs in BENCHMARKS:
            params = (records, runs) if by_runs else (records,)
            spec = WorkerSpec(benchmark_file=str(bench_file), cls=cls, method=method, params=params, timeout=timeout)
            log = Path(tmp) / f"{method}.log"
            worker = Worker(sys.executable, env, log)
            try:
                code, timed_out, result, _ = worker.run(spec)
            finally:
                worker.close()
            if timed_out or result is None or result.status != "ok":
                tail = log.read_text(errors="replace").splitlines()[-5:] if log.exists() else []
                why = "timed out" if timed_out else f"exit {code}"
                raise TfmatrixError(f"scale: {cls}.{method}: {why}; log tail: {' | '.join(tail)}")
            what = (f"{report_runs * per_run} records: {report_runs} runs x {per_run}" if by_runs else
                    f"{2 * per_compared} records: 2 runs x {per_compared}")
            out.append(ScaleResult(f"{cls}.{method}", what, result.unit or "", list(result.samples or [])))
    return out
