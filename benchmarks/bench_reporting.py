"""Scale of the reporting side, in asv's conventions: 10,000 combination records by default, fixed seed.

* ``ReportScale(records, runs)``: a results folder of ``runs`` runs (100) of records/runs
  combinations each; one report (the newest run's page with its plots, the index of every
  run, change points over the whole history), in three cases: ``time_report`` cold (no history
  cache: every record is read, migrated and schema-checked, every series fitted),
  ``time_report_warm`` (the cache is up to date) and ``time_report_new_run`` (one new run, a copy
  of the newest under a new id, added to a warm history: its records are read and each series it
  touches is fitted again);
* ``CompareScale(records)``: ``time_compare``, two runs of records/2 combinations each, compared metric by
  metric (no history cache: the two runs are its only history); ``time_compare_new_run``, one new run (a copy
  of the newest under a new id) compared to the newest of a warm history of 1.5 x records over up to 365 runs
  (15,000 records at the default: a year of nightly runs), the run-to-run noise from the history cache.

Run with ``nox -s scale`` (each method in a fresh worker process; ``-- --records N --runs R``
for another size, the defaults are ``tfmatrix.history.scale``'s).  The records
are synthetic but made the way tfmatrix makes real ones (the default matrix's
combinations under numbered ids, typed records and phases as bench builds them, 36 latency
samples, ~120 resolved pins, a crash in one combination of ten); they pass the
JSON Schema (a test checks it), and are generated once per seed into the temp folder.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from pathlib import Path

from tfmatrix.history.scale import RECORDS, RUNS

SEED = 20261129
ROOT = Path(__file__).resolve().parents[1]
MEDIANS = {"import": 3.0, "export": 20.0, "load": 5.0, "first-inference": 0.8, "latency": 0.14, "throughput": 0.45}
SAMPLES = {"import": 3, "load": 3, "latency": 36, "throughput": 8}
#: the benchmark of bench_detection.py each phase names (runner.phases_of), so publish finds it in benchmarks/
BENCHMARK = {"import": ("ImportSuite", "timeraw_import_tensorflow"), "export": ("ExportSuite", "track_export_seconds"),
             "load": ("LoadSuite", "timeraw_load_saved_model"),
             "first-inference": ("InferenceSuite", "track_first_inference_seconds"),
             "latency": ("InferenceSuite", "time_inference"), "throughput": ("InferenceSuite", "time_inference"),
             "peakmem": ("InferenceSuite", "peakmem_inference")}


def _phase(phase: str, model: str, samples: list[float], unit: str = "seconds", status: str = "ok",
           **extra: object):
    """A phase record as bench builds it (``runner.planned``), so it has every field."""
    from tfmatrix.records.status import PhaseStatus
    from tfmatrix.run.execution import runner

    batch = {"first-inference": 1, "latency": 1, "throughput": 4, "peakmem": 4}.get(phase)
    cls, method = BENCHMARK[phase]
    spec = runner.PhaseSpec(phase, "inference", cls, method, (), None if phase == "import" else model, batch)
    return runner.planned(spec, PhaseStatus(status), exit_code=0, wall_seconds=sum(samples) + 1.0,
                          samples=samples, unit=unit if samples else None,
                          peak_rss_bytes=(1 << 30) if samples else None, **extra)


def synthetic_record(rng: random.Random, run_id: str, i: int, templates: list) -> dict:
    """Combination ``i`` of a synthetic run: a real combination of matrix.yaml under a numbered id."""
    import dataclasses

    from tfmatrix.records.model import CombinationInfo, CombinationRecord, Failure, Prediction
    from tfmatrix.records.status import Outcome, Status

    base = templates[i % len(templates)]
    combo = dataclasses.replace(CombinationInfo.of(base), id=f"{base.id}-{i:05d}")
    model = combo.models[0]
    failed = rng.random() < 0.1
    phases = [_phase(name, model, [rng.lognormvariate(0, 0.05) * median for _ in range(SAMPLES.get(name, 1))])
              for name, median in MEDIANS.items()]
    phases.append(_phase("peakmem", model, [float(rng.randint(900, 1300) << 20)], unit="bytes"))
    if failed:
        phases = phases[:2] + [_phase("load", model, [], status="crashed", signal="SIGSEGV",
                                      stderr_tail="Fatal Python error: Segmentation fault\n" * 20)]
    status = Status.FAILED if failed else Status.OK
    return CombinationRecord(
        run_id=run_id, combination=combo, started_at="2026-01-01T00:00:00+00:00",
        ended_at="2026-01-01T00:05:00+00:00", status=status, outcome=Outcome(status.value),
        reason="segfault: Fatal Python error" if failed else "",
        failure=Failure("segfault", "Fatal Python error", "x" * 200, "y" * 200) if failed else None,
        preflight=Prediction("ok"),
        resolved_pins=[f"package-{k}=={rng.randint(0, 9)}.{rng.randint(0, 30)}" for k in range(120)],
        environment={"tensorflow": {"version": combo.tensorflow}, "cpu": {"model": "synthetic"}},
        phases=phases).to_json()


def synthetic_tree(runs: int, per_run: int, seed: int = SEED) -> Path:
    """``runs`` run folders of ``per_run`` schema-valid records each, written once per (runs, per_run, seed)."""
    from tfmatrix import RECORD_SCHEMA_VERSION
    from tfmatrix.matrix.expand import combinations
    from tfmatrix.matrix.load import load_matrix
    from tfmatrix.records.model import RunRecord

    root = Path(tempfile.gettempdir()) / f"tfmatrix-scale-v{RECORD_SCHEMA_VERSION}-{seed}-{runs}x{per_run}"
    done = root / ".complete"
    if done.exists():
        return root
    templates = combinations(load_matrix(ROOT / "matrix.yaml"), "all")
    rng = random.Random(seed)
    host = {"platform": {"system": "Linux", "node": "synthetic"}, "cpu": {"model": "synthetic", "logical_cores": 2},
            "memory": {"total_bytes": 1 << 34}, "python": {"version": "3.11"}, "gpus": [], "tools": {}}
    for r in range(runs):
        run_id = f"2026{1 + r // 28:02d}{1 + r % 28:02d}T000000Z-{r:06x}"
        folder = root / run_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "run.json").write_text(json.dumps(RunRecord(
            run_id=run_id, started_at="2026-01-01T00:00:00+00:00", host=host,
            matrix={"path": "matrix.yaml", "sha256": "0" * 64}, profile="synthetic",
            suite={"commit": f"{r:040x}", "dirty": False},
            options={"models": [], "quick": False, "assume_gpu": False}).to_json()))
        for i in range(per_run):
            rec = synthetic_record(rng, run_id, i, templates)
            (folder / f"{rec['combination']['id']}.json").write_text(json.dumps(rec))
    done.write_text("")
    return root


def publishable_tree(runs: int, per_run: int, seed: int = SEED) -> Path:
    """A suite folder asv can publish from: ``results/``, the records of :func:`synthetic_tree` (hard links) under
    run records whose suite commits are real, one per run, on the first-parent history of its git repo (empty
    commits one day apart, fixed dates and author: the same ids each time), and a copy of ``benchmarks/``."""
    import os
    import subprocess

    from tfmatrix import RECORD_SCHEMA_VERSION

    records = synthetic_tree(runs, per_run, seed)
    root = Path(tempfile.gettempdir()) / f"tfmatrix-publish-v{RECORD_SCHEMA_VERSION}-{seed}-{runs}x{per_run}"
    done = root / ".complete"
    if done.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    (root / "results").mkdir(parents=True)
    shutil.copytree(ROOT / "benchmarks", root / "benchmarks", ignore=shutil.ignore_patterns("__pycache__"))
    start = 1767225600  # 2026-01-01T00:00:00Z
    stream = "".join(f"commit refs/heads/main\nmark :{r + 1}\ncommitter scale <scale@tfmatrix.invalid> "
                     f"{start + r * 86400} +0000\ndata {len(f'run {r}')}\nrun {r}\n\n" for r in range(runs))
    git = ["git", "-C", str(root)]
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run([*git, "init", "-q"], check=True, env=env)
    subprocess.run([*git, "fast-import", "--quiet", f"--export-marks={root / '.git' / 'marks'}"], input=stream,
                   text=True, check=True, env=env)
    subprocess.run([*git, "symbolic-ref", "HEAD", "refs/heads/main"], check=True, env=env)
    marks = dict(line.split() for line in (root / ".git" / "marks").read_text().splitlines())
    for r, folder in enumerate(sorted(p for p in records.iterdir() if p.is_dir() and not p.name.startswith("2099"))):
        into = root / "results" / folder.name
        into.mkdir()
        for f in folder.glob("*.json"):
            if f.name == "run.json":
                doc = json.loads(f.read_text())
                doc["suite"] = {"commit": marks[f":{r + 1}"], "dirty": False}
                (into / f.name).write_text(json.dumps(doc))
            else:
                os.link(f, into / f.name)
    done.write_text("")
    return root


class Sized:
    """asv's parameters of a case over ``records`` records in ``runs`` runs, and how each is sampled."""

    params = ([RECORDS], [RUNS])
    param_names = ["records", "runs"]
    min_queries = 3
    min_seconds = 0.0
    timeout = 900


