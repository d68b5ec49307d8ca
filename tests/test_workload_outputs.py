"""worker.workload's pure parts: which outputs are detections, their digest, and the image input of a signature.

NumPy only: the module imports TensorFlow inside the functions that need it, and these do not.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest

from tfmatrix.worker import workload
from tfmatrix.worker.contract import ModelSpec


def od_api_outputs(batch: int = 2, n: int = 5, num: tuple[float, ...] = (5.0, 2.0)) -> dict[str, Any]:
    """What the TF2 Object Detection API's serving signature returns (classes and counts as float32)."""
    rng = np.random.default_rng(0)
    return {
        "detection_boxes": rng.random((batch, n, 4), dtype=np.float32),
        "detection_scores": np.sort(rng.random((batch, n), dtype=np.float32), axis=1)[:, ::-1].copy(),
        "detection_classes": rng.integers(1, 91, (batch, n)).astype(np.float32),
        "num_detections": np.array(num, dtype=np.float32),
        "detection_multiclass_scores": rng.random((batch, n, 91), dtype=np.float32),
        "raw_detection_boxes": rng.random((batch, 100, 4), dtype=np.float32),
    }


def test_importing_the_workload_does_not_import_tensorflow():
    assert "tensorflow" not in sys.modules


def test_detection_outputs_prefers_the_detection_names():
    names, why = workload.detection_outputs(od_api_outputs())
    assert why == "" and names == {"boxes": "detection_boxes", "scores": "detection_scores",
                                   "classes": "detection_classes", "num": "num_detections"}


def test_detection_outputs_falls_back_to_the_one_output_ending_in_each_role():
    out = {"pred_boxes": np.zeros((1, 3, 4), np.float32), "pred_scores": np.zeros((1, 3), np.float32),
           "pred_classes": np.zeros((1, 3), np.int32)}
    names, why = workload.detection_outputs(out)
    assert why == "" and names == {"boxes": "pred_boxes", "scores": "pred_scores", "classes": "pred_classes"}


def test_detections_digest_keeps_the_top_k_of_each_image():
    out = od_api_outputs()
    d = workload.detections_digest(out, top_k=3)
    assert d["top_k"] == 3 and len(d["images"]) == 2 and len(d["sha256"]) == 64
    first, second = d["images"]
    assert first["num_detections"] == 5 and len(first["boxes"]) == len(first["scores"]) == 3
    assert second["num_detections"] == 2 and len(second["boxes"]) == len(second["classes"]) == 2
    assert first["classes"] == [int(c) for c in out["detection_classes"][0, :3]]
    assert all(type(c) is int for c in first["classes"])
    assert first["scores"] == [round(float(s), 5) for s in out["detection_scores"][0, :3]]
    assert first["boxes"][0] == [round(float(c), 4) for c in out["detection_boxes"][0, 0]]
    assert d["outputs"]["num"] == "num_detections"


def test_detections_digest_is_stable_and_changes_with_the_detections():
    d = workload.detections_digest(od_api_outputs(), top_k=3)
    assert workload.detections_digest({k: v.copy() for k, v in od_api_outputs().items()}, 3)["sha256"] == d["sha256"]
    moved = od_api_outputs()
    moved["detection_boxes"][1, 0, 2] += 0.25
    assert workload.detections_digest(moved, 3)["sha256"] != d["sha256"]
    beyond = od_api_outputs()
    beyond["detection_scores"][0, 4] = 0.0  # past top_k: not part of the digest
    assert workload.detections_digest(beyond, 3)["sha256"] == d["sha256"]
    assert workload.detections_digest(od_api_outputs(), 5)["sha256"] != d["sha256"]


def test_detections_digest_without_a_count_keeps_every_row_up_to_top_k():
    out = od_api_outputs()
    del out["num_detections"]
    d = workload.detections_digest(out, top_k=10)
    assert [img["num_detections"] for img in d["images"]] == [5, 5]
    assert [len(img["boxes"]) for img in d["images"]] == [5, 5] and "num" not in d["outputs"]


def test_logits_are_not_comparable_detections():
    d = workload.detections_digest({"logits": np.zeros((1, 1000), np.float32)}, top_k=10)
    assert set(d) == {"not_comparable"}
    assert "logits" in d["not_comparable"] and "no single boxes output" in d["not_comparable"]


def test_two_candidate_outputs_for_a_role_are_not_comparable():
    out = {"a_boxes": np.zeros((1, 3, 4)), "b_boxes": np.zeros((1, 3, 4)), "scores": np.zeros((1, 3)),
           "classes": np.zeros((1, 3))}
    d = workload.detections_digest(out, top_k=10)
    assert "a_boxes, b_boxes" in d["not_comparable"]


