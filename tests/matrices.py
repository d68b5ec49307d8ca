"""Matrices the tests share (data, not tests): a small valid matrix as data, and the tiny matrix file
the integration tests run for real with nox, uv and TensorFlow."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tfmatrix.matrix.load import parse_matrix
from tfmatrix.matrix.model import Matrix

#: A small valid matrix (as data); tests copy it and change one thing.
BASE: dict[str, Any] = {
    "schema_version": 1,
    "pythons": ["3.11"],
    "tensorflow": [
        {"version": "2.15.1", "models_official": "2.15.0", "requires": ["numpy<2"]},
        {"version": "2.20.0", "models_official": "2.20.0"},
    ],
    "stacks": [
        {"id": "cpu", "kind": "cpu"},
        {"id": "cuda-pip", "kind": "cuda-pip"},
        {"id": "cuda-system", "kind": "cuda-system", "library_path": ["/usr/local/cuda/lib64"]},
    ],
    "models": [
        {"id": "small", "experiment": "retinanet_resnetfpn_coco", "input_size": [256, 256]},
        {"id": "big", "experiment": "retinanet_resnetfpn_coco", "input_size": [640, 640],
         "stacks": ["cuda-pip", "cuda-system"]},
    ],
}


#: The small model alone, for tests that drop the cuda-system stack the big one names.
SMALL_ONLY = [BASE["models"][0]]


def base(**changes: Any) -> dict[str, Any]:
    d = copy.deepcopy(BASE)
    d.update(copy.deepcopy(changes))
    return d


def matrix_with(stack_hw: Any = None, tf_hw: Any = None, profile_hw: Any = None) -> Matrix:
    """BASE with hardware needs on the cuda-pip stack, the TF 2.20 entry and/or the default profile."""
    data = copy.deepcopy(BASE)
    if stack_hw is not None:
        data["stacks"][1]["hardware"] = stack_hw
    if tf_hw is not None:
        data["tensorflow"][1]["hardware"] = tf_hw
    if profile_hw is not None:
        data["profiles"] = {"default": {"hardware": profile_hw}}
    return parse_matrix(data, "m.yaml", sha256="0" * 64)


def python_version() -> str:
    return "%d.%d" % sys.version_info[:2]


#: a short workload (``.format``-escaped), for the integration tests' matrices of any model source
TINY_WORKLOAD = """\
workload:
  images: 2
  batch_sizes: [1, 2]
  warmup: 1
  latency: {{min_queries: 5, min_seconds: 0.5}}
  throughput: {{min_queries: 3, min_seconds: 0.3}}
  load_repeats: 2
  import_repeats: 2
"""
#: The tiny RetinaNet's overrides (after its ``input_size``) and the short workload (``.format``-escaped).
TINY_MODEL_AND_WORKLOAD = """\
    overrides:
      task:
        model:
          backbone: {{type: mobilenet, mobilenet: {{model_id: MobileNetV2}}}}
          detection_generator: {{nms_version: batched, pre_nms_top_k: 200, pre_nms_score_threshold: 0.008}}
""" + TINY_WORKLOAD

#: The integration tests' matrix (``.format(python=python_version())``): a working TF 2.20, an unresolvable
#: pin, and the two known-bad reproductions, with one small model and a short workload.
TINY_MATRIX = """\
schema_version: 1
pythons: ["{python}"]
tensorflow:
  - version: "2.20.0"
    models_official: "2.20.0"
  - id: tfbad
    version: "2.20.0"
    models_official: "2.15.0"     # tf-models-official 2.15 wants tensorflow~=2.15: unresolvable
  - id: tf2.15-numpy2
    version: "2.15.1"
    models_official: "2.15.0"
    requires: ["tensorflow-metadata<1.18"]
    force: ["numpy>=2"]
    expect: numpy-abi
    stacks: [cpu]
  - id: tf2.15-protobuf7
    version: "2.15.1"
    models_official: "2.15.0"
    requires: ["numpy<2", "tensorflow-metadata<1.18"]
    force: ["protobuf>=7"]
    expect: degraded
    stacks: [cpu]
stacks:
  - {{id: cpu, kind: cpu}}
  - {{id: cuda-pip, kind: cuda-pip}}
  - {{id: cuda-system, kind: cuda-system, library_path: ["/nonexistent/cuda/lib64"]}}
