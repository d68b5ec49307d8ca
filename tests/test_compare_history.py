"""compare's run-to-run noise from the history cache: the same comparison with a warm, a stale, a corrupt or no
cache as from the earlier runs read in full."""

from __future__ import annotations

import sqlite3

import pytest
from real_runs import QUIET_A, copy_run, crashed, slowed

from tfmatrix.history import compare
from tfmatrix.history.markdown import render_markdown
from tfmatrix.records import runcache
from tfmatrix.records.store import load_run, run_folders


def as_data(cmp: compare.Comparison) -> dict:
    """Everything a comparison says, as data, and its markdown."""
    return {"runs": (cmp.base_run, cmp.candidate_run), "changes": [c.to_json() for c in cmp.changes],
            "status": [s.to_json() for s in cmp.status_changes], "only": (cmp.only_in_base, cmp.only_in_candidate),
            "warnings": cmp.warnings, "history": cmp.history, "markdown": render_markdown(cmp)}


def read_in_full(base, cand, history: int = compare.DEFAULT_HISTORY) -> compare.Comparison:
    """The comparison as compare made it before the cache: every earlier run loaded and its samples kept."""
    warnings: list[str] = []
    b, c = compare.readable_run(base, warnings), compare.readable_run(cand, warnings)
    earlier = [f for f in compare.earlier_runs(cand, history) if f != cand]
    earlier += [] if base in earlier else [base]
    runs = [(f.name, compare.series(load_run(f).records)) for f in earlier]
    cmp = compare.compare_runs(b.by_id(), c.by_id(), base_run=base.name, candidate_run=cand.name, history=runs)
    cmp.warnings = warnings
    return cmp


@pytest.fixture
def results(tmp_path):
    """Six earlier runs whose timings move by up to 30 % (one with a crash), a candidate, and a run after it."""
    root = tmp_path / "results"
    for i, f in enumerate([1.0, 1.3, 1.0, 1.2, 1.0, 1.1]):
        copy_run(QUIET_A, root, f"20261201T00000{i}Z-00000{i}", crashed("tf2.20-cpu") if i == 2 else slowed(f))
    copy_run(QUIET_A, root, "20261201T000009Z-000009", slowed(1.3))
    copy_run(QUIET_A, root, "20261201T000010Z-000010")  # after the candidate: never its history
    return root


def compared(root, history: int = compare.DEFAULT_HISTORY) -> dict:
    runs = run_folders(root)
    return as_data(compare.compare_folders(runs[-3], runs[-2], history=history))


def test_the_noise_from_the_cache_is_the_noise_from_the_records(results):
    runs = run_folders(results)
    expected = as_data(read_in_full(runs[-3], runs[-2]))
    assert any(c["noise"] is not None for c in expected["changes"]) and len(expected["history"]) == 6
    cold = compared(results)  # no cache yet: it is written
    assert (results / runcache.NAME).exists()
    warm = compared(results)
    assert cold == expected and warm == expected


def test_a_corrupt_a_deleted_or_a_stale_cache_gives_the_same_comparison(results):
    runs = run_folders(results)
    compared(results)
    (results / runcache.NAME).write_bytes(b"not SQLite at all" * 100)
    assert compared(results) == as_data(read_in_full(runs[-3], runs[-2]))
    (results / runcache.NAME).unlink()
    assert compared(results) == as_data(read_in_full(runs[-3], runs[-2]))
    # an earlier run changed after it was cached: its medians are read again (its digest changed)
    before = compared(results)
    record = runs[0] / "tf2.20-cpu.json"
    record.write_text(record.read_text().replace('"samples": [', '"samples": [9.5, 9.5, 9.5, ', 1))
    fresh = as_data(read_in_full(runs[-3], runs[-2]))
    assert fresh["changes"] != before["changes"] and compared(results) == fresh


def test_a_cache_that_cannot_be_opened_means_reading_the_runs(results, monkeypatch):
    runs = run_folders(results)
    expected = as_data(read_in_full(runs[-3], runs[-2]))

    def refuse(root):
        raise sqlite3.OperationalError("unable to open database file")
    monkeypatch.setattr(runcache, "Cache", refuse)
    assert compared(results) == expected and not (results / runcache.NAME).exists()


def test_no_history_touches_no_cache(results):
    assert compared(results, history=0)["history"] == [run_folders(results)[-3].name]
    assert not (results / runcache.NAME).exists()

