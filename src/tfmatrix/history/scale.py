"""``python -m tfmatrix scale``: the reporting benchmarks of ``benchmarks/bench_reporting.py``, as tfmatrix records.

Each method runs in a fresh worker process (:class:`tfmatrix.run.execution.runner.Worker`,
``python -m tfmatrix.worker``), as the detection benchmarks do; the manager owns
the timeout and reads the result.  ``records`` synthetic records (10,000) are
spread over ``runs`` runs (100) for the report, and over two runs for compare;
a smaller count makes a smoke run (``nox -s scale -- --records 300``).  The figures
(the report cold, its peak memory, compare, the report with a warm history cache and with one new run
added to a warm history, and asv's publish step beside the report with the index) are printed and written
as a run of tfmatrix records (:func:`write_run`): one combination per benchmark class
(``scale-report-10000x100``: an id that stays the same across runs of the same size), one ``reporting``
phase per case with its raw samples and unit, so ``python -m tfmatrix compare A B`` judges each case
(``reporting[time_report]``, :mod:`tfmatrix.records.metrics`) as it judges a detector's load time.
``--json PATH`` also writes the raw samples as one JSON file.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import platform
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..errors import TfmatrixError
from ..records.quantity import RATIO, Quantity
from ..run.execution.runner import Worker
from ..worker.contract import Quota, WorkerResult, WorkerSpec
from .verdicts import DEFAULT_ALPHA, samples_needed

RECORDS = 10_000  # synthetic records, by default
RUNS = 100  # the runs the report's records are spread over, by default
#: samples of each case, by default: as many as compare needs to reach a verdict at its default alpha (5 at 0.01;
#: fewer make every change beyond the threshold "undecidable")
SAMPLES = samples_needed(DEFAULT_ALPHA)
#: (class, method, whether it takes the runs): the report's time (cold: no history cache) and peak memory,
#: compare's time, then the report with a warm cache and with one new run added to a warm history
BENCHMARKS: tuple[tuple[str, str, bool], ...] = (
    ("ReportScale", "time_report", True), ("ReportScale", "peakmem_report", True),
    ("CompareScale", "time_compare", False), ("ReportScale", "time_report_warm", True),
    ("ReportScale", "time_report_new_run", True), ("CompareScale", "time_compare_new_run", False),
    # then asv's publish step (``python -m tfmatrix publish``) and the report with the index, over the same records
    ("PublishScale", "time_publish", True), ("PublishScale", "time_report", True))
#: the cases whose medians ``nox -s scale`` prints as a ratio: (numerator, denominator, what it says)
RATIOS = (("PublishScale.time_report", "PublishScale.time_publish",
           "report with the index / asv publish, same records, each a fresh `python -m tfmatrix` process"),)


@dataclass(frozen=True)
class ScaleResult:
    benchmark: str  # "ReportScale.time_report"
    shape: str  # "10000 records: 100 runs x 100"
    unit: str
    samples: list[float]
    combination: str = ""  # its record's combination id: "scale-report-10000x100"
    wall_seconds: float = 0.0  # the worker's wall time, setup included
    peak_rss_bytes: int | None = None  # the worker's

    def line(self) -> str:
        med = statistics.median(self.samples)
        each = ", ".join(Quantity(s, self.unit).compact for s in self.samples)
        return f"{self.benchmark} over {self.shape}: {Quantity(med, self.unit)} (median of {len(self.samples)}: {each})"


def ratios(results: list[ScaleResult]) -> list[str]:
    """One line per ratio of :data:`RATIOS` whose two cases ran: the ratio of their medians, and both figures."""
    by_name = {r.benchmark: r for r in results if r.samples}
    lines = []
    for top, bottom, what in RATIOS:
        if top in by_name and bottom in by_name:
            a, b = statistics.median(by_name[top].samples), statistics.median(by_name[bottom].samples)
            lines.append(f"{top} / {bottom}: {Quantity(a / b, RATIO)} ({Quantity(a, by_name[top].unit)} / "
                         f"{Quantity(b, by_name[bottom].unit)}, medians; {what})")
    return lines


def combination_id(cls: str, records: int, runs: int | None) -> str:
    """``scale-report-10000x100``: the class without "Scale", the size asked for (the same in every run of it)."""
    name = cls[:-len("Scale")] if cls.endswith("Scale") else cls
    return f"scale-{name.lower()}-{records}" + (f"x{runs}" if runs is not None else "")


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


def quota(bench_file: Path, cls: str, method: str, samples: int, timeout: float) -> Quota | None:
    """A ``time_*`` case's calls: ``samples`` timed ones after the method's own untimed ``warmup``, and at least
    its ``min_seconds`` (both read from the suite, as the worker reads them), within most of the timeout; None
    for the other kinds."""
    if not method.startswith("time_"):
        return None
    from ..worker.main import benchmark_class

    suite = benchmark_class(str(bench_file), cls)
    fn = getattr(suite, method)
    warmup = int(getattr(fn, "warmup", getattr(suite, "warmup", 0)))
    least = float(getattr(fn, "min_seconds", getattr(suite, "min_seconds", 1.0)))  # the worker's default
    return Quota(min_queries=samples, min_seconds=least, warmup=warmup, budget_seconds=0.9 * timeout)


def selected(cases: Sequence[str]) -> list[tuple[str, str, bool]]:
    """The benchmarks whose ``Class.method`` matches one of ``cases`` (shell patterns: ``ReportScale.*``,
    ``*.time_report``), in :data:`BENCHMARKS`' order; all of them where none is given.  A pattern that matches
    nothing is a one-line error naming the cases."""
    if not cases:
        return list(BENCHMARKS)
    names = [f"{cls}.{method}" for cls, method, _ in BENCHMARKS]
    for pattern in cases:
        if not any(fnmatch.fnmatchcase(name, pattern) for name in names):
            raise TfmatrixError(f"scale --case: got {pattern!r}; expected one of {', '.join(names)} (or a shell "
                                "pattern matching some: 'ReportScale.*', '*.time_report')")
    return [b for b, name in zip(BENCHMARKS, names) if any(fnmatch.fnmatchcase(name, p) for p in cases)]


def run(project_root: Path, records: int = RECORDS, runs: int = RUNS, timeout: float = 900.0,
        samples: int = SAMPLES, cases: Sequence[str] = ()) -> list[ScaleResult]:
    """Each benchmark (those :func:`selected` by ``cases``) in a fresh worker process, over ``records`` records
    (``runs`` runs for the report): ``samples`` timed calls of a ``time_*`` case; a ``peakmem_*`` case (one figure
    a process) in ``samples`` fresh workers."""
    chosen = selected(cases)
    bench_file = project_root / "benchmarks" / "bench_reporting.py"
    if not bench_file.is_file():
        raise TfmatrixError(f"scale: {bench_file} not found; --root names the project folder (holds benchmarks/)")
    if samples < 1:
        raise TfmatrixError(f"scale: got --samples {samples}; expected 1 or more ({SAMPLES} let compare reach a "
                            "verdict)")
    report_runs, per_run = shape(records, runs)
    _, per_compared = shape(records, 2)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(project_root / "src"), str(project_root / "benchmarks")])
    out = []
    with tempfile.TemporaryDirectory(prefix="tfmatrix-scale-") as tmp:
        for cls, method, by_runs in chosen:
            params = (records, runs) if by_runs else (records,)
            spec = WorkerSpec(benchmark_file=str(bench_file), cls=cls, method=method, params=params, timeout=timeout,
                              quota=quota(bench_file, cls, method, samples, timeout))
            results = [_in_worker(spec, env, Path(tmp) / f"{cls}.{method}.{i}.log")
                       for i in range(samples if method.startswith("peakmem_") else 1)]
            what = (f"{report_runs * per_run} records: {report_runs} runs x {per_run}" if by_runs else
                    f"one new run on a history of {records * 3 // 2} records (up to 365 runs)"
                    if method.endswith("_new_run") else f"{2 * per_compared} records: 2 runs x {per_compared}")
            peaks = [r.peak_rss_bytes for r in results if r.peak_rss_bytes is not None]
            out.append(ScaleResult(f"{cls}.{method}", what, results[0].unit or "",
                                   [float(x) for r in results for x in r.samples or []],
                                   combination_id(cls, records, runs if by_runs else None),
                                   sum(r.wall_seconds for r in results), max(peaks) if peaks else None))
    return out


def _in_worker(spec: WorkerSpec, env: dict[str, str], log: Path) -> WorkerResult:
    """One step in a fresh worker process; a one-line error with its log's tail where it did not end ok."""
    worker = Worker(sys.executable, env, log)
    try:
        code, timed_out, result, _ = worker.run(spec)
    finally:
        worker.close()
    if timed_out or result is None or result.status != "ok":
        tail = log.read_text(errors="replace").splitlines()[-5:] if log.exists() else []
        why = "timed out" if timed_out else f"exit {code}"
        raise TfmatrixError(f"scale: {spec.cls}.{spec.method}: {why}; log tail: {' | '.join(tail)}")
    return result


