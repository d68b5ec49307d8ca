"""drawing: the run page's figures drawn in a child process are those drawn in the report's process."""

from __future__ import annotations

import pytest
from real_runs import WITH_WEIGHTS, copy_run

from tfmatrix.records.store import load_run
from tfmatrix.report import data, plots
from tfmatrix.report.drawing import Drawing


@pytest.fixture
def folder(tmp_path):
    results = tmp_path / "results"
    copy_run(WITH_WEIGHTS, results)
    return results / WITH_WEIGHTS


def test_the_child_draws_the_figures_drawn_here(folder):
    records = list(load_run(folder).by_id().values())
    here = plots.draw_all(data.metrics_frame(records), records)
    with Drawing(plots.draw_all, folder) as drawing:
        assert drawing.future is not None  # drawn in a child, not here
        there = drawing.plots(None, records)  # the child's own frame: what it was given here is not used
    assert [(p.title, p.data_uri) for p in there] == [(p.title, p.data_uri) for p in here] and here


def test_plots_that_cannot_go_to_a_child_are_drawn_here(folder):
    seen = []
    with Drawing(lambda frame, records: seen.append(frame) or ["drawn"], folder) as drawing:
        assert drawing.future is None
        assert drawing.plots("frame", []) == ["drawn"] and seen == ["frame"]


def test_no_plots_no_child(folder):
    with Drawing(None, folder) as drawing:
        assert drawing.pool is None and drawing.future is None