models:
  - id: retinanet-mnv2-128
    experiment: retinanet_resnetfpn_coco
    input_size: [128, 128]
""" + TINY_MODEL_AND_WORKLOAD + """\
profiles:
  default:
    tensorflow: [tf2.20, tfbad]
  known-bad:
    tensorflow: [tf2.15-numpy2, tf2.15-protobuf7]
"""


def run_nox(matrix: Path, *args: str, profile: str = "default", cache: str = "cache", results: str = "results",
            reports: str = "reports") -> subprocess.CompletedProcess[str]:
    """Real nox on the project's noxfile with ``matrix``; the run's folders beside the matrix file."""
    d = matrix.parent
    env = dict(os.environ, TFMATRIX_MATRIX=str(matrix), TFMATRIX_RESULTS=str(d / results),
               TFMATRIX_CACHE=str(d / cache), TFMATRIX_PROFILE=profile, TFMATRIX_REPORTS=str(d / reports))
    for k in ("TFMATRIX_RUN_ID", "TFMATRIX_ASSUME_GPU"):
        env.pop(k, None)
    return subprocess.run([sys.executable, "-m", "nox", "-f", str(Path(__file__).resolve().parents[1] / "noxfile.py"),
                           *args], capture_output=True, text=True, env=env, timeout=3000)


#: A plain SavedModel (``python -c MAKE_SAVED_MODEL FOLDER [BALLAST]``): a tf.Module with fixed-seed weights, one
#: uint8 image input with a dynamic size.  BALLAST (default 0) more variables its signature never reads make a
#: model deliberately slower to load, the same detections: ``tf.saved_model.load`` restores every variable.
MAKE_SAVED_MODEL = r"""
import sys
import tensorflow as tf

class Detector(tf.Module):
    def __init__(self):
        g = tf.random.Generator.from_seed(7)
        self.kernel = tf.Variable(g.normal([3, 3, 3, 8]))
        self.box = tf.Variable(g.normal([8, 10 * 4]))
        self.cls = tf.Variable(g.normal([8, 10 * 5]))
        ballast = int(sys.argv[2]) if len(sys.argv) > 2 else 0
        self.ballast = [tf.Variable(g.normal([4]), name=f"ballast_{i}") for i in range(ballast)]

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="input_tensor")])
    def detect(self, input_tensor):
        x = tf.cast(input_tensor, tf.float32) / 255.0
        x = tf.nn.relu(tf.nn.conv2d(x, self.kernel, strides=2, padding="SAME"))
        feat = tf.reduce_mean(x, axis=[1, 2])
        corners = tf.sigmoid(tf.reshape(feat @ self.box, [-1, 10, 2, 2]))
        boxes = tf.concat([tf.reduce_min(corners, axis=2), tf.reduce_max(corners, axis=2)], axis=-1)
        logits = tf.reshape(feat @ self.cls, [-1, 10, 5])
        return {"detection_boxes": boxes, "detection_scores": tf.reduce_max(tf.nn.softmax(logits), -1),
                "detection_classes": tf.cast(tf.argmax(logits, -1), tf.float32),
                "num_detections": tf.fill([tf.shape(x)[0]], 10.0)}

m = Detector()
tf.saved_model.save(m, sys.argv[1], signatures={"serving_default": m.detect})
"""


def make_saved_models(where: Path, requirements: list[str], ballast: dict[str, int]) -> None:
    """SavedModels of :data:`MAKE_SAVED_MODEL`, made in a venv of their own (``where/maker``, with
    ``requirements``) before nox reads the matrix naming them: ``where/NAME`` with that many ballast variables."""
    from tfmatrix.run.provisioning.install import find_uv

    uv = find_uv()
    assert uv, "the integration tests need uv"
    maker = where / "maker"
    subprocess.run([uv, "venv", "--quiet", "--python", python_version(), str(maker)], check=True)
    subprocess.run([uv, "pip", "install", "--quiet", "--python", str(maker / "bin" / "python"), *requirements],
                   check=True)
    for name, extra in ballast.items():
        proc = subprocess.run([str(maker / "bin" / "python"), "-c", MAKE_SAVED_MODEL, str(where / name), str(extra)],
                              capture_output=True, text=True, env=dict(os.environ, CUDA_VISIBLE_DEVICES=""))
        assert proc.returncode == 0, proc.stderr[-3000:]

