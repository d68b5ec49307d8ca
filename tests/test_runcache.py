"""The derived history cache: the same summaries, report and change points with a warm, a stale, a broken or no
cache; only changed folders are read again."""

from __future__ import annotations

import os
import random

import pytest
from conftest import run_record
from synthetic import phase, record

from tfmatrix.history import changepoints
from tfmatrix.records import runcache
from tfmatrix.records.store import RunDir, load_run, run_folders
from tfmatrix.report import render

GENERATED_AT = "2026-12-07T00:00:00Z"


def add_run(results, n: int, load_level: float, rng: random.Random, combos=("tf2.15-cpu", "tf2.20-cpu")) -> RunDir:
    run = RunDir(results, f"202601{1 + n // 28:02d}T{n % 24:02d}0000Z-{n:06x}")
    run.ensure(lambda: run_record(run.run_id))
    for cid in combos:
        load = [load_level * rng.lognormvariate(0, 0.02) for _ in range(5)]
        lat = [0.1 * rng.lognormvariate(0, 0.02) for _ in range(9)]
        rec = record(cid, phases=[phase("load", samples=load), phase("latency", batch=1, samples=lat)],
                     started_at="2026-01-01T00:00:00+00:00", ended_at="2026-01-01T00:05:00+00:00")
        rec.run_id = run.run_id
        run.write_record(rec)
    return run


@pytest.fixture
def history(tmp_path):
    """12 runs of two combinations whose load time steps up by 1.5x at the 7th run."""
    results = tmp_path / "results"
    rng = random.Random(7)
    for n in range(12):
        add_run(results, n, 5.0 if n < 6 else 7.5, rng)
    return results


def report(results, reports):
    built = render.build_report(results, reports, generated_at=GENERATED_AT,
                                change_points=changepoints.for_summaries)
    return built.index.read_text(), built.run_page.read_text()


def test_summaries_match_the_records_read_in_full(history):
    folders = run_folders(history)
    with runcache.Cache(history) as cache:
        cold = cache.summaries(folders)
        warm = cache.summaries(folders)
    assert [s.to_json() for s in cold] == [s.to_json() for s in warm]
    assert cold == [runcache.summarise(load_run(f)) for f in folders]
    assert cold[0].counts == {"ok": 2} and len(cold[0].medians) == 4  # load and latency of two combinations


def test_change_points_from_summaries_are_those_of_the_full_records(history):
    full = changepoints.change_points_for(history)
    with runcache.Cache(history) as cache:
        summaries = cache.summaries(run_folders(history))
        cold = changepoints.for_summaries(summaries, cache)
        warm = changepoints.for_summaries(summaries, cache)
    assert full == cold == warm
    assert {(c.combination, c.metric.key, c.run_id) for c in full} == {
        (cid, "load", run_folders(history)[6].name) for cid in ("tf2.15-cpu", "tf2.20-cpu")}


@pytest.mark.parametrize("damage", ["corrupt", "truncated", "deleted", "emptied rows"])
def test_a_broken_cache_gives_the_report_of_no_cache(history, tmp_path, damage):
    expected = report(history, tmp_path / "no-cache")
    path = history / runcache.NAME
    assert path.is_file()
    if damage == "corrupt":
        path.write_bytes(b"not a database at all " * 100)
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:1500])
    elif damage == "deleted":
        path.unlink()
    else:  # rows that parse as SQLite but not as summaries or steps
        import sqlite3
        with sqlite3.connect(path) as db:
            db.execute("UPDATE runs SET summary = '{'")
            db.execute("UPDATE series SET state = '[[1'")
    assert report(history, tmp_path / "damaged") == expected
    assert report(history, tmp_path / "rebuilt") == expected  # and the cache it rebuilt serves the same


def test_a_cache_of_another_layout_is_rebuilt(history, tmp_path, monkeypatch):
    expected = report(history, tmp_path / "first")
    monkeypatch.setattr(runcache, "LAYOUT", runcache.LAYOUT + 1)
    assert report(history, tmp_path / "second") == expected
    import sqlite3
    with sqlite3.connect(history / runcache.NAME) as db:
        assert db.execute("SELECT layout FROM meta").fetchall() == [(runcache.LAYOUT,)]