class ReportScale(Sized):
    """The report over ``records`` records: ``runs`` runs of records/runs combinations each (100 x 100)."""

    def setup(self, records: int, runs: int) -> None:
        self.results = synthetic_tree(runs, max(1, records // runs))
        self.reports = Path(tempfile.mkdtemp(prefix="tfmatrix-scale-reports-"))

    def teardown(self, records: int, runs: int) -> None:
        shutil.rmtree(self.reports, ignore_errors=True)

    def _report(self) -> None:
        from tfmatrix.report import plots, render

        render.build_report(self.results, self.reports, plots=plots.draw_all, change_points=_change_points())

    def _forget(self) -> None:
        from tfmatrix.records.runcache import NAME

        (self.results / NAME).unlink(missing_ok=True)

    def time_report(self, records: int, runs: int) -> None:
        self._forget()
        self._report()

    def peakmem_report(self, records: int, runs: int) -> None:
        self.time_report(records, runs)

    def time_report_warm(self, records: int, runs: int) -> None:
        self._report()

    time_report_warm.warmup = 1  # one untimed call fills the cache

    def time_report_new_run(self, records: int, runs: int) -> None:
        newest = sorted(p for p in self.results.iterdir() if p.is_dir() and not p.name.startswith("2099"))[-1]
        self.added = getattr(self, "added", 0) + 1  # a new id each call: each is a run the cache has not seen
        new = self.results / f"20991231T235959Z-{self.added:06x}"  # later than every run: the one rendered
        try:
            shutil.copytree(newest, new)
            self._report()
        finally:
            shutil.rmtree(new, ignore_errors=True)

    time_report_new_run.warmup = 1  # one untimed call warms the history


class CompareScale:
    """compare of two runs of records/2 combinations each (5,000 each)."""

    params = ([RECORDS],)
    param_names = ["records"]
    min_queries = 3
    min_seconds = 0.0
    timeout = 900

    def setup(self, records: int) -> None:
        self.results = synthetic_tree(2, max(1, records // 2))

    def time_compare(self, records: int) -> None:
        from tfmatrix.history import compare

        runs = sorted(p for p in self.results.iterdir() if p.is_dir())
        compare.compare_folders(runs[0], runs[1])

    def time_compare_new_run(self, records: int) -> None:
        from tfmatrix.history import compare

        history = synthetic_tree(*history_shape(records))  # written once (by the untimed warmup call)
        newest = sorted(p for p in history.iterdir() if p.is_dir() and not p.name.startswith("2099"))[-1]
        self.added = getattr(self, "added", 0) + 1  # a new id each call: a run the cache has not seen
        new = history / f"20991231T235959Z-{self.added:06x}"
        try:
            shutil.copytree(newest, new)
            compare.compare_folders(newest, new)
        finally:
            shutil.rmtree(new, ignore_errors=True)

    time_compare_new_run.warmup = 1  # one untimed call writes the history and fills its cache


HISTORY_RUNS = 365  # a year of nightly runs


def history_shape(records: int) -> tuple[int, int]:
    """(runs, records per run) of the history of ``time_compare_new_run``: 1.5 x ``records`` over up to 365 runs."""
    total = max(2, records * 3 // 2)
    runs = min(HISTORY_RUNS, total)
    return runs, max(1, total // runs)


class PublishScale(Sized):
    """asv's publish step beside tfmatrix's report with the index, over the same records (``runs`` runs of
    records/runs): ``time_publish`` runs ``python -m tfmatrix publish`` (the records in asv's results format, then
    the real ``asv publish``; what ``nox -s publish`` runs), ``time_report`` runs ``python -m tfmatrix report`` cold
    (no history cache: the newest run's page, its plots, the index of every run, change points).  Each sample is one
    fresh process of the command, in the suite folder of :func:`publishable_tree`; ``nox -s scale`` prints
    report/publish."""

    def setup(self, records: int, runs: int) -> None:
        self.suite = publishable_tree(runs, max(1, records // runs))
        self.out = Path(tempfile.mkdtemp(prefix="tfmatrix-scale-publish-"))

    def teardown(self, records: int, runs: int) -> None:
        shutil.rmtree(self.out, ignore_errors=True)

    def _tfmatrix(self, *args: str) -> None:
        import os
        import subprocess
        import sys

        from tfmatrix.records.store import REPORTS_ENV, RESULTS_ENV

        env = {**os.environ, RESULTS_ENV: str(self.suite / "results"), REPORTS_ENV: str(self.out / "reports")}
        proc = subprocess.run([sys.executable, "-m", "tfmatrix", *args], cwd=self.suite, env=env,
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"python -m tfmatrix {' '.join(args)}: exit {proc.returncode}: {proc.stderr[-2000:]}")

    def time_publish(self, records: int, runs: int) -> None:
        self._tfmatrix("publish", "--asv-results", str(self.out / "asv-results"), "--html-dir", str(self.out / "asv"))

    def time_report(self, records: int, runs: int) -> None:
        from tfmatrix.records.runcache import NAME

        (self.suite / "results" / NAME).unlink(missing_ok=True)  # cold, as publish always is
        self._tfmatrix("report")


def _change_points():
    from tfmatrix.history.changepoints import for_summaries

    return for_summaries

