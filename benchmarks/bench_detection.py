"""Object Detection benchmarks, written in asv's conventions.

Each suite is a class with ``params``/``param_names``/``setup`` and
``timeraw_*``/``time_*``/``track_*``/``peakmem_*`` methods, so it reads like any
asv suite.  tfmatrix's worker (``python -m tfmatrix.worker``) runs one method
per fresh process inside a combination's venv; the parameters come from the
matrix through ``TFMATRIX_BENCH_CONFIG`` (a ``tfmatrix.worker.contract.BenchConfig``).

Phases and what they time (by default a cold-start chain runs import, load and
first inference in one fresh process, and one warm worker per model runs the
rest; ``workload.isolate_phases`` gives each phase its own process):

* ``ImportSuite.timeraw_import_tensorflow`` -- ``import tensorflow`` in fresh
  interpreters (bytecode was compiled at install, so this is import, not
  compilation);
* ``ExportSuite.track_export_seconds`` -- build the Model Garden model with
  random weights from the seed and export the SavedModel (Model Garden models only);
* ``InspectSuite.track_unknown_ops`` -- read ``saved_model.pb`` without loading it:
  who produced it, its ops this TensorFlow does not know, the signature's image input;
* ``LoadSuite.timeraw_load_saved_model`` -- cold ``tf.saved_model.load`` in
  fresh interpreters (TensorFlow and the model's ``requires_imports`` imported in the
  untimed setup), or in a chain right after its import;
* ``InferenceSuite.track_first_inference_seconds`` -- the first call after a
  load (tracing and graph optimisation), with the detections digest;
* ``InferenceSuite.time_inference`` -- steady-state calls per batch size
  (batch 1 gives the p50/p90/p99 latency, each size its throughput);
* ``InferenceSuite.peakmem_inference`` -- peak resident memory of one call (of load + call
  in its own process);
* ``FidelitySuite.track_timed_region_ratio`` -- rounds of a bare ``fn(inputs=x)`` call
  against the timed call above, alternating: what the timed region adds.
"""

from __future__ import annotations

import statistics
from typing import Any

from tfmatrix.worker import workload
from tfmatrix.worker.contract import BenchConfig

CONFIG = BenchConfig.load()
WORKLOAD = CONFIG.workload
MODELS = CONFIG.model_ids
BATCHES = list(WORKLOAD.batch_sizes)


class ImportSuite:
    repeat = WORKLOAD.import_repeats
    timeout = 300

    def timeraw_import_tensorflow(self):
        return "import tensorflow"


class ExportSuite:
    params = [MODELS]
    param_names = ["model"]
    number = 1
    repeat = 1
    timeout = 1200

    def track_export_seconds(self, model):
        return workload.export_model(CONFIG.model(model), CONFIG.export_dir(model), WORKLOAD.seed)

    track_export_seconds.unit = "seconds"


class InspectSuite:
    params = [MODELS]
    param_names = ["model"]
    timeout = 600

    def track_unknown_ops(self, model):
        spec = CONFIG.model(model)
        workload.import_requirements(spec)
        info = workload.inspect(CONFIG.export_dir(model), spec.signature)
        info["input"] = workload.input_spec(info, spec)
        info["expected_failure"] = workload.unknown_ops_note(info)
        self.tfmatrix_extra = {"saved_model": info}
        return len(info["unknown_ops"])

    track_unknown_ops.unit = "ops"


class LoadSuite:
    params = [MODELS]
    param_names = ["model"]
    repeat = WORKLOAD.load_repeats
    timeout = 600

    def timeraw_load_saved_model(self, model):
        path = workload.saved_model_dir(CONFIG.export_dir(model))
        setup = "\n".join(["import tensorflow as tf", "from tfmatrix.worker import workload",
                           *(f"import {m}" for m in CONFIG.model(model).requires_imports)])
        return f"workload.load_saved_model({path!r})", setup  # tf.saved_model.load, kept for a chain's next steps


class InferenceSuite:
    params = [MODELS, BATCHES]
    param_names = ["model", "batch"]
    timeout = 1200

    def setup(self, model, batch):
        spec = CONFIG.model(model)
        self.fn = workload.load_detector(CONFIG.export_dir(model), spec)
        self.input = workload.input_spec(workload.inspect(CONFIG.export_dir(model), spec.signature), spec)
        if self.input["fixed_batch"] not in (None, batch):
            raise ValueError(f"the signature fixes the batch at {self.input['fixed_batch']}; asked for {batch}")
        images = workload.synth_images(WORKLOAD.seed, WORKLOAD.images, self.input["height"], self.input["width"])
        self.images = images
        self.batch = workload.batch_of(images, batch)
        self.batch_size = batch
        # the worker reads these for time_*: MLPerf SingleStream-like minimums
        self.min_queries, self.min_seconds = WORKLOAD.minimums(batch)
        self.warmup = WORKLOAD.warmup
        self.tfmatrix_extra: dict[str, Any] = {"inputs_sha256": workload.images_digest(self.batch)}

    def track_first_inference_seconds(self, model, batch):
        import time

        t0 = time.perf_counter()
        out = workload.infer(self.fn, self.batch, self.input)
        seconds = time.perf_counter() - t0
        digest = workload.detections_digest(out, WORKLOAD.digest_top_k)
        if "not_comparable" in digest:
            self.tfmatrix_extra["drift_skipped"] = digest["not_comparable"]
        else:
            self.tfmatrix_extra["detections"] = digest
        self.tfmatrix_extra["weights_sha256"] = workload.weights_digest(self.fn)
        self.tfmatrix_extra["input"] = self.input
        return seconds

    track_first_inference_seconds.unit = "seconds"

    def time_inference(self, model, batch):
        workload.infer(self.fn, self.batch, self.input)

    def peakmem_inference(self, model, batch):
        workload.infer(self.fn, self.batch, self.input)


class FidelitySuite:
    """What the timed region adds to a bare signature call, on the same export in the same process."""

    params = [MODELS]
    param_names = ["model"]
    timeout = 600

    def setup(self, model):
        self.inference = InferenceSuite()
        self.inference.setup(model, 1)

    def track_timed_region_ratio(self, model):
        i = self.inference
        ratios = workload.fidelity(i.fn, i.batch, i.input, WORKLOAD.fidelity_rounds)
        self.tfmatrix_extra = {"ratios": ratios}
        return statistics.median(ratios)  # the report's figure too (from the ratios kept in the record)

    track_timed_region_ratio.unit = "ratio"