def test_only_a_new_or_changed_folder_is_read_again(history, monkeypatch):
    with runcache.Cache(history) as cache:
        cache.summaries(run_folders(history))
    read: list[str] = []
    real = runcache.read_all
    monkeypatch.setattr(runcache, "read_all", lambda folders, workers=None: read.extend(f.name for f in folders)
                        or real(folders, workers))
    new = add_run(history, 12, 7.5, random.Random(1))
    changed = run_folders(history)[3]
    victim = changed / "tf2.20-cpu.json"
    os.utime(victim, ns=(victim.stat().st_atime_ns, victim.stat().st_mtime_ns + 1_000_000))
    with runcache.Cache(history) as cache:
        summaries = cache.summaries(run_folders(history))
    assert sorted(read) == sorted([changed.name, new.run_id])
    assert summaries[-1].run_id == new.run_id


def test_a_new_run_refits_only_the_series_it_touches(history, monkeypatch):
    with runcache.Cache(history) as cache:
        changepoints.for_summaries(cache.summaries(run_folders(history)), cache)
    fitted: list[int] = []
    real = changepoints.detect_steps
    monkeypatch.setattr(changepoints, "detect_steps", lambda values: fitted.append(len(values)) or real(values))
    add_run(history, 12, 7.5, random.Random(1), combos=("tf2.20-cpu",))
    with runcache.Cache(history) as cache:
        points = changepoints.for_summaries(cache.summaries(run_folders(history)), cache)
    # tf2.20-cpu's load; its latency stays within 1.10x (changepoints.within: no change point is possible, so it
    # is never fitted), and a gap leaves tf2.15-cpu's series as they were
    assert fitted == [13]
    assert points == changepoints.change_points_for(history)


def test_a_series_within_the_threshold_is_not_fitted_and_has_no_change_point(monkeypatch):
    runs = [runcache.RunSummary(f"2026010{i}T000000Z-{i:06x}", "?", "?", "?", {}, 0,
                                medians={("c", "m", "load"): v}) for i, v in enumerate([1.0, 1.0, 1.099, 1.099] * 2)]
    fitted: list[int] = []
    real = changepoints.detect_steps
    monkeypatch.setattr(changepoints, "detect_steps", lambda values: fitted.append(len(values)) or real(values))
    assert changepoints.for_summaries(runs) == [] and fitted == []
    runs[-1].medians[("c", "m", "load")] = runs[-2].medians[("c", "m", "load")] = 1.2  # now beyond 1.10x: fitted
    assert len(changepoints.for_summaries(runs)) == 1 and fitted == [8]


def test_folders_are_read_in_parallel_with_the_same_result(history):
    folders = run_folders(history)
    assert runcache.read_all(folders, workers=2) == runcache.read_all(folders, workers=1)


def test_a_cache_locked_by_another_report_is_left_alone(history, tmp_path, monkeypatch):
    import sqlite3

    monkeypatch.setattr(runcache, "TIMEOUT", 0.05)
    expected = report(history, tmp_path / "first")
    holder = sqlite3.connect(history / runcache.NAME, timeout=0)
    holder.execute("INSERT INTO series VALUES ('marker', '', '[]')")
    holder.commit()
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert report(history, tmp_path / "while-locked") == expected
    finally:
        holder.rollback()
        holder.close()
    with sqlite3.connect(history / runcache.NAME) as db:  # kept, not thrown away as if broken
        assert db.execute("SELECT key FROM series WHERE key = 'marker'").fetchall() == [("marker",)]


def test_series_fitted_in_parallel_give_the_same_change_points(history, monkeypatch):
    monkeypatch.setattr(changepoints, "PARALLEL_FROM", 1)  # 4 series: two processes
    with runcache.Cache(history) as cache:
        assert changepoints.for_summaries(cache.summaries(run_folders(history)), cache) == \
            changepoints.change_points_for(history)