def write_run(results: list[ScaleResult], results_root: Path, project_root: Path, *, records: int, runs: int,
              started_at: str, run_id: str | None = None) -> Path:
    """A new run folder under ``results_root`` (``results/<run id>/``): its run record (host, the suite's commit,
    profile ``scale``) and one combination record per benchmark class, a ``reporting`` phase per case."""
    from .. import __version__
    from ..records.metrics import REPORTING
    from ..records.model import CombinationInfo, CombinationRecord, RunRecord
    from ..records.phase import PhaseRecord
    from ..records.status import PhaseStatus, Status
    from ..records.store import RunDir, new_run_id
    from ..run.execution.host import collect_git, host_fingerprint

    bench_file = project_root / "benchmarks" / "bench_reporting.py"
    run = RunDir(results_root, run_id or new_run_id())
    host = host_fingerprint()
    run.ensure(lambda: RunRecord(
        run_id=run.run_id, started_at=started_at, host=host,
        matrix={"path": "benchmarks/bench_reporting.py", "sha256": hashlib.sha256(bench_file.read_bytes()).hexdigest()},
        profile="scale", suite=collect_git(project_root),
        options={"models": [], "quick": False, "assume_gpu": False, "scale": {"records": records, "runs": runs}}))
    python = ".".join(platform.python_version_tuple()[:2])
    by_class: dict[str, list[ScaleResult]] = {}
    for r in results:
        by_class.setdefault(r.combination or combination_id(r.benchmark.split(".")[0], records, runs), []).append(r)
    for cid, cases in by_class.items():
        phases = [PhaseRecord(phase=REPORTING, name=r.benchmark.split(".", 1)[1], benchmark=r.benchmark, model=None,
                              batch=None, status=PhaseStatus.OK if r.samples else PhaseStatus.NO_RESULT, exit_code=0,
                              wall_seconds=r.wall_seconds, unit=r.unit or None, samples=list(r.samples),
                              peak_rss_bytes=r.peak_rss_bytes, note=r.shape) for r in cases]
        info = CombinationInfo(id=cid, tensorflow="n/a", tensorflow_id="scale", models_official=None, stack="host",
                               stack_kind="cpu", python=python, tags=("scale",))
        record = CombinationRecord(run_id=run.run_id, combination=info, started_at=started_at, host=host,
                                   environment={"tfmatrix": {"version": __version__}, "python": {"version": python}},
                                   phases=phases)
        run.write_record(record.end(Status.OK))
    run.finish()
    return run.path
