"""changepoints: asv's step detection over the history of runs."""

from __future__ import annotations

import json
import random

import pytest

from tfmatrix import changepoints

KEY = ("tf2.20-cpu", "m", "latency[b1]")


def run_ids(n: int) -> list[str]:
    return [f"20260101T{i:02d}0000Z-{i:06x}" for i in range(n)]


def history(levels: list[float], noise: float, seed: int = 0, n: int = 20) -> list[tuple[str, dict]]:
    """One run per level: ``n`` samples spread ``noise`` around it, plus run-to-run jitter."""
    rng = random.Random(seed)
    out = []
    for rid, lvl in zip(run_ids(len(levels)), levels):
        centre = lvl * rng.gauss(1, noise)
        out.append((rid, {KEY: ("seconds", [centre * rng.uniform(1 - noise, 1 + noise) for _ in range(n)])}))
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
    ids = run_ids(6)
    for i, rid in enumerate(ids):
        folder = tmp_path / rid
        folder.mkdir()
        (folder / "run.json").write_text(json.dumps({"kind": "run", "run_id": rid}))
        level = 2.0 if i < 3 else 3.0
        record = {"kind": "combination", "combination": {"id": "c"}, "status": "ok", "outcome": "ok",
                  "phases": [{"phase": "import", "model": None, "batch": None, "status": "ok", "unit": "seconds",
                              "samples": [level * (1 + 0.01 * j) for j in range(3)]}]}
        (folder / "c.json").write_text(json.dumps(record))
    (tmp_path / "asv").mkdir()  # not a run folder
    (cp,) = changepoints.change_points_for(tmp_path)
    assert (cp.combination, cp.model, cp.metric, cp.run_id) == ("c", None, "import", ids[3])
