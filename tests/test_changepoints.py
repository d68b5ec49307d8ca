"""changepoints: asv's step detection over the history of runs."""

from __future__ import annotations

import random

import pytest
from real_runs import QUIET_A, copy_run

from tfmatrix.history import changepoints
from tfmatrix.records import metrics

KEY = ("tf2.20-cpu", "m", metrics.LATENCY)


def run_ids(n: int) -> list[str]:
    return [f"20260101T{i:02d}0000Z-{i:06x}" for i in range(n)]


def history(levels: list[float], noise: float, seed: int = 0, n: int = 20) -> list[tuple[str, dict]]:
    """One run per level: ``n`` samples spread ``noise`` around it, plus run-to-run jitter."""
    rng = random.Random(seed)
    out = []
    for rid, lvl in zip(run_ids(len(levels)), levels):
        centre = lvl * rng.gauss(1, noise)
        out.append((rid, {KEY: [centre * rng.uniform(1 - noise, 1 + noise) for _ in range(n)]}))
    return out


@pytest.mark.parametrize("n,k", [(3, 1), (6, 3), (10, 2), (12, 9), (20, 15)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_clear_step_is_found_at_the_run_where_it_starts(n, k, seed):
    runs = history([0.1] * k + [0.15] * (n - k), noise=0.02, seed=seed)
    found = changepoints.find_change_points(runs)
    assert [(c.combination, c.model, c.metric) for c in found] == [KEY]
    cp = found[0]
    assert cp.run_id == runs[k][0]
    assert cp.ratio == pytest.approx(1.5, rel=0.1)
    assert cp.before == pytest.approx(0.1, rel=0.1) and cp.after == pytest.approx(0.15, rel=0.1)
    assert cp.verdict == "regression" and cp.unit == "seconds"


def test_an_improvement_is_found_too():
    runs = history([0.15] * 5 + [0.1] * 5, noise=0.02)
    (cp,) = changepoints.find_change_points(runs)
    assert cp.run_id == runs[5][0] and cp.verdict == "improvement"


def test_a_higher_is_better_metric_falling_is_a_regression():
    key = ("tf2.20-cpu", "m", metrics.throughput(4))
    runs = [(rid, {key: samples}) for rid, m in history([8.0] * 5 + [5.0] * 5, noise=0.02) for samples in m.values()]
    (cp,) = changepoints.find_change_points(runs)
    assert cp.ratio < 1 and cp.verdict == "regression" and cp.unit == "images/s"


@pytest.mark.parametrize("n", [2, 5, 12, 30])
@pytest.mark.parametrize("seed", range(5))
def test_a_flat_noisy_history_has_no_change_point(n, seed):
    assert changepoints.find_change_points(history([0.1] * n, noise=0.02, seed=seed)) == []


def test_one_outlying_run_is_not_two_changes():
    runs = history([0.1] * 4 + [0.15] + [0.1] * 4, noise=0.01)
    assert changepoints.find_change_points(runs) == []


def test_two_runs_alone_never_show_a_change():
    assert changepoints.find_change_points(history([0.1, 0.2], noise=0.01)) == []


def test_a_run_without_the_metric_is_a_gap_not_a_level():
    runs = history([0.1] * 4 + [0.15] * 4, noise=0.01)
    runs.insert(2, ("20260101T025900Z-aaaaaa", {}))  # a run that failed: no samples for the key
    (cp,) = changepoints.find_change_points(runs)
    assert cp.run_id == runs[5][0]


def test_change_points_for_reads_every_run_folder_in_order(tmp_path):
    """Six copies of a real run, the last three with tf2.20-cpu's import 1.5x slower (+-1 % per run)."""
    ids = run_ids(6)
    for i, rid in enumerate(ids):
        def change(doc, i=i):
            if doc["combination"]["id"] != "tf2.20-cpu":
                return None
            imp = next(p for p in doc["phases"] if p["phase"] == "import")
            imp["samples"] = [s * (1.5 if i >= 3 else 1.0) * (1 + 0.01 * (i % 2)) for s in imp["samples"]]
            doc["phases"] = [p for p in doc["phases"] if p["phase"] in ("probe", "import")]
            return doc
        copy_run(QUIET_A, tmp_path, rid, change=change)
    (tmp_path / "asv").mkdir()  # not a run folder
    (tmp_path / ids[2] / "broken.json").write_text("{")  # left out, not fatal
    (cp,) = changepoints.change_points_for(tmp_path)
    assert (cp.combination, cp.model, cp.metric, cp.run_id) == ("tf2.20-cpu", None, metrics.IMPORT, ids[3])
    assert cp.ratio == pytest.approx(1.5, rel=0.03)
