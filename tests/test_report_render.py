"""report.render: gold files, escaping, the files written, bad input; report.plots: valid, reproducible SVG."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from real_runs import QUIET_A, QUIET_B, WITH_WEIGHTS, copy_run, hostile, slowed

from tfmatrix.errors import ResultsError
from tfmatrix.history import compare
from tfmatrix.records.store import load_run
from tfmatrix.report import data, plots, render

ROOT = Path(__file__).resolve().parents[1]
GOLD = Path(__file__).parent / "gold"
GENERATED_AT = "2026-01-01T00:00:00+00:00"
UPDATE = bool(os.environ.get("TFMATRIX_UPDATE_GOLD"))


def scrub(html: str, *paths: Path) -> str:
    """Dates and machine paths out, so the gold file only changes when the report does."""
    for p in paths:
        html = html.replace(str(p), "<TMP>")
    html = re.sub(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(\+00:00|Z)?", "<DATE>", html)
    return re.sub(r"/work/main/", "<ROOT>/", html)


def check_gold(name: str, html: str) -> None:
    path = GOLD / name
    if UPDATE:
        path.write_text(html, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with TFMATRIX_UPDATE_GOLD=1 once and review it"
    assert html == path.read_text(encoding="utf-8"), f"{name} differs from its gold file (TFMATRIX_UPDATE_GOLD=1 to accept)"


@pytest.fixture
def tree(tmp_path):
    results, reports = tmp_path / "results", tmp_path / "reports"
    copy_run(QUIET_A, results)
    copy_run(WITH_WEIGHTS, results)
    return results, reports


def test_run_page_index_and_latest_match_gold(tree, tmp_path):
    results, reports = tree
    built = render.build_report(results, reports, generated_at=GENERATED_AT)
    assert built.run_page == reports / WITH_WEIGHTS / "index.html"
    assert built.latest.read_text() == built.run_page.read_text()  # the latest copy
    check_gold("run.html", scrub(built.run_page.read_text(), tmp_path))
    check_gold("index.html", scrub(built.index.read_text(), tmp_path))
    # an older run's page: no latest copy, and the index links both reports
    older = render.build_report(results, reports, QUIET_A, generated_at=GENERATED_AT)
    assert older.latest is None
    index = older.index.read_text()
    assert f'href="{QUIET_A}/index.html"' in index and f'href="{WITH_WEIGHTS}/index.html"' in index


def test_compare_page_matches_gold(tmp_path):
    results = tmp_path / "results"
    base = copy_run(QUIET_A, results)
    cand = copy_run(QUIET_B, results, change=slowed(1.5, only="tf2.20-cpu"))
    cmp = compare.compare_folders(base, cand)
    out = render.write_compare(cmp, tmp_path / "compare.html", generated_at=GENERATED_AT)
    html = out.read_text()
    assert "regressed" in html and "<td>latency</td>" in html and "throughput[b4] (higher is better)" in html
    check_gold("compare.html", scrub(html, tmp_path))


def test_everything_from_records_is_escaped(tmp_path):
    results = tmp_path / "results"
    copy_run(WITH_WEIGHTS, results, change=hostile("tf2.20-cpu"))
    built = render.build_report(results, tmp_path / "reports", generated_at=GENERATED_AT)
    html = built.run_page.read_text()
    assert "<script" not in html.lower() and "<img src=x" not in html.lower()
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt; and &lt;img src=x onerror=alert(1)&gt;"
    # stderr tail, note, evidence, explanation, fix, reason, pin name, fingerprint: all present, all escaped
    assert html.count(escaped) >= 8


def test_unreadable_records_are_skipped_with_a_warning(tmp_path):
    results = tmp_path / "results"
    run = copy_run(WITH_WEIGHTS, results)
    (run / "tf2.20-cpu.json").write_text('{"kind": "combination", "schema_')  # truncated
    doc = json.loads((run / "tf2.15-cpu.json").read_text())
    doc["schema_version"] = 99
    (run / "tf2.15-cpu.json").write_text(json.dumps(doc))
    built = render.build_report(results, tmp_path / "reports", generated_at=GENERATED_AT)
    assert len(built.warnings) == 2
    assert any("tf2.20-cpu.json: not valid JSON" in w for w in built.warnings)
    assert any("tf2.15-cpu.json: schema_version is 99" in w for w in built.warnings)
    html = built.run_page.read_text()
    assert "tf2.15-protobuf7-cpu" in html and "could not be read" in html


def test_bad_run_ids_are_refused(tree):
    results, reports = tree
    for bad in ("../etc", "20990101T000000Z-aaaaaa", "x/../../y"):
        with pytest.raises(ResultsError, match="report: got run id"):
            render.build_report(results, reports, bad)
    with pytest.raises(ResultsError, match="no runs yet"):
        render.build_report(reports, reports)


def test_cli_report_and_compare_write_their_pages(tree, tmp_path):
    results, reports = tree
    env = {**os.environ, "TFMATRIX_RESULTS": str(results), "TFMATRIX_REPORTS": str(reports),
           "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run([sys.executable, "-m", "tfmatrix", "report", "--baseline", "tf2.20-cpu"], env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (reports / WITH_WEIGHTS / "index.html").exists() and (reports / "latest" / "index.html").exists()
    proc = subprocess.run([sys.executable, "-m", "tfmatrix", "report", "--baseline", "nope"], env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith("tfmatrix: error: --baseline: got 'nope'")
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = subprocess.run([sys.executable, "-m", "tfmatrix", "compare"], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (reports / "compare" / f"{QUIET_A}_vs_{WITH_WEIGHTS}.html").exists()


def test_plots_are_valid_reproducible_svg(tree):
    results, _ = tree
    frame = data.metrics_frame(load_run(results / WITH_WEIGHTS).records)
    drawn = plots.draw_all(frame)
    assert [p.title for p in drawn] == ["Load and first-inference time", "Latency distribution (batch 1)",
                                        "Throughput vs batch size", "Peak memory"]
    for p in drawn:
        assert p.data_uri.startswith("data:image/svg+xml;base64,")
        svg = base64.b64decode(p.data_uri.split(",", 1)[1])
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg")
        assert b"tf2.20-cpu" in svg  # labels are text (svg.fonttype none), escaped by matplotlib
    assert [p.data_uri for p in plots.draw_all(frame)] == [p.data_uri for p in drawn]


def test_gpu_telemetry_plot_from_the_sampled_series(tmp_path):
    """A GPU combination's latency phase with NVML samples (the explicit fake H200) gets its own plot."""
    import dataclasses
    import time

    from fakes.fake_pynvml import TelemetryNvml
    from real_runs import typed_records

    from tfmatrix.worker import telemetry

    with telemetry.Sampler([0], period=0.005, nvml=TelemetryNvml(["NVIDIA H200"])) as s:
        time.sleep(0.05)
    cpu = typed_records(WITH_WEIGHTS)["tf2.20-cpu"]
    rec = dataclasses.replace(cpu, combination=dataclasses.replace(cpu.combination, id="tf2.20-cuda-pip",
                                                                   stack="cuda-pip", stack_kind="cuda-pip"))
    rec.phase("latency").telemetry = s.result()
    frame = data.metrics_frame([rec])
    drawn = plots.draw_all(frame, [rec])
    assert [p.title for p in drawn][-1] == "GPU telemetry (batch-1 latency phase)"
    svg = base64.b64decode(drawn[-1].data_uri.split(",", 1)[1])
    assert ET.fromstring(svg).tag.endswith("svg") and b"GPU utilization" in svg
    assert len(plots.draw_all(frame, [])) == 4  # no samples, no telemetry plot


