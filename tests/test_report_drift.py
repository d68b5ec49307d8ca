"""report.drift: detections matched by class and IoU; comparable only on the same weights and inputs."""

from __future__ import annotations

import copy
import dataclasses

from real_runs import QUIET_A, WITH_WEIGHTS, typed_records

from tfmatrix.report import drift


def first(record):
    return record.phase("first-inference")


def test_real_records_same_weights_across_keras_2_and_3_but_detections_differ():
    recs = typed_records(WITH_WEIGHTS)
    base = recs["tf2.15-cpu"]
    # the weights hash is name-free: TF 2.15 (Keras 2) and 2.20 (Keras 3) ran the same arrays
    assert first(base).extra["weights_sha256"] == first(recs["tf2.20-cpu"]).extra["weights_sha256"]
    same = drift.compare(base, recs["tf2.15-protobuf7-cpu"], "retinanet-mnv2-256")
    assert same.comparable and same.note == "identical" and not same.flagged
    other = drift.compare(base, recs["tf2.20-cpu"], "retinanet-mnv2-256")
    assert other.comparable and other.compared == 10
    assert other.flagged == (other.unmatched > 0 or other.max_box_delta > drift.BOX_TOLERANCE)


def test_not_comparable_without_weights_hash_or_detections():
    recs = typed_records(QUIET_A)
    d = drift.compare(recs["tf2.15-cpu"], recs["tf2.20-cpu"], "retinanet-mnv2-256")
    assert not d.comparable and "weights hash not recorded" in d.note and not d.flagged
    d = drift.compare(recs["tf2.15-cpu"], recs["tf2.15-numpy2-cpu"], "retinanet-mnv2-256")
    assert not d.comparable and "no detections" in d.note


def _pair():
    base = typed_records(WITH_WEIGHTS)["tf2.15-cpu"]
    cand = copy.deepcopy(base)
    return base, dataclasses.replace(cand, combination=dataclasses.replace(cand.combination, id="cand"))


def test_moved_box_changed_score_and_changed_class_are_flagged():
    base, cand = _pair()
    img = first(cand).extra["detections"]["images"][0]
    first(cand).extra["detections"]["sha256"] = "changed"
    assert not drift.compare(base, cand, "retinanet-mnv2-256").flagged  # same content, other hash: not flagged
    img["boxes"][5] = [c + 2.0 for c in img["boxes"][5]]
    d = drift.compare(base, cand, "retinanet-mnv2-256")
    assert d.flagged and d.max_box_delta == 2.0 and d.unmatched == 0
    img["scores"][3] += 0.01
    assert drift.compare(base, cand, "retinanet-mnv2-256").max_score_delta == 0.01
    img["classes"][6] = 1  # no other detection of its class overlaps it
    assert drift.compare(base, cand, "retinanet-mnv2-256").unmatched == 1


def test_different_weights_or_inputs_are_not_compared():
    base, cand = _pair()
    first(cand).extra["weights_sha256"] = "0" * 64
    assert "different weights" in drift.compare(base, cand, "retinanet-mnv2-256").note
    base, cand = _pair()
    first(cand).extra["inputs_sha256"] = "0" * 64
    assert drift.compare(base, cand, "retinanet-mnv2-256").note == "different input images"


def test_iou():
    assert drift.iou([0, 0, 10, 10], [0, 0, 10, 10]) == 1.0
    assert drift.iou([0, 0, 10, 10], [0, 5, 10, 15]) == 50 / 150
    assert drift.iou([0, 0, 1, 1], [2, 2, 3, 3]) == 0.0
