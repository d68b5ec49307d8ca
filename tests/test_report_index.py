"""report.index: the runs index pages through a long history and stays small; every change point is in the CSV."""

from __future__ import annotations

import csv
import re

from synthetic import history

from tfmatrix.report import index, render

GENERATED = "2026-12-07T00:00:00+00:00"
MB2 = 2 * 1000 * 1000


def linked_runs(html: str) -> list[str]:
    return re.findall(r'<tr><td>(\d{8}T\d{6}Z-[0-9a-f]{6}) <span class="muted">\(no report yet', html)


def test_a_year_of_100k_records_and_11k_change_points_keeps_every_page_under_2_mb(tmp_path):
    """365 nightly runs of 274 records (100,010) with 10 steps in each of 1,096 series: every page under 2 MB.

    The history is built in memory (the same record objects in every run), so this takes about a second; the
    page drawn from it is the one ``nox -s report`` writes.  Before paging, this index.html was 2.5 MB."""
    runs, points = history(365, 274, steps=10)
    assert sum(sum(r.counts.values()) for r in runs) == 100_010 and len(points) == 10_960
    out = render.build_index(runs, tmp_path, GENERATED, points)
    pages = sorted(tmp_path.glob("index*.html"))
    assert [p.name for p in pages] == ["index-2.html", "index-3.html", "index-4.html", "index.html"]
    assert all(p.stat().st_size < MB2 for p in pages), {p.name: p.stat().st_size for p in pages}
    assert out.stat().st_size < 100_000  # a bound, not a snapshot: 100 rows and 100 change points
    # every run is on exactly one page, newest first across the pages
    shown = [rid for name in ("index.html", "index-2.html", "index-3.html", "index-4.html")
             for rid in linked_runs((tmp_path / name).read_text())]
    assert shown == sorted((r.run_id for r in runs), reverse=True)
    # the full list of change points is one link away
    first = out.read_text()
    assert f"The newest {index.CHANGE_POINTS_SHOWN} of 10960 change points" in first
    with (tmp_path / index.CSV_NAME).open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 10_960 and rows[0]["run_id"] == max(p.run_id for p in points)


def test_the_pager_links_every_page_with_the_dates_it_spans(tmp_path):
    runs, _ = history(250, 3)
    render.build_index(runs, tmp_path, GENERATED)
    second = (tmp_path / "index-2.html").read_text()
    assert "250 runs, newest first:" in second
    assert '<a href="index.html">2026-09-07 – 2025' not in second  # dates come from the runs, not invented
    assert '<a href="index.html">2026-09-07 – 2026-05-31</a>' in second
    assert "<strong>2026-05-30 – 2026-02-20</strong>" in second
    assert '<a href="index-3.html">2026-02-19 – 2026-01-01</a>' in second
    assert len(linked_runs(second)) == 100 and len(linked_runs((tmp_path / "index-3.html").read_text())) == 50
    assert "tfmatrix runs (page 2)" in second


def test_one_page_has_no_pager_and_a_shorter_history_removes_the_older_pages(tmp_path):
    runs, points = history(150, 2, steps=1)
    render.build_index(runs, tmp_path, GENERATED, points)
    assert (tmp_path / "index-2.html").exists() and (tmp_path / index.CSV_NAME).exists()
    render.build_index(runs[-20:], tmp_path, GENERATED)  # pruned, and no change point left
    assert not (tmp_path / "index-2.html").exists() and not (tmp_path / index.CSV_NAME).exists()
    html = (tmp_path / "index.html").read_text()
    assert 'class="pager"' not in html and len(linked_runs(html)) == 20
    assert 'id="history"' not in html


def test_the_newest_change_points_are_shown_and_counted_per_metric():
    runs, points = history(30, 4, steps=2)  # 4 records x 4 metrics x 2 steps: a slower one, then a faster one
    pages = index.index_pages([index.row(r, False) for r in runs], {}, GENERATED, points, shown=5)
    page = pages[0]
    assert page.total_change_points == 32 and len(page.change_points) == 5
    newest = max(p.run_id for p in points)
    assert all(c.run_id == newest for c in page.change_points)
    assert [(m.metric, m.regressions, m.improvements) for m in page.per_metric] == [
        ("import", 4, 4), ("latency", 4, 4), ("load", 4, 4), ("peak-rss", 4, 4)]


def test_warnings_stay_on_their_runs_page():
    runs, _ = history(120, 1)
    rows = [index.row(r, True) for r in runs]
    oldest = runs[0].run_id
    pages = index.index_pages(rows, {oldest: [f"{oldest}/x.json: skipped"]}, GENERATED)
    assert [p.warnings for p in pages] == [[], [f"{oldest}/x.json: skipped"]]
    assert pages[0].runs[0].href == f"{runs[-1].run_id}/index.html"


def test_the_csv_keeps_full_precision_and_the_metric_unit():
    _, points = history(10, 1, steps=1)
    rows = list(csv.DictReader(index.changepoints_csv(points).splitlines()))
    rss = next(r for r in rows if r["metric"] == "peak-rss")
    assert rss["unit"] == "bytes" and float(rss["before"]) == 2.0**30 and float(rss["ratio"]) == 1.5
    assert rss["verdict"] == "regression" and rss["model"] == "m"
