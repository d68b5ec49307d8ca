"""The Object Detection workload: Model Garden models, synthetic inputs, digests.

Runs inside a combination's venv.  TensorFlow and the Model Garden are
imported inside the functions, so importing this module stays cheap.

* Models come from ``official.vision`` experiment configs with random weights
  from a fixed seed (no weights can be downloaded), exported as SavedModels with
  ``input_type='image_tensor'`` and a dynamic batch dimension.
* Inputs are synthetic uint8 images from a fixed seed, made with the standard
  library's generator so every combination (NumPy 1.x or 2.x) sees the same
  bytes: noise plus solid rectangles, so NMS has structure to work on.
* The digest summarises the detections on those inputs, so reports can show
  numerical drift between combinations.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import tempfile
import time
from typing import Any

from .contract import ModelSpec


def set_seeds(seed: int) -> None:
    import numpy as np
    import tensorflow as tf

    random.seed(seed)
    np.random.seed(seed)
    tf.random.set_seed(seed)
    try:
        import tf_keras

        tf_keras.utils.set_random_seed(seed)
    except Exception:  # noqa: BLE001 - older stacks without tf_keras
        pass


def is_exported(export_dir: str) -> bool:
    """Does ``export_dir`` hold a finished SavedModel (Model Garden versions differ in the layout)?"""
    return any(os.path.exists(os.path.join(c, "saved_model.pb"))
               for c in (export_dir, os.path.join(export_dir, "saved_model")))


def saved_model_dir(export_dir: str) -> str:
    """The folder holding ``saved_model.pb`` (Model Garden versions differ)."""
    for cand in (export_dir, os.path.join(export_dir, "saved_model")):
        if os.path.exists(os.path.join(cand, "saved_model.pb")):
            return cand
    raise FileNotFoundError(f"no saved_model.pb under {export_dir}")


def build_params(model: ModelSpec) -> Any:
    from official.core import exp_factory
    from official.vision import registry_imports  # noqa: F401 - registers the experiments

    params = exp_factory.get_exp_config(model.experiment)
    h, w = model.input_size
    params.override({"task": {"model": {"input_size": [h, w, 3]}}}, is_strict=True)
    if model.overrides:
        params.override(dict(model.overrides), is_strict=True)
    params.validate()
    params.lock()
    return params


def export_model(model: ModelSpec, export_dir: str, seed: int) -> float:
    """Build with random weights and export into ``export_dir``; return the export's seconds.

    The export is written to a temp folder beside ``export_dir`` and
    renamed into place, so a concurrent or killed export never leaves a
    half-written cache entry; if another process finished first, its export
    is kept and ours is dropped.
    """
    from official.vision.serving import export_saved_model_lib

    set_seeds(seed)
    params = build_params(model)
    parent = os.path.dirname(os.path.abspath(export_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        t0 = time.perf_counter()
        export_saved_model_lib.export_inference_graph(
            input_type="image_tensor", batch_size=None, input_image_size=list(model.input_size),
            params=params, checkpoint_path=None, export_dir=tmp, log_model_flops_and_params=False)
        seconds = time.perf_counter() - t0
        saved_model_dir(tmp)  # raises if the export left no SavedModel
        try:
            os.rename(tmp, export_dir)
        except OSError:
            if not is_exported(export_dir):
                raise
        return seconds
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


def synth_images(seed: int, count: int, height: int, width: int) -> Any:
    """``count`` uint8 RGB images, identical for every combination given the seed.

    Image ``i`` depends only on (seed, i, size), so asking for fewer images
    (``--quick``) gives a prefix of the same set.
    """
    import numpy as np

    imgs = np.empty((count, height, width, 3), dtype=np.uint8)
    for i in range(count):
        rng = random.Random(f"tfmatrix-{seed}-{i}")
        img = np.frombuffer(rng.randbytes(height * width * 3), dtype=np.uint8).reshape(height, width, 3)
        img = img // 4  # dim noise as background
        for _ in range(6):
            y0, x0 = rng.randrange(height - 8), rng.randrange(width - 8)
            y1, x1 = rng.randrange(y0 + 8, height + 1), rng.randrange(x0 + 8, width + 1)
            img[y0:y1, x0:x1] = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        imgs[i] = img
    return imgs


def images_digest(images: Any) -> str:
    return hashlib.sha256(images.tobytes()).hexdigest()


def load_detector(export_dir: str) -> Any:
    """Load the SavedModel; return its serving signature function."""
    import tensorflow as tf

    loaded = tf.saved_model.load(saved_model_dir(export_dir))
    fn = loaded.signatures["serving_default"]
    fn._tfmatrix_keepalive = loaded  # the signature needs its object alive
    return fn


def infer(fn: Any, batch: Any) -> dict[str, Any]:
    """One call; returns NumPy outputs, so the timed region ends on the host."""
    import tensorflow as tf

    out = fn(inputs=tf.constant(batch))
    return {k: v.numpy() for k, v in out.items()}


def batch_of(images: Any, batch_size: int) -> Any:
    import numpy as np

    reps = -(-batch_size // len(images))
    return np.concatenate([images] * reps, axis=0)[:batch_size]


def weights_digest(fn: Any) -> str:
    """A hash of the loaded model's weights that ignores variable names.

    Keras 3 renamed every variable, so TF 2.15 and 2.20 exports built from the
    same seed hold the same arrays under other names; hashing the arrays alone
    tells the report whether two combinations ran the same weights, which is
    what makes their detections comparable (numerical drift).
    """
    arrays = [v.numpy() for v in fn.variables]
    keyed = sorted((a.shape, a.dtype.str, hashlib.sha256(a.tobytes()).hexdigest()) for a in arrays)
    return hashlib.sha256(repr(keyed).encode()).hexdigest()


def detections_digest(outputs: dict[str, Any], top_k: int) -> dict[str, Any]:
    """Top detections per image (boxes, scores, classes) and a hash of them."""
    boxes, scores = outputs["detection_boxes"], outputs["detection_scores"]
    classes, num = outputs["detection_classes"], outputs["num_detections"]
    per_image = []
    for i in range(boxes.shape[0]):
        k = min(int(num[i]), top_k)
        per_image.append({
            "num_detections": int(num[i]),
            "boxes": [[round(float(c), 4) for c in b] for b in boxes[i, :k]],
            "scores": [round(float(s), 5) for s in scores[i, :k]],
            "classes": [int(c) for c in classes[i, :k]],
        })
    blob = repr([(p["boxes"], p["scores"], p["classes"]) for p in per_image]).encode()
    return {"top_k": top_k, "images": per_image, "sha256": hashlib.sha256(blob).hexdigest()}
