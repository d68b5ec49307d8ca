"""The report in a real headless Chromium: it renders, every plot loads, nothing logs an error, nothing runs."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pytest
from browser import chromium, visit
from real_runs import QUIET_A, QUIET_B, WITH_WEIGHTS, XSS, copy_run, crashed, hostile, real_records

from tfmatrix.history import compare
from tfmatrix.records.model import CombinationInfo
from tfmatrix.report import plots, render

pytestmark = pytest.mark.browser  # a real headless Chromium

#: set to a folder to keep the screenshots (CI artefacts, the closing note)
SHOTS = os.environ.get("TFMATRIX_SCREENSHOTS")


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def keep(path: Path) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(SHOTS) / path.name)


def test_report_renders_grid_tables_and_plots_without_console_errors(browser, tmp_path):
    results = tmp_path / "results"
    copy_run(WITH_WEIGHTS, results)
    built = render.build_report(results, tmp_path / "reports", plots=plots.draw_all)
    v = visit(browser, built.run_page)
    page = v.page
    assert page.title() == f"tfmatrix run {WITH_WEIGHTS}"
    grid = page.locator("table.grid")
    assert grid.is_visible()
    assert grid.locator("tbody tr").count() == 4  # tf2.15, tf2.15-numpy2, tf2.15-protobuf7, tf2.20
    assert grid.locator(".badge.expected").count() == 2 and grid.locator(".badge.ok").count() == 2
    timing = page.locator("table.timing")
    assert timing.is_visible() and timing.locator("tbody tr").count() == 3
    assert timing.locator("td.fastest").count() >= timing.locator("thead th").count() - 2
    imgs = page.locator("figure.plot img")
    assert imgs.count() == 4
    for i in range(imgs.count()):
        img = imgs.nth(i)
        img.scroll_into_view_if_needed()
        width = img.evaluate("el => el.complete ? el.naturalWidth : 0")
        assert width > 100, f"plot {i} did not decode"
        assert img.bounding_box()["height"] > 50
    # a grid link lands on the combination's detail
    page.locator("table.grid a[href='#c-tf2_15-numpy2-cpu']").click()
    assert page.locator("#c-tf2_15-numpy2-cpu").get_attribute("open") is not None
    assert "numpy-abi" in page.locator("#c-tf2_15-numpy2-cpu").inner_text()
    assert v.errors == [], v.console
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 10_000
    keep(shot)


def test_hostile_stderr_shows_as_text_and_runs_nothing(browser, tmp_path):
    results = tmp_path / "results"
    copy_run(WITH_WEIGHTS, results, change=hostile("tf2.20-cpu"))
    built = render.build_report(results, tmp_path / "reports", plots=plots.draw_all)
    v = visit(browser, built.run_page)
    page = v.page
    detail = page.locator("#c-tf2_20-cpu")
    assert XSS in detail.locator("pre.stderr").first.inner_text()  # shown literally
    assert XSS in detail.inner_text()
    assert page.locator("script").count() == 0  # none parsed from the data
    assert page.locator("img[src='x']").count() == 0
    page.wait_for_timeout(300)
    assert v.dialogs == []
    assert page.evaluate("document.querySelectorAll('[onerror]').length") == 0
    assert v.errors == [], v.console
    shot = tmp_path / "report-hostile.png"
    detail.screenshot(path=str(shot))
    keep(shot)


def test_compare_page_and_index_render(browser, tmp_path):
    results = tmp_path / "results"
    base = copy_run(QUIET_A, results)
    cand = copy_run(QUIET_B, results, change=crashed("tf2.20-cpu"))
    out = render.write_compare(compare.compare_folders(base, cand), tmp_path / "compare.html")
    v = visit(browser, out)
    rows = v.page.locator("table.status-changes tbody tr")
    assert rows.count() == 1 and "regression" in rows.first.inner_text()
    assert v.errors == [], v.console
    built = render.build_report(results, tmp_path / "reports")
    v = visit(browser, built.index)
    assert v.page.locator("table.runs tbody tr").count() == 2
    assert v.errors == [], v.console


HOSTILE_MATRIX = """\
schema_version: 1
pythons: ["3.11"]
tensorflow:
  - version: "2.20.0"
    models_official: "2.20.0"
    requires: ['numpy<2; platform_machine != "<script>alert(1)</script>"']
stacks:
  - {id: cpu, kind: cpu}
  - {id: sys, kind: cuda-system, library_path: ["/opt/<img src=x onerror=alert(1)>/lib64"]}
models:
  - {id: m, experiment: retinanet_resnetfpn_coco, input_size: [64, 64]}