@pytest.mark.parametrize("change", [
    {"detection_boxes": np.zeros((2, 5, 3), np.float32)},  # not 4 coordinates
    {"detection_boxes": np.zeros((2, 20), np.float32)},  # not [batch, N, 4]
    {"detection_scores": np.zeros((2, 4), np.float32)},  # not one score per box
])
def test_boxes_of_the_wrong_shape_are_not_comparable(change: dict[str, Any]):
    out = od_api_outputs()
    out.update(change)
    d = workload.detections_digest(out, top_k=10)
    assert set(d) == {"not_comparable"} and "detection_boxes" in d["not_comparable"]
    assert "are not [batch, N, 4] / [batch, N] detections" in d["not_comparable"]


# --------------------------------------------------------------------------- input_spec


def info(**inputs: tuple[str, list[int] | None]) -> dict[str, Any]:
    """What inspect() says of a signature's inputs (unknown dimensions are -1, as TensorShapeProto has them)."""
    return {"signature": "serving_default",
            "inputs": {name: {"dtype": dtype, "shape": shape} for name, (dtype, shape) in inputs.items()}}


BROUGHT = ModelSpec(id="od", source="saved_model", path="/models/od", input_size=(96, 128))
NO_SIZE = ModelSpec(id="od", source="saved_model", path="/models/od")


def test_input_spec_completes_a_dynamic_size_from_input_size():
    spec = workload.input_spec(info(input_tensor=("uint8", [-1, -1, -1, 3])), BROUGHT)
    assert spec == {"name": "input_tensor", "dtype": "uint8", "height": 96, "width": 128, "channels": 3,
                    "fixed_batch": None}


def test_input_spec_reads_a_fixed_batch():
    spec = workload.input_spec(info(input_tensor=("uint8", [1, -1, -1, 3])), BROUGHT)
    assert spec["fixed_batch"] == 1 and (spec["height"], spec["width"]) == (96, 128)


def test_input_spec_keeps_a_static_size_over_input_size():
    spec = workload.input_spec(info(images=("float32", [-1, 320, 320, 3])), BROUGHT)
    assert (spec["name"], spec["dtype"], spec["height"], spec["width"]) == ("images", "float32", 320, 320)
    assert spec["fixed_batch"] is None
    assert workload.input_spec(info(images=("float32", [-1, 320, 320, 3])), NO_SIZE)["height"] == 320


def test_input_spec_mixes_a_static_height_with_a_dynamic_width():
    spec = workload.input_spec(info(x=("uint8", [-1, 64, -1, 1])), BROUGHT)
    assert (spec["height"], spec["width"], spec["channels"]) == (64, 128, 1)


def test_input_spec_wants_one_image_input():
    with pytest.raises(ValueError, match="feeds one image tensor") as e:
        workload.input_spec(info(images=("uint8", [-1, -1, -1, 3]), true_shapes=("int32", [-1, 3])), BROUGHT)
    assert "takes 2 inputs" in str(e.value) and "images, true_shapes" in str(e.value)
    with pytest.raises(ValueError, match="feeds one image tensor"):
        workload.input_spec(info(tokens=("string", [-1])), BROUGHT)
    with pytest.raises(ValueError, match=r"rank 4, \[batch, height, width, 3\]"):
        workload.input_spec(info(x=("uint8", [-1, -1, -1, 4])), BROUGHT)


def test_input_spec_needs_input_size_where_the_size_is_dynamic():
    with pytest.raises(ValueError, match="set input_size"):
        workload.input_spec(info(input_tensor=("uint8", [-1, -1, -1, 3])), NO_SIZE)
    with pytest.raises(ValueError, match="set input_size"):  # unknown rank: everything dynamic
        workload.input_spec(info(input_tensor=("uint8", None)), NO_SIZE)


def test_fidelity_times_bare_and_timed_calls_in_alternating_rounds(monkeypatch):
    import time

    calls: list[str] = []

    def bare(**inputs):
        calls.append("bare")
        time.sleep(0.01)

    def timed(fn, batch, spec):  # the timed region: the same call plus 3 ms of conversions
        fn(**{spec["name"]: batch})
        calls[-1] = "ours"
        time.sleep(0.003)

    monkeypatch.setattr(workload, "feed", lambda batch, spec: batch)
    monkeypatch.setattr(workload, "infer", timed)
    ratios = workload.fidelity(bare, "x", {"name": "inputs"}, rounds=6)
    assert len(ratios) == 6 and 1.1 < sorted(ratios)[3] < 1.8  # 13 ms over 10 ms, on a busy machine
    assert calls[:2] == ["bare", "ours"]  # both warmed once, then rounds in alternating order
    assert calls[2:] == ["bare", "ours", "ours", "bare"] * 3
