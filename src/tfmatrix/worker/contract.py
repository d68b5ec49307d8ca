"""The manager-worker contract: what crosses from nox's process into a combination's venv and back.

Standard library only: this module is imported by the manager (nox's process),
by the worker (``python -m tfmatrix.worker``, inside the venv) and by the
``benchmarks/`` suite, and every object serialises itself (``to_json`` /
``from_json``), so both sides read the same type, never a dict matched by hand.

* :class:`Workload` is the matrix's ``workload:`` section: its fields, their
  defaults, their YAML keys, their lower bounds and their ``--quick`` values
  are declared here once, and the matrix validator reads them from here.
  Adding a workload setting is one field below plus the code that uses it.
* :class:`ModelSpec` is one ``models:`` entry of the matrix.
* :class:`BenchConfig` is what a combination's benchmarks are parametrised by
  (written to ``bench-config.json``, found through ``TFMATRIX_BENCH_CONFIG``).
* :class:`WorkerSpec` tells one worker what to run; :class:`WorkerResult` is
  what it reports, through a file, never stdout (pyperf's manager/worker split).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

ENV = "TFMATRIX_BENCH_CONFIG"


def setting(default: Any, yaml: str, minimum: float, quick: Callable[[Any], Any] | None = None,
            doc: str = "") -> Any:
    """A workload field: its default, its key under ``workload:``, its lower bound and its ``--quick`` value."""
    meta = {"yaml": yaml, "minimum": minimum, "quick": quick or (lambda v: v), "doc": doc}
    if isinstance(default, tuple):
        return field(default_factory=lambda: default, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Workload:
    """The measurement settings of every combination (``workload:`` in matrix.yaml)."""

    seed: int = setting(0, "seed", 0, doc="seed of the random weights and the synthetic images")
    images: int = setting(8, "images", 1, lambda v: min(v, 4), "synthetic images per model")
    batch_sizes: tuple[int, ...] = setting((1, 4), "batch_sizes", 1, lambda v: v[:1],
                                           "batch 1 gives the latency, each size its throughput")
    warmup: int = setting(2, "warmup", 0, lambda v: 1, "untimed calls before the timed ones")
    latency_min_queries: int = setting(30, "latency.min_queries", 1, lambda v: min(v, 10),
                                       "batch-1 calls timed, at least")
    latency_min_seconds: float = setting(5.0, "latency.min_seconds", 0.0, lambda v: min(v, 1.0),
                                         "and for at least this long")
    throughput_min_queries: int = setting(5, "throughput.min_queries", 1, lambda v: min(v, 3),
                                          "calls timed per larger batch, at least")
    throughput_min_seconds: float = setting(3.0, "throughput.min_seconds", 0.0, lambda v: min(v, 1.0),
                                            "and for at least this long")
    load_repeats: int = setting(5, "load_repeats", 1, lambda v: min(v, 3),
                                "cold starts per model: fresh processes that each import, load and call it once")
    import_repeats: int = setting(5, "import_repeats", 1, lambda v: min(v, 3),
                                  "`import tensorflow` samples, at least (each cold start gives one)")
    digest_top_k: int = setting(10, "digest_top_k", 1, doc="detections kept per image for the drift comparison")
    fidelity_rounds: int = setting(10, "fidelity_rounds", 0, lambda v: min(v, 8),
                                   "paired rounds of a bare signature call against tfmatrix's timed call (0: off)")
    rounds: int = setting(10, "rounds", 1, lambda v: min(v, 3),
                          "rounds the latency and throughput samples are split into when several combinations are "
                          "measured in one invocation: each round visits every combination, in a shuffled order")
    isolate_phases: bool = setting(False, "isolate_phases", 0,
                                   doc="one process per phase (the layout before cold-start chains and warm workers)")

    def minimums(self, batch: int) -> tuple[int, float]:
        """The calls and seconds a ``time_*`` step at this batch takes at least: batch 1 is the latency."""
        if batch == 1:
            return self.latency_min_queries, self.latency_min_seconds
        return self.throughput_min_queries, self.throughput_min_seconds

    @property
    def cold_starts(self) -> int:
        """Fresh processes per model that each time import, load and first inference (the larger repeat count)."""
        return max(self.load_repeats, self.import_repeats)

    def with_cold_starts(self, n: int) -> "Workload":
        """At least ``n`` cold starts per model: ``load_repeats`` and ``import_repeats`` raised to ``n``."""
        return dataclasses.replace(self, load_repeats=max(self.load_repeats, n),
                                   import_repeats=max(self.import_repeats, n))

    def quick(self) -> "Workload":
        """The ``--quick`` variant: same shape, fewer samples."""
        return type(self)(**{f.name: f.metadata["quick"](getattr(self, f.name)) for f in dataclasses.fields(self)})

    def to_json(self) -> dict[str, Any]:
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
                for f in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Workload":
        known = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known}
        return cls(**values)


#: Where a model comes from (``source:`` in matrix.yaml)
MODEL_GARDEN = "model-garden"
SAVED_MODEL = "saved_model"
KERAS_HUB = "keras-hub"
SOURCES = (MODEL_GARDEN, SAVED_MODEL, KERAS_HUB)
#: The KerasHub detectors a ``source: keras-hub`` model may name (``architecture:``)
KERAS_HUB_ARCHITECTURES = ("retinanet",)


@dataclass(frozen=True)
class ModelSpec:
    """One ``models:`` entry: a Model Garden or KerasHub detector built from the seed, or a SavedModel you bring.

    * ``model-garden``: an ``experiment``, its ``input_size`` and config ``overrides``, built with random
      weights from the seed and exported; ``export_with`` names the TensorFlow entry that exports it once
      for every combination (None: each combination exports its own, or its entry's ``export_with`` does).
    * ``saved_model``: an existing SavedModel at ``path`` (absolute once the matrix is read), called through
      ``signature``; ``input_size`` completes the signature's input where its height and width are dynamic;
      ``requires_imports`` are imported before the load (custom-op libraries such as ``tensorflow_text``).
    * ``keras-hub``: a KerasHub detector of ``architecture`` at ``input_size``, built from its config with random
      weights from the seed and exported once by the ``export_with`` entry (one whose venv has keras-hub).
    """

    id: str
    experiment: str = ""
    input_size: tuple[int, int] | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    stacks: tuple[str, ...] = ()  # the stacks it runs on (matrix selection); empty: every stack
    source: str = MODEL_GARDEN
    path: str = ""
    signature: str = "serving_default"
    requires_imports: tuple[str, ...] = ()
    export_with: str | None = None
    architecture: str = ""  # keras-hub: one of KERAS_HUB_ARCHITECTURES

    @property
    def built(self) -> bool:
        """Built and exported by tfmatrix (a Model Garden or KerasHub model), rather than brought as a SavedModel."""
        return self.source in (MODEL_GARDEN, KERAS_HUB)

    def config_digest(self) -> str:
        """A short hash of everything that changes the exported SavedModel."""
        config: dict[str, Any] = {"experiment": self.experiment, "input_size": list(self.input_size or ()),
                                  "overrides": self.overrides}
        if self.source == KERAS_HUB:  # Model Garden digests stay as they were (their cache keys)
            config.update(source=self.source, architecture=self.architecture)
        blob = json.dumps(config, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "experiment": self.experiment,
                "input_size": list(self.input_size) if self.input_size else None,
                "overrides": dict(self.overrides), "stacks": list(self.stacks), "path": self.path,
                "signature": self.signature, "requires_imports": list(self.requires_imports),
                "export_with": self.export_with, "architecture": self.architecture}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "ModelSpec":
        size = data.get("input_size")
        return cls(id=data["id"], experiment=data.get("experiment", ""),
                   input_size=(int(size[0]), int(size[1])) if size else None,
                   overrides=dict(data.get("overrides") or {}), stacks=tuple(data.get("stacks") or ()),
                   source=data.get("source", MODEL_GARDEN), path=data.get("path", ""),
                   signature=data.get("signature", "serving_default"),
                   requires_imports=tuple(data.get("requires_imports") or ()), export_with=data.get("export_with"),
                   architecture=data.get("architecture", ""))


@dataclass(frozen=True)
class BenchConfig:
    """What a combination's benchmarks run on: its models, where each is exported, the workload."""

    combination: str = ""
    models: tuple[ModelSpec, ...] = ()
    export_dirs: Mapping[str, str] = field(default_factory=dict)
    workload: Workload = field(default_factory=Workload)

    @property
    def model_ids(self) -> list[str]:
        return [m.id for m in self.models]

    def model(self, model_id: str) -> ModelSpec:
        found = {m.id: m for m in self.models}.get(model_id)
        if found is None:
            raise KeyError(f"model {model_id!r} is not in this combination's configuration")
        return found

    def export_dir(self, model_id: str) -> str:
        return self.export_dirs[self.model(model_id).id]

    def to_json(self) -> dict[str, Any]:
        return {"combination": self.combination, "models": [m.to_json() for m in self.models],
                "export_dirs": dict(self.export_dirs), "workload": self.workload.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "BenchConfig":
        return cls(combination=data.get("combination", ""),
                   models=tuple(ModelSpec.from_json(m) for m in data.get("models", [])),
                   export_dirs=dict(data.get("export_dirs") or {}),
                   workload=Workload.from_json(data.get("workload") or {}))

    @classmethod
    def load(cls) -> "BenchConfig":
        """The configuration ``TFMATRIX_BENCH_CONFIG`` names; without it (plain asv) no models, nothing runs."""
        path = os.environ.get(ENV)
        if not path:
            return cls()
        with open(path, encoding="utf-8") as f:
            return cls.from_json(json.load(f))


@dataclass(frozen=True)
class Telemetry:
    """NVML sampling beside a GPU phase: which GPUs (NVML indices), every ``period`` seconds."""

    gpus: tuple[int, ...]
    period: float

    def to_json(self) -> dict[str, Any]:
        return {"gpus": list(self.gpus), "period": self.period}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Telemetry":
        return cls(tuple(int(g) for g in data["gpus"]), float(data["period"]))


@dataclass(frozen=True)
class Quota:
    """What a ``time_*`` step takes in one of several interleaved rounds, decided by the manager (which counts
    what the step's earlier rounds took): calls and seconds at least, untimed calls first, and the budget."""

    min_queries: int
    min_seconds: float
    warmup: int
    budget_seconds: float

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Quota":
        return cls(int(data["min_queries"]), float(data["min_seconds"]), int(data["warmup"]),
                   float(data["budget_seconds"]))


@dataclass(frozen=True)
class WorkerSpec:
    """One step a worker runs: the probe, or one asv-style benchmark method with its params.

    A worker process runs one step (``--spec``) or a sequence sent one at a time (``--serve``).
    ``inline``: a ``timeraw_*`` step runs its code in this very process, once (a cold-start chain's import
    or load), instead of in ``repeat`` fresh interpreters.  ``quota``: a ``time_*`` step is one of several
    interleaved rounds, and takes what the manager decided instead of its benchmark's own minimums; the
    worker keeps nothing between steps.
    """

    probe: bool = False
    benchmark_file: str = ""
    cls: str = ""
    method: str = ""
    params: tuple[Any, ...] = ()
    timeout: float = 600.0  # the manager's limit; timeraw children share it
    telemetry: Telemetry | None = None
    budget_seconds: float | None = None  # time_*: stop after this long (with 3 samples at least)
    inline: bool = False
    quota: Quota | None = None  # time_*: one interleaved round's calls, seconds, warmup and budget

    def to_json(self) -> dict[str, Any]:
        return {"probe": self.probe, "benchmark_file": self.benchmark_file, "class": self.cls,
                "method": self.method, "params": list(self.params), "timeout": self.timeout,
                "telemetry": self.telemetry.to_json() if self.telemetry else None,
                "budget_seconds": self.budget_seconds, "inline": self.inline,
                "quota": self.quota.to_json() if self.quota else None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "WorkerSpec":
        telemetry = data.get("telemetry")
        return cls(probe=bool(data.get("probe")), benchmark_file=data.get("benchmark_file", ""),
                   cls=data.get("class", ""), method=data.get("method", ""), params=tuple(data.get("params", ())),
                   timeout=float(data.get("timeout", 600.0)),
                   telemetry=Telemetry.from_json(telemetry) if telemetry else None,
                   budget_seconds=data.get("budget_seconds"), inline=bool(data.get("inline")),
                   quota=Quota.from_json(data["quota"]) if data.get("quota") else None)


#: WorkerResult fields left out of its JSON when unset
_OPTIONAL = ("samples", "unit", "setup_seconds", "extra", "exception", "truncated", "warmup", "telemetry", "probe",
             "gpu_peak_memory_bytes")


@dataclass
class WorkerResult:
    """What one worker reports: samples and their unit, or the exception that stopped it."""

    status: str = "ok"  # "ok" or "error"
    kind: str = ""  # timeraw, time, track, peakmem, probe
    samples: list[float] | None = None
    unit: str | None = None
    setup_seconds: float | None = None
    warmup: int | None = None
    truncated: str | None = None  # time_*: why it stopped before its minimums
    extra: dict[str, Any] | None = None  # a benchmark's ``tfmatrix_extra`` (the detections digest)
    telemetry: dict[str, Any] | None = None  # the NVML sampler's result
    probe: dict[str, Any] | None = None  # the probe's facts
    exception: dict[str, str] | None = None  # type, message, traceback
    wall_seconds: float = 0.0
    peak_rss_bytes: int | None = None  # during this step where the peak can be reset (Linux), else the process's
    gpu_peak_memory_bytes: dict[str, int] | None = None

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        return {k: v for k, v in out.items() if v is not None or k not in _OPTIONAL}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "WorkerResult":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
