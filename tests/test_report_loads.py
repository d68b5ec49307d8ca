"""report.loads: the cross-version load grid; and compare keeping loads of different exports apart."""

from __future__ import annotations

import dataclasses

from synthetic import info, phase, record

from tfmatrix.history import compare
from tfmatrix.records.model import CombinationRecord, Producer
from tfmatrix.report.loads import build_loads

DETECTIONS = {"top_k": 1, "sha256": "d" * 64,
              "images": [{"num_detections": 1, "boxes": [[0.1, 0.1, 0.5, 0.5]], "scores": [0.9], "classes": [1]}]}


def loaded(cid: str, tensorflow: str, source: str, relation: str, p50: float, *, model: str = "m",
           detections: dict | None = None, exporter: str = "tf2.15-cpu") -> CombinationRecord:
    first = {"inputs_sha256": "i" * 64, "weights_sha256": "w" * 64, "detections": detections or DETECTIONS}
    rec = record(cid, models=(model,), phases=[
        phase("load", model, samples=[2.0, 2.2, 2.1]),
        phase("first-inference", model, batch=1, samples=[0.5], extra=first),
        phase("latency", model, batch=1, samples=[p50] * 5),
    ], producers=[Producer(model=model, source=source, path="/cache/exports/x", combination=exporter,
                           tensorflow="2.15.1", tensorflow_id="tf2.15", relation=relation)])
    return dataclasses.replace(rec, combination=info(cid, (model,), tensorflow=tensorflow))


def moved(dx: float) -> dict:
    image = dict(DETECTIONS["images"][0], boxes=[[0.1 + dx, 0.1, 0.5 + dx, 0.5]])
    return dict(DETECTIONS, sha256="e" * 64, images=[image])


def test_one_grid_per_model_whose_export_crossed_versions():
    recs = {r.id: r for r in [
        loaded("tf2.20-cpu", "2.20.0", "shared", "newer", 0.2),
        loaded("tf2.15-cpu", "2.15.1", "own", "same", 0.1),
        loaded("tf2.13-cpu", "2.13.1", "shared", "older-than-producer", 0.1, detections=moved(0.2)),
        loaded("tf2.15-cpu-b", "2.15.1", "own", "same", 0.1, model="alone", exporter="tf2.15-cpu-b"),
    ]}
    (grid,) = build_loads(recs)  # "alone" was exported by its only consumer: no grid
    assert grid.model == "m"
    assert grid.consumers == ("tf2.13-cpu", "tf2.15-cpu", "tf2.20-cpu")  # by TensorFlow version
    (row,) = grid.rows
    assert row.producer == "exported by TF 2.15.1 (tf2.15-cpu)" and row.producer_combination == "tf2.15-cpu"
    older, own, newer = row.cells
    assert own.drift == "the producer itself" and own.latency_ratio == "×1.00" and not own.flagged
    assert newer.relation == "newer" and newer.latency_ratio == "×2.00" and newer.drift == "identical"
    assert newer.load == "2.10 s" and not newer.flagged
    assert older.relation == "older-than-producer" and older.flagged  # outside TensorFlow's promise
    assert older.drift.startswith("drift: ") and older.drift.endswith("1 unmatched")  # moved off its IoU match
    assert "outside" in older.relation_text


def test_a_small_move_is_within_tolerance():
    recs = {r.id: r for r in [loaded("tf2.15-cpu", "2.15.1", "own", "same", 0.1),
                              loaded("tf2.20-cpu", "2.20.0", "shared", "newer", 0.1, detections=moved(0.01))]}
    cell = build_loads(recs)[0].rows[0].cells[1]
    assert cell.drift == "differs within tolerance" and not cell.flagged


def test_without_the_producers_own_combination_nothing_is_compared():
    recs = {r.id: r for r in [loaded("tf2.20-cpu", "2.20.0", "shared", "newer", 0.2)]}
    (grid,) = build_loads(recs)
    (cell,) = grid.rows[0].cells
    assert cell.latency_ratio == "–"
    assert cell.drift == "not comparable: the producer's own combination is not in this run"


def test_compare_never_judges_a_load_of_another_export_against_an_own_export():
    own = loaded("tf2.20-cpu", "2.20.0", "own", "same", 0.1, exporter="tf2.20-cpu")
    shared = loaded("tf2.20-cpu", "2.20.0", "shared", "newer", 0.3)  # 3x slower: but another model
    cmp = compare.compare_runs({"tf2.20-cpu": own}, {"tf2.20-cpu": shared})
    assert not any(c.metric.key == "latency" for c in cmp.changes)
    assert shared.benchmark_model("m") == "m @ from tf2.15-cpu (2.15.1)" and own.benchmark_model("m") == "m"
    same = compare.compare_runs({"tf2.20-cpu": shared}, {"tf2.20-cpu": loaded("tf2.20-cpu", "2.20.0", "shared",
                                                                               "newer", 0.3)})
    (lat,) = [c for c in same.changes if c.metric.key == "latency"]
    assert lat.model == "m @ from tf2.15-cpu (2.15.1)" and lat.verdict == "unchanged"
