"""The platform grid of a run's predictions (tfmatrix.report.platforms) and its section of the run page."""

from __future__ import annotations

import re

from tfmatrix.report import render
from tfmatrix.report.platforms import build_platforms

WHY = "tensorflow-text 2.15.0 has no win_amd64 wheel; it is required by tf-models-official 2.15.0"


def test_no_predictions_no_grid():
    assert build_platforms([]) is None


def test_the_grid_is_combination_by_platform_with_counts_and_statements_once(make_prediction):
    grid = build_platforms([
        make_prediction("tf2.15-cpu", "windows", "no-wheel", WHY, "export on Linux"),
        make_prediction("tf2.21-cpu", "windows"),
        make_prediction("tf2.21-cuda-pip", "windows"),
        make_prediction("tf2.15-cuda-pip", "windows", "no-wheel", "nvidia-nccl-cu12 2.16.5 has no win_amd64 wheel"),
        make_prediction("tf2.21-cpu", "macos-arm64"),
    ])
    assert grid is not None
    assert grid.columns == ["macos-arm64, Python 3.11", "windows, Python 3.11"]
    assert grid.counts == ["1 of 1 installable", "2 of 4 installable"]
    rows = {r.combination: r for r in grid.rows}
    assert list(rows) == sorted(rows)
    mac, win = rows["tf2.15-cpu"].cells
    assert mac is None and win is not None
    assert (win.verdict, win.css, win.why, win.fix) == ("no-wheel", "install-failed", WHY, "export on Linux")
    assert [c.verdict if c else None for c in rows["tf2.21-cuda-pip"].cells] == [None, "installable, no GPU"]
    assert rows["tf2.21-cuda-pip"].cells[1].css == "degraded"
    (statement,) = grid.statements
    assert statement.statement == "no GPU on native Windows after TF 2.10 (use WSL2)"
    assert statement.combinations == ["tf2.21-cuda-pip", "tf2.15-cuda-pip"]


def test_a_run_of_predictions_only_has_a_page_with_the_grid(tmp_path, new_run, make_prediction):
    run = new_run()
    for p in (make_prediction("tf2.15-cpu", "windows", "no-wheel", WHY, run_id=run.run_id),
              make_prediction("tf2.21-cpu", "windows", run_id=run.run_id)):
        run.write_prediction(p)
    built = render.build_report(run.path.parent, tmp_path / "reports", run.run_id, generated_at="2026-12-07T00:00:00Z")
    html = built.run_page.read_text(encoding="utf-8")
    assert 'id="platforms"' in html and 'href="#platforms"' in html
    assert "it holds predictions only" in html
    cells = re.findall(r'<td class="platform" data-verdict="([^"]+)">', html)
    assert sorted(cells) == ["installable", "no-wheel"]
    assert WHY in html and "1 of 2 installable" in html
    assert "Nothing was installed or run there" in html
    assert not any("no readable" in w for w in built.warnings)


def test_the_index_counts_predictions_apart_from_outcomes(tmp_path, new_run, make_prediction):
    run = new_run()
    run.write_prediction(make_prediction("tf2.21-cpu", "windows", run_id=run.run_id))
    built = render.build_report(run.path.parent, tmp_path / "reports", run.run_id, generated_at="2026-12-07T00:00:00Z")
    index = built.index.read_text(encoding="utf-8")
    assert '<span class="badge expected">1 predicted (not run)</span>' in index
