"""Scale of the reporting side, in asv's conventions: 10,000 combination records, fixed seed.

* ``ReportScale``: a results folder of 100 runs x 100 combinations; one report
  (the newest run's page with its plots, the index of every run, change points
  over the whole history, which reads all 10,000 records);
* ``CompareScale``: two runs of 5,000 combinations each, compared metric by metric.

Run with ``nox -s scale`` (each method in a fresh worker process).  The records
are synthetic but shaped like real ones (tfmatrix's phases, 36 latency samples,
~120 resolved pins, a failure in one combination of ten) and are generated once
per seed into the temp folder.
"""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path

SEED = 20261129
STACKS = ("cpu", "cuda-pip", "cuda-system")
MEDIANS = {"import": 3.0, "export": 20.0, "load": 5.0, "first-inference": 0.8, "latency": 0.14, "throughput": 0.45}


def synthetic_record(rng: random.Random, run_id: str, i: int) -> dict:
    tf_minor = 10 + i % 11
    stack = STACKS[(i // 11) % 3]
    cid = f"tf2.{tf_minor}-{stack}-{i:05d}"
    failed = rng.random() < 0.1
    phases = []
    for phase, median in MEDIANS.items():
        n = {"import": 3, "load": 3, "latency": 36, "throughput": 7}.get(phase, 1)
        batch = 1 if phase in ("latency", "first-inference") else 4 if phase == "throughput" else None
        phases.append({"phase": phase, "name": phase, "benchmark": f"Suite.time_{phase}", "model": None if phase == "import" else "m",
                       "batch": batch, "status": "ok", "unit": "seconds", "exit_code": 0, "signal": None,
                       "ntstatus": None, "note": "", "stderr_tail": "", "log": "", "wall_seconds": median * n,
                       "samples": [rng.lognormvariate(0, 0.05) * median for _ in range(n)], "summary": None,
                       "peak_rss_bytes": 1 << 30})
    phases.append({"phase": "peakmem", "name": "peakmem", "model": "m", "batch": 4, "status": "ok", "unit": "bytes",
                   "samples": [float(rng.randint(900, 1300) << 20)], "stderr_tail": "", "log": "", "note": "",
                   "wall_seconds": 10.0})
    if failed:
        phases = phases[:2]
        phases[1].update(status="crashed", signal="SIGSEGV", samples=[],
                         stderr_tail="Fatal Python error: Segmentation fault\n" * 20)
    return {
        "schema_version": 1, "kind": "combination", "run_id": run_id, "status": "failed" if failed else "ok",
        "outcome": "failed" if failed else "ok", "reason": "segfault" if failed else "",
        "failure": {"class": "segfault", "evidence": "Fatal Python error", "explanation": "x" * 200,
                    "fix": "y" * 200} if failed else None,
        "combination": {"id": cid, "tensorflow": f"2.{tf_minor}.0", "tensorflow_id": f"tf2.{tf_minor}",
                        "stack": stack, "stack_kind": stack, "python": "3.11", "models": ["m"], "expect": None},
        "preflight": {"predicted": "ok", "reasons": []},
        "resolved_pins": [f"package-{k}=={rng.randint(0, 9)}.{rng.randint(0, 30)}" for k in range(120)],
        "environment": {"tensorflow": {"version": f"2.{tf_minor}.0"}, "cpu": {"model": "synthetic"}},
        "install": {"backend": "uv", "seconds": 2.0, "reused": True}, "phases": phases,
    }


def synthetic_tree(runs: int, per_run: int, seed: int = SEED) -> Path:
    """``runs`` run folders of ``per_run`` records each, written once per (runs, per_run, seed)."""
    root = Path(tempfile.gettempdir()) / f"tfmatrix-scale-{seed}-{runs}x{per_run}"
    done = root / ".complete"
    if done.exists():
        return root
    rng = random.Random(seed)
    for r in range(runs):
        run_id = f"2026{1 + r // 28:02d}{1 + r % 28:02d}T000000Z-{r:06x}"
        folder = root / run_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "run.json").write_text(json.dumps({
            "schema_version": 1, "kind": "run", "run_id": run_id, "started_at": "2026-01-01T00:00:00+00:00",
            "ended_at": None, "profile": "synthetic", "suite": {"commit": f"{r:040x}", "dirty": False}}))
        for i in range(per_run):
            rec = synthetic_record(rng, run_id, i)
            (folder / f"{rec['combination']['id']}.json").write_text(json.dumps(rec))
    done.write_text("")
    return root


class ReportScale:
    """The report over 10,000 records: 100 runs x 100 combinations."""

    min_queries = 3
    min_seconds = 0.0
    timeout = 900

    def setup(self):
        self.results = synthetic_tree(100, 100)
        self.reports = Path(tempfile.mkdtemp(prefix="tfmatrix-scale-reports-"))

    def time_report_10k_records(self):
        from tfmatrix.report import plots, render

        render.build_report(self.results, self.reports, plots=plots.draw_all, change_points=_change_points())

    def peakmem_report_10k_records(self):
        self.time_report_10k_records()


class CompareScale:
    """compare of two runs of 5,000 combinations each."""

    min_queries = 3
    min_seconds = 0.0
    timeout = 900

    def setup(self):
        self.results = synthetic_tree(2, 5000)

    def time_compare_10k_records(self):
        from tfmatrix import compare

        runs = sorted(p for p in self.results.iterdir() if p.is_dir())
        compare.compare_folders(runs[0], runs[1])


def _change_points():
    try:
        from tfmatrix.changepoints import for_runs
    except ImportError:  # the history module is optional in a bare checkout
        return None
    return for_runs

