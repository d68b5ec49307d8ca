"""The Object Detection workload: Model Garden models and SavedModels, synthetic inputs, digests.

Runs inside a combination's venv.  TensorFlow and the Model Garden are
imported inside the functions, so importing this module stays cheap.

* KerasHub detectors are built from their config with random weights from the seed
  and exported with Keras 3's ``ExportArchive`` (:mod:`.kerashub`).
* Model Garden models come from ``official.vision`` experiment configs with random
  weights from a fixed seed (no weights can be downloaded), exported as SavedModels
  with ``input_type='image_tensor'`` and a dynamic batch dimension.
* Every SavedModel, exported here or brought by the user (the TF2 Object Detection
  API's, a KerasHub export, a plain ``tf.saved_model.save``), is read the same way:
  :func:`inspect` reads ``saved_model.pb`` without loading it (who produced it, its
  ops against this TensorFlow's registry, its signatures) and :func:`input_spec`
  finds the one image input the detector is fed through.
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

from .contract import KERAS_HUB, ModelSpec


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

    if model.input_size is None:  # validated in the manager: a Model Garden model always has one
        raise ValueError(f"{model.id}: a model-garden model needs input_size")
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

    A Model Garden model's config is read before the clock starts; a KerasHub model's seconds include building
    the detector from its config (:mod:`.kerashub`).

    The export is written to a temp folder beside ``export_dir`` and
    renamed into place, so a concurrent or killed export never leaves a
    half-written cache entry; if another process finished first, its export
    is kept and ours is dropped.
    """
    set_seeds(seed)
    params = build_params(model) if model.source != KERAS_HUB else None
    parent = os.path.dirname(os.path.abspath(export_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        t0 = time.perf_counter()
        if model.source == KERAS_HUB:
            from . import kerashub

            kerashub.export(model, tmp, seed)
        else:
            from official.vision.serving import export_saved_model_lib

            export_saved_model_lib.export_inference_graph(
                input_type="image_tensor", batch_size=None, input_image_size=list(model.input_size or ()),
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


def import_requirements(model: ModelSpec) -> None:
    """Import the custom-op libraries the model needs (``requires_imports``) before it is loaded."""
    import importlib

    for name in model.requires_imports:
        importlib.import_module(name)


def _tensor_info(info: Any) -> dict[str, Any]:
    import tensorflow as tf

    shape = None if info.tensor_shape.unknown_rank else [int(d.size) for d in info.tensor_shape.dim]
    return {"dtype": tf.dtypes.as_dtype(info.dtype).name, "shape": shape}


def inspect(export_dir: str, signature: str) -> dict[str, Any]:
    """What ``saved_model.pb`` says, without loading it: its producer, its ops against this TensorFlow, a signature.

    Raises (a recorded, classified failure) when ``signature`` is not in the SavedModel.
    """
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2
    from tensorflow.python.framework import op_def_registry

    folder = saved_model_dir(export_dir)
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(folder, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    graphs = list(proto.meta_graphs)
    meta = next((g for g in graphs if "serve" in g.meta_info_def.tags), graphs[0])
    graph = meta.graph_def
    ops = {n.op for n in graph.node} | {n.op for fn in graph.library.function for n in fn.node_def}
    ops -= {fn.signature.name for fn in graph.library.function}  # a call of a library function is no op
    unknown = sorted(op for op in ops if op_def_registry.get(op) is None)
    info: dict[str, Any] = {
        "tensorflow_version": meta.meta_info_def.tensorflow_version,
        "tensorflow_git_version": meta.meta_info_def.tensorflow_git_version,
        "graph_producer": int(graph.versions.producer), "graph_min_consumer": int(graph.versions.min_consumer),
        "consumer_graph_version": int(tf.version.GRAPH_DEF_VERSION),
        "ops": len(ops), "unknown_ops": unknown, "signatures": sorted(meta.signature_def),
    }
    if signature not in meta.signature_def:
        raise KeyError(f"SavedModel at {folder} has no signature {signature!r} (it has: "
                       f"{', '.join(sorted(meta.signature_def)) or 'none'})")
    sig = meta.signature_def[signature]
    info["signature"] = signature
    info["inputs"] = {k: _tensor_info(v) for k, v in sorted(sig.inputs.items())}
    info["outputs"] = {k: _tensor_info(v) for k, v in sorted(sig.outputs.items())}
    return info


def unknown_ops_note(info: dict[str, Any]) -> str:
    """Why the load is expected to fail, from :func:`inspect` ("" when nothing says so)."""
    import tensorflow as tf

    said = []
    if info["unknown_ops"]:
        ops = info["unknown_ops"]
        said.append(f"unknown to TensorFlow {tf.__version__}: op{'s' if len(ops) > 1 else ''} {', '.join(ops)}")
    if info["graph_min_consumer"] > info["consumer_graph_version"]:
        said.append(f"its GraphDef needs consumers of version {info['graph_min_consumer']}; TensorFlow "
                    f"{tf.__version__} is {info['consumer_graph_version']}")
    return "; ".join(said)


IMAGE_DTYPES = ("uint8", "float32", "float16", "int32", "bfloat16")


def input_spec(info: dict[str, Any], model: ModelSpec) -> dict[str, Any]:
    """The one image input of the signature: its name, dtype, height, width, and a batch it fixes (or None)."""
    inputs = info["inputs"]
    if len(inputs) != 1:
        raise ValueError(f"signature {info['signature']!r} takes {len(inputs)} inputs ({', '.join(inputs)}); "
                         "tfmatrix feeds one image tensor")
    (name, tensor), = inputs.items()
    shape = tensor["shape"] or [-1, -1, -1, -1]
    if len(shape) != 4 or shape[3] not in (-1, 1, 3) or tensor["dtype"] not in IMAGE_DTYPES:
        raise ValueError(f"input {name!r} is {tensor['dtype']} of shape {shape}; tfmatrix feeds one image tensor "
                         f"(rank 4, [batch, height, width, 3], one of {', '.join(IMAGE_DTYPES)})")
    height, width = shape[1], shape[2]
    if height <= 0 or width <= 0:
        if model.input_size is None:
            raise ValueError(f"input {name!r} has shape {shape}: the signature leaves the image size dynamic; "
                             "set input_size in the matrix")
        height = height if height > 0 else model.input_size[0]
        width = width if width > 0 else model.input_size[1]
    return {"name": name, "dtype": tensor["dtype"], "height": height, "width": width,
            "channels": shape[3] if shape[3] > 0 else 3, "fixed_batch": shape[0] if shape[0] > 0 else None}


_LOADED: dict[str, Any] = {}


def load_saved_model(folder: str) -> Any:
    """``tf.saved_model.load``, once per folder and process: a chain's timed load is the object its first
    inference and its warm phases call."""
    if folder not in _LOADED:
        import tensorflow as tf

        _LOADED[folder] = tf.saved_model.load(folder)
    return _LOADED[folder]


def load_detector(export_dir: str, model: ModelSpec) -> Any:
    """Load the SavedModel (its ``requires_imports`` first), or take the one this process loaded; return its
    signature function."""
    import_requirements(model)
    folder = saved_model_dir(export_dir)
    loaded = load_saved_model(folder)
    if model.signature not in loaded.signatures:
        raise KeyError(f"SavedModel at {folder} has no signature {model.signature!r} (it has: "
                       f"{', '.join(sorted(loaded.signatures)) or 'none'})")
    fn = loaded.signatures[model.signature]
    fn._tfmatrix_keepalive = loaded  # the signature needs its object alive
    return fn


def feed(batch: Any, spec: dict[str, Any]) -> Any:
    """The uint8 images as the signature takes them: its dtype (pixel values kept, 0..255), its channels."""
    import tensorflow as tf

    tensor = tf.constant(batch)
    if spec["channels"] == 1:
        tensor = tf.image.rgb_to_grayscale(tensor)
    return tensor if spec["dtype"] == "uint8" else tf.cast(tensor, spec["dtype"])


def infer(fn: Any, batch: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """One call, from the host's images to NumPy outputs (the timed region starts and ends on the host)."""
    out = fn(**{spec["name"]: feed(batch, spec)})
    return {k: v.numpy() for k, v in out.items()}


def fidelity(fn: Any, batch: Any, spec: dict[str, Any], rounds: int) -> list[float]:
    """What tfmatrix's timed region adds: per round, one :func:`infer` call over one bare call.

    The bare call is ``fn(inputs=x)`` on a tensor made once, its outputs left as TensorFlow returns them; the
    timed call converts the host's images and pulls every output to the host as NumPy (what a user's process
    pays to get detections it can use).  The order alternates each round, so drift hits both alike.
    """
    x = feed(batch, spec)
    bare = lambda: fn(**{spec["name"]: x})  # noqa: E731
    ours = lambda: infer(fn, batch, spec)  # noqa: E731
    bare(), ours()  # both warm
    ratios = []
    for i in range(rounds):
        took = {}
        for name, call in ((("bare", bare), ("ours", ours)) if i % 2 == 0 else (("ours", ours), ("bare", bare))):
            t0 = time.perf_counter()
            call()
            took[name] = time.perf_counter() - t0
        ratios.append(took["ours"] / took["bare"])
    return ratios


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


def detection_outputs(outputs: dict[str, Any]) -> tuple[dict[str, str], str]:
    """Which outputs hold boxes, scores, classes (and the count): ``detection_*`` first, else ``*_boxes``...

    Returns (role -> output name, "") or ({}, why the detections cannot be compared).
    """
    found: dict[str, str] = {}
    for role in ("boxes", "scores", "classes"):
        exact = f"detection_{role}"
        names = [exact] if exact in outputs else sorted(k for k in outputs if k.endswith(role))
        if len(names) != 1:
            return {}, (f"the signature's outputs ({', '.join(sorted(outputs))}) have no single {role} output: "
                        "drift not computed")
        found[role] = names[0]
    b, s, c = (outputs[found[r]] for r in ("boxes", "scores", "classes"))
    if b.ndim != 3 or b.shape[-1] != 4 or s.shape != b.shape[:2] or c.shape != b.shape[:2]:
        return {}, (f"outputs {found['boxes']} {list(b.shape)}, {found['scores']} {list(s.shape)}, "
                    f"{found['classes']} {list(c.shape)} are not [batch, N, 4] / [batch, N] detections (raw "
                    "logits, say): drift not computed")
    if "num_detections" in outputs:
        found["num"] = "num_detections"
    return found, ""


def detections_digest(outputs: dict[str, Any], top_k: int) -> dict[str, Any]:
    """Top detections per image (boxes, scores, classes) and a hash of them; or why there are none to compare."""
    names, why = detection_outputs(outputs)
    if not names:
        return {"not_comparable": why}
    boxes, scores, classes = (outputs[names[r]] for r in ("boxes", "scores", "classes"))
    num = outputs[names["num"]] if "num" in names else [boxes.shape[1]] * boxes.shape[0]
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
    return {"top_k": top_k, "images": per_image, "sha256": hashlib.sha256(blob).hexdigest(),
            "outputs": names}
