"""Object Detection benchmarks, written in asv's conventions.

Each suite is a class with ``params``/``param_names``/``setup`` and
``timeraw_*``/``time_*``/``track_*``/``peakmem_*`` methods, so it reads like any
asv suite.  tfmatrix's worker (``python -m tfmatrix.worker``) runs one method
per fresh process inside a combination's venv; the parameters come from the
matrix through ``TFMATRIX_BENCH_CONFIG`` (a ``tfmatrix.worker.contract.BenchConfig``).

Phases and what they time:

* ``ImportSuite.timeraw_import_tensorflow`` -- ``import tensorflow`` in fresh
  interpreters (bytecode was compiled at install, so this is import, not
  compilation);
* ``ExportSuite.track_export_seconds`` -- build the Model Garden model with
  random weights from the seed and export the SavedModel;
* ``LoadSuite.timeraw_load_saved_model`` -- cold ``tf.saved_model.load`` in
  fresh interpreters (TensorFlow imported in the untimed setup);
* ``InferenceSuite.track_first_inference_seconds`` -- the first call after a
  load (tracing and graph optimisation), with the detections digest;
* ``InferenceSuite.time_inference`` -- steady-state calls per batch size
  (batch 1 gives the p50/p90/p99 latency, each size its throughput);
* ``InferenceSuite.peakmem_inference`` -- peak resident memory of load + call.
"""

from __future__ import annotations

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


class LoadSuite:
    params = [MODELS]
    param_names = ["model"]
    repeat = WORKLOAD.load_repeats
    timeout = 600

    def timeraw_load_saved_model(self, model):
        path = workload.saved_model_dir(CONFIG.export_dir(model))
        return f"tf.saved_model.load({path!r})", "import tensorflow as tf"


class InferenceSuite:
    params = [MODELS, BATCHES]
    param_names = ["model", "batch"]
    timeout = 1200

    def setup(self, model, batch):
        spec = CONFIG.model(model)
        h, w = spec.input_size
        images = workload.synth_images(WORKLOAD.seed, WORKLOAD.images, h, w)
        self.images = images
        self.batch = workload.batch_of(images, batch)
        self.fn = workload.load_detector(CONFIG.export_dir(model))
        self.batch_size = batch
        # the worker reads these for time_*: MLPerf SingleStream-like minimums
        if batch == 1:
            self.min_queries, self.min_seconds = WORKLOAD.latency_min_queries, WORKLOAD.latency_min_seconds
        else:
            self.min_queries, self.min_seconds = WORKLOAD.throughput_min_queries, WORKLOAD.throughput_min_seconds
        self.warmup = WORKLOAD.warmup
        self.tfmatrix_extra = {"inputs_sha256": workload.images_digest(self.batch)}

    def track_first_inference_seconds(self, model, batch):
        import time

        t0 = time.perf_counter()
        out = workload.infer(self.fn, self.batch)
        seconds = time.perf_counter() - t0
        self.tfmatrix_extra["detections"] = workload.detections_digest(out, WORKLOAD.digest_top_k)
        self.tfmatrix_extra["weights_sha256"] = workload.weights_digest(self.fn)
        return seconds

    track_first_inference_seconds.unit = "seconds"

    def time_inference(self, model, batch):
        workload.infer(self.fn, self.batch)

    def peakmem_inference(self, model, batch):
        workload.infer(self.fn, self.batch)
