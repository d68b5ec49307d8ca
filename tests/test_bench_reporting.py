"""benchmarks/bench_reporting.py: its synthetic records are records tfmatrix would accept (or it times nothing)."""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

import jsonschema
import pytest

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
