"""benchmarks/bench_reporting.py: its synthetic records are records tfmatrix would accept (or it times nothing)."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tfmatrix import RECORD_SCHEMA_VERSION
from tfmatrix.matrix.expand import combinations
from tfmatrix.matrix.load import load_matrix
from tfmatrix.records.schema import check, load_schema
from tfmatrix.records.store import load_run, run_folders

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("bench_reporting", ROOT / "benchmarks" / "bench_reporting.py")
bench_reporting = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_reporting)


def test_synthetic_records_pass_the_schema_and_the_reader():
    rng = random.Random(0)
    templates = combinations(load_matrix(ROOT / "matrix.yaml"), "all")
    docs = [bench_reporting.synthetic_record(rng, "20260101T000000Z-000000", i, templates) for i in range(40)]
    for doc in docs:
        jsonschema.validate(doc, load_schema("combination"))
        check(json.loads(json.dumps(doc)), "synthetic.json")
    assert {d["status"] for d in docs} == {"ok", "failed"}  # some crash, as in a real matrix
    assert len({d["combination"]["id"] for d in docs}) == 40


def test_a_small_synthetic_tree_reads_back_whole(monkeypatch, tmp_path):
    monkeypatch.setattr(bench_reporting.tempfile, "gettempdir", lambda: str(tmp_path))
    root = bench_reporting.synthetic_tree(2, 5, seed=1)
    runs = [load_run(p) for p in run_folders(root)]
    assert [len(r.records) for r in runs] == [5, 5] and all(r.warnings == [] for r in runs)


def test_scale_runs_each_benchmark_in_a_worker_and_prints_its_figures(tmp_path):
    """``python -m tfmatrix scale`` (what ``nox -s scale`` runs) end to end, over a small record count."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "TMPDIR": str(tmp_path)}  # the synthetic tree goes there
    proc = subprocess.run([sys.executable, "-m", "tfmatrix", "scale", "--root", str(ROOT), "--records", "24",
                           "--runs", "3", "--json", str(tmp_path / "scale.json")], capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stdout.splitlines()
    assert [ln.split(" over ")[0] for ln in lines] == [
        "ReportScale.time_report", "ReportScale.peakmem_report", "CompareScale.time_compare",
        "ReportScale.time_report_warm", "ReportScale.time_report_new_run",
        "CompareScale.time_compare_new_run", "scale: " + str(tmp_path / "scale.json")]
    assert "24 records: 3 runs x 8" in lines[0] and "24 records: 2 runs x 12" in lines[2]
    assert re.search(r": \d+ MiB \(median of 1: \d+MiB\)$", lines[1]), lines[1]
    assert all(re.search(r": [\d.]+ m?s \(median of 3: ", lines[i]) for i in (0, 2, 3, 4, 5)), lines
    doc = json.loads((tmp_path / "scale.json").read_text())
    assert [len(r["samples"]) for r in doc["results"]] == [3, 1, 3, 3, 3, 3] and doc["cores"] == os.cpu_count()
    history = tmp_path / f"tfmatrix-scale-v{RECORD_SCHEMA_VERSION}-{bench_reporting.SEED}-36x1"  # 1.5 x 24 records
    assert len(run_folders(history)) == 36 and (history / ".tfmatrix-history.sqlite").exists()
    for tree in ("3x8", "36x1"):
        assert not list((tmp_path / f"tfmatrix-scale-v{RECORD_SCHEMA_VERSION}-{bench_reporting.SEED}-{tree}").glob("2099*"))
    assert (tmp_path / f"tfmatrix-scale-v{RECORD_SCHEMA_VERSION}-{bench_reporting.SEED}-3x8" / ".complete").exists()


def test_scale_refuses_counts_that_make_no_tree():
    from tfmatrix.errors import TfmatrixError
    from tfmatrix.history import scale

    with pytest.raises(TfmatrixError, match="got --records 1 --runs 100"):
        scale.run(ROOT, records=1)
    with pytest.raises(TfmatrixError, match="expected --runs >= 1"):
        scale.run(ROOT, records=10, runs=0)


def test_the_cli_reads_scales_defaults_from_scale():
    from tfmatrix import cli
    from tfmatrix.history import scale

    args = cli.build_parser().parse_args(["scale"])
    assert (args.records, args.runs) == (scale.RECORDS, scale.RUNS) == (10_000, 100)
    assert bench_reporting.ReportScale.params == ([scale.RECORDS], [scale.RUNS])


@pytest.mark.parametrize(("records", "shape"), [(10_000, (365, 41)), (24, (36, 1)), (1, (2, 1))])
def test_the_new_run_history_is_a_year_of_nightly_runs_at_one_and_a_half_times_the_records(records, shape):
    assert bench_reporting.history_shape(records) == shape
