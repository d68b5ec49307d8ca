"""report/compare_page.py and the JSON beside the page: a large comparison's page shows the rows that matter most,
up to compare_page.ROWS a table, and the JSON has every one."""

from __future__ import annotations

import json
import math
import re
import sys

from synthetic import comparison

from tfmatrix.history.comparison import Change, Comparison
from tfmatrix.records import metrics
from tfmatrix.report import compare_page, render


def strict_json(text: str) -> dict:
    def refuse(name: str) -> None:
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_most_notable_keeps_regressions_then_improvements_in_their_order():
    cmp = comparison(40)
    kept = Comparison.most_notable(cmp.changes, 15)
    assert [c.verdict for c in kept].count("regression") == 10 and [c.verdict for c in kept].count("improvement") == 5
    assert [c.combination for c in kept] == sorted(c.combination for c in kept)  # in their order
    assert Comparison.most_notable(cmp.changes, 10 ** 6) == cmp.changes and Comparison.most_notable(cmp.changes, 0) == []


def test_a_large_comparison_shows_rows_up_to_the_limit_and_the_json_beside_it_has_every_one(tmp_path):
    rows = compare_page.ROWS
    cmp = comparison(2 * rows, warnings=compare_page.WARNINGS + 7, only=compare_page.IDS + 3, unchanged=rows + 5)
    cmp.changes.append(Change("combo-last", "m", metrics.LOAD, 0.0, 5.0, math.inf, 0.001, "regression"))
    page = tmp_path / "base_vs_cand.html"
    render.write_compare(cmp, page)
    html = page.read_text()
    tables = html.split('<table class="changes">')[1:]
    notable, unchanged = (t.split("</tbody>")[0].count("<tr><td>") for t in tables)
    assert notable == rows and unchanged == rows
    # every regression is shown, the last one too; improvements next; the rest left out
    shown = html.split('<table class="changes">')[1]
    assert shown.count(">regression</span>") == rows // 2 + 1 and "combo-last" in shown
    assert shown.count(">improvement</span>") == rows - rows // 2 - 1 and "within-noise" not in shown
    assert f"… and {2 * rows + 1 - rows} more metrics that moved" in html
    assert f"{rows + 5} unchanged metrics (the first {rows} shown here)" in html and "… and 5 more unchanged" in html
    assert "… and 7 more (each was printed on stderr" in html and "… and 3 more</li>" in html
    assert re.search(r'<p id="data">Every row, as JSON: <a href="base_vs_cand\.json">', html)
    data = strict_json(render.compare_data(page).read_text())
    assert data["schema_version"] == 1 and data["exit_status"] == 1
    assert len(data["changes"]) == len(cmp.changes) and len(data["status_changes"]) == len(cmp.status_changes)
    assert data["changes"][-1]["ratio"] is None and data["changes"][-1]["combination"] == "combo-last"  # no Infinity
    assert len(data["only_in_base"]) == compare_page.IDS + 3 and len(data["warnings"]) == compare_page.WARNINGS + 7
    assert data["regressions"] == len(cmp.regressions) and data["noise"] == cmp.noise_line


def test_a_small_comparison_shows_every_row_and_says_nothing_is_left_out(tmp_path):
    cmp = comparison(8, warnings=2, only=2)
    page = render.write_compare(cmp, tmp_path / "small.html")
    html = page.read_text()
    assert "more metrics that moved" not in html and "… and" not in html and "shown here" not in html
    assert html.split('<table class="changes">')[1].split("</tbody>")[0].count("<tr><td>") == 8
    assert len(strict_json(render.compare_data(page).read_text())["changes"]) == 9


def test_the_json_is_the_same_with_or_without_orjson(monkeypatch):
    doc = comparison(20, warnings=1).to_json()
    fast = render.json_text(doc)
    monkeypatch.setitem(sys.modules, "orjson", None)  # import orjson now raises ImportError
    slow = render.json_text(doc)
    assert fast != slow and strict_json(fast) == strict_json(slow) == json.loads(json.dumps(doc))


def test_the_json_sits_beside_the_page_and_never_replaces_it(tmp_path):
    assert render.compare_data(tmp_path / "a_vs_b.html") == tmp_path / "a_vs_b.json"
    assert render.compare_data(tmp_path / "page.json") == tmp_path / "page.rows.json"