"""


def test_a_hostile_matrix_that_validates_is_still_only_text(browser, tmp_path):
    """What a matrix may legally hold (a marker with quotes and angle brackets, an odd library path) is escaped."""
    from tfmatrix.matrix.expand import combinations
    from tfmatrix.matrix.load import load_matrix

    path = tmp_path / "hostile.yaml"
    path.write_text(HOSTILE_MATRIX)
    combos = {c.id: c for c in combinations(load_matrix(path), "all")}  # it validates
    results = tmp_path / "results"

    def from_matrix(doc):
        combo = combos.get(doc["combination"]["id"].replace("tf2.20-cuda-pip", "tf2.20-sys"))
        if combo is None:
            return None
        doc["combination"] = CombinationInfo.of(combo).to_json()
        if combo.stack.kind == "cuda-system":  # and a crash message that tries its luck too
            doc.update(status="failed", outcome="failed", reason=f"segfault: {XSS}")
            doc["phases"] = [dict(next(p for p in real_records(WITH_WEIGHTS)["tf2.20-cpu"]["phases"]
                                       if p["phase"] == "probe"), status="crashed", signal="SIGSEGV",
                                  stderr_tail=f"Fatal Python error: Segmentation fault\n{XSS}")]
        return doc
    copy_run(WITH_WEIGHTS, results, change=from_matrix)
    built = render.build_report(results, tmp_path / "reports", plots=plots.draw_all)
    v = visit(browser, built.run_page)
    page = v.page
    page.wait_for_timeout(300)
    assert v.dialogs == [] and page.locator("script").count() == 0
    assert page.evaluate("document.querySelectorAll('[onerror]').length") == 0
    text = page.locator("#details").evaluate("el => el.parentElement.innerText")
    assert 'platform_machine != "<script>alert(1)</script>"' in text
    assert "/opt/<img src=x onerror=alert(1)>/lib64" in text
    assert XSS in page.locator("#c-tf2_20-sys pre.stderr").inner_text()
    assert v.errors == [], v.console


def more_batches(doc):
    """A wider timings table: the throughput phase again at batch 8, 16 and 32 (four more columns)."""
    for p in list(doc["phases"]):
        if p["phase"] == "throughput":
            for b in (8, 16, 32):
                doc["phases"].append(dict(p, batch=b, name=p["name"].replace(f"-b{p['batch']}", f"-b{b}"),
                                          samples=[x * b / p["batch"] for x in p["samples"]]))
    return doc


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("change", [None, more_batches], ids=["real", "more-batches"])
def test_the_run_page_fits_a_1400_px_window(browser, tmp_path, change):
    """No horizontal scrolling at 1400 px: the timings table's CIs fold onto further lines (it ran to 1987 px)."""
    results = tmp_path / "results"
    copy_run(WITH_WEIGHTS, results, change=change)
    built = render.build_report(results, tmp_path / "reports", plots=plots.draw_all)
    v = visit(browser, built.run_page, width=1400)
    page = v.page
    timing = page.locator("table.timing")
    columns = timing.locator("thead th").count()
    assert columns == (12 if change is None else 15)
    assert page.evaluate("window.innerWidth") == 1400
    assert fits(page), page.evaluate("document.documentElement.scrollWidth")
    assert timing.bounding_box()["x"] + timing.bounding_box()["width"] <= 1400
    # the values stay whole (one line each) while their CIs wrap below them
    lines = page.evaluate("[...document.querySelectorAll('table.timing .value')].map(e => e.getClientRects().length)")
    assert lines and set(lines) == {1}
    assert v.errors == [], v.console
    shot = tmp_path / f"run-1400-{'real' if change is None else 'more-batches'}.png"
    timing.scroll_into_view_if_needed()
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 10_000
    keep(shot)


def test_a_year_of_runs_pages_through_in_chromium(browser, tmp_path):
    """365 runs and 10,960 change points: 100 runs a page, a pager to the rest, the CSV linked, no scrolling."""
    from synthetic import history

    runs, points = history(365, 274, steps=10)
    out = render.build_index(runs, tmp_path, "2026-12-07T00:00:00+00:00", points)
    v = visit(browser, out, width=1400)
    page = v.page
    assert page.locator("table.runs tbody tr").count() == 100
    assert page.locator("table.changepoints tbody tr").count() == 100
    assert page.locator("nav.pager").first.locator("a").count() == 3  # the three other pages
    assert page.locator("a[href='changepoints.csv']").count() == 1
    assert fits(page)
    shot = tmp_path / "index-1400.png"
    page.screenshot(path=str(shot), full_page=False)
    keep(shot)
    page.locator("nav.pager").first.locator("a[href='index-4.html']").click()
    page.wait_for_load_state("load")
    assert page.title() == "tfmatrix runs (page 4)"
    assert page.locator("table.runs tbody tr").count() == 65 and page.locator("table.changepoints").count() == 0
    assert v.errors == [], v.console


def test_a_large_comparison_opens_in_chromium_with_its_rows_limited_and_the_json_linked(browser, tmp_path):
    """Two runs of 50,000 combinations wrote a 78 MB page; now ROWS rows a table, regressions first, the rest in
    the JSON beside it."""
    from synthetic import comparison

    from tfmatrix.report import compare_page

    cmp = comparison(3 * compare_page.ROWS, warnings=5, unchanged=2 * compare_page.ROWS)
    cmp.status_changes[1] = dataclasses.replace(cmp.status_changes[1], why="dlopen: C:/CUDA/" + "v" * 300 + ".dll")
    out = render.write_compare(cmp, tmp_path / "big.html")
    assert out.stat().st_size < 2_000_000
    v = visit(browser, out, width=1400)
    page = v.page
    tables = page.locator("table.changes")
    assert tables.nth(0).locator("tbody tr").count() == compare_page.ROWS
    assert tables.nth(1).locator("tbody tr").count() == compare_page.ROWS
    assert page.locator("p.more").count() == 2 and page.locator("a[href='big.json']").count() == 3
    assert (tmp_path / "big.json").exists()
    assert fits(page), page.evaluate("document.documentElement.scrollWidth")
    assert v.errors == [], v.console
    shot = tmp_path / "compare-large-1400.png"
    page.screenshot(path=str(shot), full_page=False)
    keep(shot)
