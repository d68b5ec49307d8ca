"""The bisection's page: its view model, and the page in a real headless Chromium."""

from __future__ import annotations

import base64
import dataclasses
import re

import pytest
from browser import chromium, visit

from tfmatrix.bisection.driver import Answer, Question
from tfmatrix.bisection.page import view, write_page
from tfmatrix.bisection.search import Bisection, Ending, Probe, Verdict
from tfmatrix.records.store import RunDir

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def answer(with_values: bool = True) -> Answer:
    def p(v, verdict, value, evidence=""):
        return Probe(v, verdict, evidence or f"import {value} s", value if with_values else None,
                     value - 0.1 if with_values else None, value + 0.1 if with_values else None, f"results/{v}.json")
    probes = [p("2.15.1", Verdict.OLD, 2.3), p("2.20.0", Verdict.NEW, 3.0), p("2.17.1", Verdict.OLD, 2.5),
              p("2.18.1", Verdict.SKIP, 0.0, HOSTILE), p("2.18.0", Verdict.NEW, 2.9)]
    probes[3] = Probe("2.18.1", Verdict.SKIP, HOSTILE)
    search = Bisection(("2.15.1", "2.16.1", "2.17.1", "2.18.0", "2.18.1", "2.20.0"), probes, Ending.FOUND,
                       probes[2], probes[4])
    q = Question("tf2.20-cpu", "2.15.1", "2.20.0", "metric import x1.2")
    return Answer(q, "20261203T170000Z-000001", [search], "the first version whose import is ×1.2 worse",
                  measured="import")


def svg_text(uri: str) -> str:
    return base64.b64decode(uri.split(",", 1)[1]).decode()


def test_the_view_lists_every_probe_in_version_order():
    page = view(answer())
    assert [r.version for r in page.rows] == ["2.15.1", "2.17.1", "2.18.0", "2.18.1", "2.20.0"]
    assert [r.verdict for r in page.rows] == ["good", "good", "bad", "skip", "bad"]
    assert page.verdict[0].startswith("first bad: 2.18.0") and page.figure.startswith("data:image/svg+xml;base64,")
    assert view(answer(with_values=False)).figure is None  # an outcome bisection has no metric to draw


def test_the_figure_names_the_metric_and_shows_bytes_in_mib():
    assert "import (s)" in svg_text(view(answer()).figure)  # seconds from 1 s, as Quantity shows them
    rss = answer()
    rss.measured = "peak-rss"
    rss.searches[0].probes[:] = [dataclasses.replace(p, value=p.value * 2**30, low=p.low * 2**30,
                                                     high=p.high * 2**30) if p.value is not None else p
                                 for p in rss.searches[0].probes]
    text = svg_text(view(rss).figure)
    ticks = re.findall(r"<text[^>]*>([^<]*)</text>", text)
    assert "peak host RSS (MiB)" in ticks and "3000" in ticks and "1e9" not in text  # 2.9 GiB drawn as 2970 MiB


@pytest.mark.browser
def test_the_page_renders_its_table_and_figure_and_runs_nothing(tmp_path):
    results = tmp_path / "results"
    run = RunDir(results, "20261203T170000Z-000001")
    path = write_page(answer(), run, tmp_path / "reports")
    with chromium() as browser:
        v = visit(browser, path)
        page = v.page
        rows = page.locator("table.probes tbody tr")
        assert rows.count() == 5
        assert page.locator("table.probes .badge.unexpected").count() == 2  # the two bad versions
        assert HOSTILE in rows.nth(3).inner_text()  # shown as text
        img = page.locator("figure img")
        assert img.evaluate("el => el.complete ? el.naturalWidth : 0") > 100
        assert "first bad: 2.18.0" in page.locator("ul.verdict").inner_text()
        assert v.errors == [] and v.dialogs == []