def test_a_verified_fix_is_shown_and_linked_from_both_report_pages(tmp_path):
    from tfmatrix.diagnosis.remedies import Candidate, PinChange
    from tfmatrix.fixing import state
    from tfmatrix.records.model import Failure
    from tfmatrix.records.store import RunDir

    results = tmp_path / "results"
    run = copy_run(QUIET_A, results)
    cid = "tf2.15-numpy2-cpu"  # failed in this real run
    fix = Candidate("into-range", (PinChange("numpy", "2.4.6", ">=1.23.5,<2.0.0", "numpy>=2"),),
                    "tensorflow 2.15.1 requires it")
    search = state.FixSearch(cid, run.name, "20261207T050000Z-000002", Failure("numpy-abi", "e", "x", "y"), "failed",
                             ending="fixed", fix=fix, proof=["p1", "p2"])
    saved = state.save(RunDir(results, run.name), search)
    state.save(RunDir(results, run.name), state.FixSearch("other-cpu", run.name, "20261207T050000Z-000002",
                                                          Failure("x", "e", "x", "y"), "failed", ending="not-found"))
    built = render.build_report(results, tmp_path / "reports", run.name, generated_at=GENERATED_AT)
    for page in (built.run_page, built.latest):
        html = page.read_text(encoding="utf-8")
        assert html.count('class="verified-fix"') == 1  # the search that found nothing adds nothing
        assert "numpy 2.4.6 → &gt;=1.23.5,&lt;2.0.0 (tensorflow 2.15.1 requires it), proven by run " in html
        href = re.search(r'class="verified-fix">[^<]*\(<a href="([^"]+)"', html).group(1)
        assert (page.parent / href).resolve() == saved.resolve()


def test_a_long_run_plots_its_worst_combinations_and_says_so(tree, monkeypatch):
    results, _ = tree
    frame = data.metrics_frame(load_run(results / WITH_WEIGHTS).records)
    drawn = {p.title.split(" (")[0]: p for p in plots.draw_all(frame)}
    monkeypatch.setattr(plots, "MAX_ROWS", 1)
    capped = {p.title.split(" (")[0]: p for p in plots.draw_all(frame)}
    assert capped.keys() == drawn.keys()
    n = frame["combination_id"].nunique()
    assert capped["Peak memory"].title == f"Peak memory (the 1 slowest of {n}; the tables have every one)"
    assert "(the 1 lowest of" in capped["Throughput vs batch size"].title
    mem = frame[frame.metric == "peak-rss"]
    worst, best = mem.loc[mem["median"].idxmax(), "combination_id"], mem.loc[mem["median"].idxmin(), "combination_id"]
    svg = base64.b64decode(capped["Peak memory"].data_uri.split(",", 1)[1])
    assert worst.encode() in svg and best.encode() not in svg
