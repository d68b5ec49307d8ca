"""history/scale.py: ``python -m tfmatrix scale`` writes each case as a tfmatrix record, which compare judges, the
report shows, and which holds asv's publish step beside the report with the index."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tfmatrix import RECORD_SCHEMA_VERSION
from tfmatrix.errors import TfmatrixError
from tfmatrix.history import compare, scale
from tfmatrix.records.metrics import REPORTING
from tfmatrix.records.schema import load_schema
from tfmatrix.records.store import load_run, run_folders

ROOT = Path(__file__).resolve().parents[1]
CASES = [f"{cls}.{method}" for cls, method, _ in scale.BENCHMARKS]


@pytest.fixture(scope="module")
def scale_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """One real ``python -m tfmatrix scale`` (what ``nox -s scale`` runs) at the smallest size: its run folder
    and what it printed."""
    tmp = tmp_path_factory.mktemp("scale")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "TMPDIR": str(tmp)}  # the synthetic trees go there
    proc = subprocess.run([sys.executable, "-m", "tfmatrix", "scale", "--root", str(ROOT), "--records", "24",
                           "--runs", "3", "--samples", "1", "--results", str(tmp / "results"),
                           "--json", str(tmp / "scale.json")], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    (folder,) = run_folders(tmp / "results")
    tree = tmp / f"tfmatrix-scale-v{RECORD_SCHEMA_VERSION}-20261129-3x8"  # the report's synthetic records
    assert (tree / ".complete").exists() and not list(tree.glob("2099*"))  # the new runs it added are gone
    history = tmp / f"tfmatrix-scale-v{RECORD_SCHEMA_VERSION}-20261129-36x1"  # compare's new run: 1.5 x 24 records
    assert len(run_folders(history)) == 36 and (history / ".tfmatrix-history.sqlite").exists()
    assert not list(history.glob("2099*"))
    return folder, proc.stdout.splitlines()


def results_of(folder: Path) -> list[scale.ScaleResult]:
    """The cases of a scale run, read back from its records."""
    return [scale.ScaleResult(p.benchmark, p.note, p.unit or "", list(p.samples), rec.id, p.wall_seconds,
                              p.peak_rss_bytes) for rec in load_run(folder).records for p in rec.phases]


def test_scale_prints_each_case_the_ratio_to_asv_publish_and_its_records(scale_run):
    folder, lines = scale_run
    assert [ln.split(" over ")[0] for ln in lines[:len(CASES)]] == CASES
    assert "24 records: 3 runs x 8" in lines[0] and "24 records: 2 runs x 12" in lines[CASES.index(
        "CompareScale.time_compare")]
    assert re.search(r": \d+ MiB \(median of 1: \d+MiB\)$", lines[CASES.index("ReportScale.peakmem_report")])
    ratio = lines[len(CASES)]
    assert ratio.startswith("PublishScale.time_report / PublishScale.time_publish: ×"), ratio
    assert lines[-1].startswith(f"records: {folder} ") and lines[-2].startswith("scale: ")


def test_each_class_is_one_schema_valid_record_with_a_reporting_phase_per_case(scale_run):
    folder, _ = scale_run
    run = load_run(folder)
    assert run.warnings == [] and run.info is not None and run.info.profile == "scale"
    assert run.info.options["scale"] == {"records": 24, "runs": 3}
    assert sorted(r.id for r in run.records) == ["scale-compare-24", "scale-publish-24x3", "scale-report-24x3"]
    for path in folder.glob("*.json"):  # the canonical validator agrees with the reader
        doc = json.loads(path.read_text())
        jsonschema.validate(doc, load_schema(doc["kind"]))
    phases = {p.benchmark: p for r in run.records for p in r.phases}
    assert sorted(phases) == sorted(CASES)
    for name, p in phases.items():
        assert p.phase == REPORTING and p.status == "ok" and len(p.samples) == 1, name
        assert p.unit == ("bytes" if ".peakmem_" in name else "seconds"), name


def test_compare_of_two_scale_runs_judges_every_case(scale_run, tmp_path):
    """A second run of the same size (the first's samples, written again) is judged case by case."""
    first, _ = scale_run
    second = scale.write_run(results_of(first), first.parent, ROOT, records=24, runs=3,
                             started_at="2026-12-08T00:00:00+00:00", run_id="20991231T000000Z-000001")
    cmp = compare.compare_folders(first, second)
    judged = {(c.combination, c.metric.key): c.verdict for c in cmp.changes}
    assert sorted(judged) == sorted((scale.combination_id(cls, 24, 3 if by_runs else None), f"reporting[{method}]")
                                    for cls, method, by_runs in scale.BENCHMARKS)
    assert set(judged.values()) == {"unchanged"} and not cmp.only_in_base and not cmp.only_in_candidate


def planted(factor: dict[str, float], n: int) -> list[scale.ScaleResult]:
    """Every case with ``n`` samples near 1 s (1 GiB for peak memory), times its factor in ``factor``."""
    out = []
    for cls, method, by_runs in scale.BENCHMARKS:
        name, unit = f"{cls}.{method}", "bytes" if method.startswith("peakmem_") else "seconds"
        base = (1 << 30) if unit == "bytes" else 1.0
        samples = [base * factor.get(name, 1.0) * (1 + 0.01 * i) for i in range(n)]
        out.append(scale.ScaleResult(name, "shape", unit, samples, scale.combination_id(cls, 10, 2 if by_runs else None)))
    return out


@pytest.mark.parametrize("n, slower, smaller", [
    (5, "regression", "improvement"),
    (3, "undecidable (n=3 a side; a verdict needs ≥ 5)", "undecidable (n=3 a side; a verdict needs ≥ 5)"),
])
def test_a_planted_slowdown_is_a_regression_given_the_samples_a_verdict_needs(tmp_path, n, slower, smaller):
    results = tmp_path / "results"
    base = scale.write_run(planted({}, n), results, ROOT, records=10, runs=2, started_at="2026-12-08T00:00:00+00:00")
    cand = scale.write_run(planted({"ReportScale.time_report": 2.0, "ReportScale.peakmem_report": 0.5}, n), results,
                           ROOT, records=10, runs=2, started_at="2026-12-08T00:00:00+00:00")
    cmp = compare.compare_folders(base, cand)
    verdicts = {c.metric.key: c.verdict for c in cmp.changes if c.combination == "scale-report-10x2"}
    assert verdicts["reporting[time_report]"] == slower and verdicts["reporting[peakmem_report]"] == smaller
    assert verdicts["reporting[time_report_warm]"] == "unchanged"
    assert cmp.exit_status == (1 if slower == "regression" else 0)


def test_the_report_shows_a_scale_run_beside_detection_runs(scale_run, tmp_path):
    from tfmatrix.history.changepoints import for_summaries
    from tfmatrix.report import plots, render

    results = tmp_path / "results"
    detection = results / "20260101T000000Z-0000a1"  # a real detection run (schema v7), older than the scale run
    detection.mkdir(parents=True)
    for kind in ("run", "combination"):
        doc = json.loads((ROOT / "tests" / "data" / "records" / "v7" / f"{kind}.json").read_text())
        doc["run_id"] = detection.name
        (detection / ("run.json" if kind == "run" else f"{doc['combination']['id']}.json")).write_text(json.dumps(doc))
    folder, _ = scale_run
    scale.write_run(results_of(folder), results, ROOT, records=24, runs=3, started_at="2026-12-08T00:00:00+00:00",
                    run_id=folder.name)
    built = render.build_report(results, tmp_path / "reports", plots=plots.draw_all, change_points=for_summaries)
    page = built.run_page.read_text(encoding="utf-8")
    assert folder.name in str(built.run_page) and "scale-report-24x3" in page and "scale-publish-24x3" in page
    index = built.index.read_text(encoding="utf-8")
    assert folder.name in index and detection.name in index


def test_scale_refuses_a_sample_count_that_measures_nothing():
    with pytest.raises(TfmatrixError, match=r"got --samples 0; expected 1 or more \(5 let compare reach a verdict\)"):
        scale.run(ROOT, records=24, runs=3, samples=0)


def test_case_patterns_pick_cases_in_order_and_a_pattern_matching_none_is_one_line():
    assert [f"{c}.{m}" for c, m, _ in scale.selected(["CompareScale.*"])] == [
        "CompareScale.time_compare", "CompareScale.time_compare_new_run"]
    assert [f"{c}.{m}" for c, m, _ in scale.selected(["*.time_report", "ReportScale.peakmem_*"])] == [
        "ReportScale.time_report", "ReportScale.peakmem_report", "PublishScale.time_report"]
    assert [f"{c}.{m}" for c, m, _ in scale.selected([])] == CASES
    with pytest.raises(TfmatrixError, match=r"^scale --case: got 'reportscale\.\*'; expected one of ReportScale\."
                                            r"time_report, .*$"):
        scale.selected(["reportscale.*"])  # case matters, on every platform


def test_scale_with_a_case_runs_that_case_alone(tmp_path, monkeypatch):
    """``nox -s scale -- --records 100000 --case 'CompareScale.time_compare'``: one case at a size too large to
    take every case at (asv's publish of 100,000 records alone takes minutes a sample)."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the workers write the synthetic records there
    (result,) = scale.run(ROOT, records=24, runs=3, samples=2, cases=["CompareScale.time_compare"])
    assert result.benchmark == "CompareScale.time_compare" and len(result.samples) == 2
    assert result.shape == "24 records: 2 runs x 12" and all(s > 0 for s in result.samples)
