"""``python -m tfmatrix scale``: the reporting benchmarks of ``benchmarks/bench_reporting.py``.

Each method runs in a fresh worker process (``python -m tfmatrix.worker``), as
the detection benchmarks do; the manager owns the timeout and reads the
result file.  The figures are printed and returned as data.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import TfmatrixError
from ..run.execution.runner import run_worker
from ..worker.contract import WorkerSpec

BENCHMARKS = (("ReportScale", "time_report_10k_records"), ("ReportScale", "peakmem_report_10k_records"),
              ("CompareScale", "time_compare_10k_records"))


@dataclass(frozen=True)
class ScaleResult:
    benchmark: str
    unit: str
    samples: list[float]

    def line(self) -> str:
        med = statistics.median(self.samples)
        shown = f"{med:.2f} s" if self.unit == "seconds" else f"{med / 2**20:.0f} MiB"
        return f"{self.benchmark}: {shown} (median of {len(self.samples)}: {', '.join(f'{s:.3g}' for s in self.samples)})"


def run(project_root: Path, timeout: float = 900.0) -> list[ScaleResult]:
    bench_file = project_root / "benchmarks" / "bench_reporting.py"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(project_root / "src"), str(project_root / "benchmarks")])
    out = []
    with tempfile.TemporaryDirectory(prefix="tfmatrix-scale-") as tmp:
        for cls, method in BENCHMARKS:
            spec = WorkerSpec(benchmark_file=str(bench_file), cls=cls, method=method, timeout=timeout)
            code, timed_out, result, _ = run_worker(sys.executable, spec, Path(tmp) / f"{method}.log", env)
            if timed_out or result is None or result.status != "ok":
                log = (Path(tmp) / f"{method}.log").read_text(errors="replace")[-2000:]
                why = "timed out" if timed_out else f"exit {code}"
                raise TfmatrixError(f"{cls}.{method}: {why}; log tail: {' | '.join(log.splitlines()[-5:])}")
            out.append(ScaleResult(f"{cls}.{method}", result.unit or "", list(result.samples or [])))
    return out
