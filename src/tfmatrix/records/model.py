"""The record model: typed run, combination and phase records (asv's ``Results`` way).

Every JSON file under ``results/<run-id>/`` is one of these classes.  bench
builds them; :func:`tfmatrix.records.store.load` reads them back (migrated
and checked against the JSON Schema, :mod:`tfmatrix.records.schema`); summary,
report, compare, publish, merge and change points read their attributes.
Each class owns its ``to_json``/``from_json``, so the shape on disk is
written in one place: this module.

``environment`` (what the probe collected inside the venv) and ``host`` (the
fingerprint of the machine) stay plain JSON mappings: they are facts from
``collect_*`` functions, read by the doctor and shown by the report as they are.  A phase's record and a
failure's live in :mod:`.phase`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from .. import RECORD_SCHEMA_VERSION, __version__
from .phase import Failure, Json, PhaseRecord, drop_none, field_names
from .status import Outcome, Status, read_outcome

if TYPE_CHECKING:
    from ..matrix.model import Combination


def now() -> str:
    """The time a record states (UTC, to the second)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Prediction:
    """The pre-flight verdict: ``"ok"`` or a failure class, with one sentence per reason (most severe first)."""

    predicted: str
    reasons: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.predicted == "ok"

    def to_json(self) -> Json:
        return {"predicted": self.predicted, "reasons": list(self.reasons)}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any] | None) -> "Prediction | None":
        return cls(doc["predicted"], tuple(doc.get("reasons") or ())) if doc else None


@dataclass
class InstallOutcome:
    """How the combination's venv was made to hold its pins (``tfmatrix.run.provisioning.install``)."""

    backend: str
    ok: bool = False
    reused: bool = False
    seconds: float = 0.0
    lock_sha256: str = ""
    compile_bytecode: bool = True
    resolved: list[str] = field(default_factory=list)  # kept in the record as ``resolved_pins``
    check_ok: bool | None = None
    check_output: str = ""
    error: str = ""
    failed_step: str = ""
    steps: list[Json] = field(default_factory=list)

    def to_json(self) -> Json:
        return {"backend": self.backend, "ok": self.ok, "reused": self.reused, "seconds": round(self.seconds, 3),
                "lock_sha256": self.lock_sha256, "compile_bytecode": self.compile_bytecode,
                "check": {"ok": self.check_ok, "output": self.check_output[-4000:]}, "error": self.error[-8000:],
                "failed_step": self.failed_step, "steps": self.steps}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any] | None, resolved: list[str] | None = None) -> "InstallOutcome | None":
        if not doc:
            return None
        check = doc.get("check") or {}
        return cls(backend=doc["backend"], ok=doc["ok"], reused=doc["reused"], seconds=doc["seconds"],
                   lock_sha256=doc["lock_sha256"], compile_bytecode=doc["compile_bytecode"],
                   resolved=list(resolved or doc.get("resolved") or []), check_ok=check.get("ok"),
                   check_output=check.get("output", ""), error=doc["error"], failed_step=doc["failed_step"],
                   steps=list(doc.get("steps") or []))


@dataclass(frozen=True)
class Producer:
    """Who made the SavedModel a model loaded: this combination (``own``), another TensorFlow entry once for
    all (``shared``, ``export_with``), or the user (``brought``, ``source: saved_model``).

    ``saved_model`` is what ``saved_model.pb`` itself says (the ``inspect`` phase): its
    ``meta_info_def.tensorflow_version``, GraphDef producer and min_consumer, its ops unknown here, the
    signature's input.  ``relation`` is the consumer's TensorFlow against the producer's
    (:func:`tfmatrix.diagnosis.rules.load_relation`): TensorFlow promises that a SavedModel loads in a
    later release of its major version, not in an older one.
    """

    model: str
    source: str  # own, shared, brought
    path: str
    combination: str | None = None  # the exporting combination
    tensorflow: str | None = None  # the exporter's TensorFlow, or (brought) the SavedModel's own
    tensorflow_id: str | None = None
    lock_sha256: str | None = None
    export_sha256: str | None = None
    saved_model: Json | None = None
    relation: str = "unknown"  # same, newer, older-than-producer, other-major, unknown

    @property
    def identity(self) -> str:
        """What makes two loads of a model the same benchmark: "" for a combination's own export, as always, and
        for a SavedModel you bring, which stays one benchmark under its model id whatever its bytes (a team's
        model is retrained, and its history must go on; ``compare`` says when the bytes changed)."""
        if self.source == "shared":
            return f"from {self.combination} ({self.tensorflow})"
        return ""

    @property
    def label(self) -> str:
        """One line for people: "exported by TF 2.15.1 (tf2.15-cpu)", "brought (TF 2.20.0)"."""
        if self.source == "brought":
            return f"brought SavedModel (TF {self.tensorflow or 'unknown'})"
        return f"exported by TF {self.tensorflow} ({self.combination})"

    def to_json(self) -> Json:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "Producer":
        known = field_names(cls)
        return cls(**{k: v for k, v in doc.items() if k in known})


@dataclass(frozen=True)
class CombinationInfo:
    """The combination as its record keeps it: what the matrix asked for (pins, stack, models, needs)."""

    id: str
    tensorflow: str  # the release: "2.20.0"
    tensorflow_id: str  # its matrix id: "tf2.20"
    models_official: str | None  # None: a load-only entry
    stack: str
    stack_kind: str  # cpu, cuda-pip, cuda-system
    python: str
    models: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()  # what the venv was asked for
    force: tuple[str, ...] = ()  # installed over the resolver's choice
    expect: str | None = None  # the failure class the matrix expects
    library_path: tuple[str, ...] = ()  # cuda-system: the host's CUDA folders
    hardware: Json | None = None  # what its placement needed
    package: str | None = None  # tensorflow-cpu or tf-nightly (None: tensorflow, as every record before v3)

    @property
    def needs_gpu(self) -> bool:
        return self.stack_kind != "cpu"

    @classmethod
    def of(cls, combo: "Combination") -> "CombinationInfo":
        return cls(id=combo.id, tensorflow=combo.tf.version, tensorflow_id=combo.tf.id,
                   models_official=combo.tf.models_official, stack=combo.stack.id, stack_kind=combo.stack.kind,
                   python=combo.python, models=tuple(m.id for m in combo.models), tags=combo.tags,
                   requirements=tuple(combo.requirements()), force=combo.tf.force, expect=combo.expect,
                   library_path=combo.stack.library_path,
                   hardware=combo.hardware.to_json() if combo.hardware else None,
                   package=None if combo.tf.package == "tensorflow" else combo.tf.package)

    def to_json(self) -> Json:
        doc = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        doc.update({k: list(v) for k, v in doc.items() if isinstance(v, tuple)})
        return drop_none(doc, "hardware", "package")

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "CombinationInfo":
        known = field_names(cls)
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in doc.items() if k in known}
        return cls(**values)


@dataclass(frozen=True)
class Placement:
    """Where a combination ran: the executor, its shard, its GPU, its Ray node."""

    executor: str = "local"  # local, gpus, ray
    shard: str | None = None
    gpu_index: int | None = None
    node: Json | None = None

    def to_json(self) -> Json:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any] | None) -> "Placement | None":
        if not doc:
            return None
        return cls(executor=doc["executor"], shard=doc.get("shard"), gpu_index=doc.get("gpu_index"),
                   node=doc.get("node"))


@dataclass
class CombinationRecord:
    """``results/<run-id>/<combination>.json``: one combination of one run, from pre-flight to verdict."""

    run_id: str
    combination: CombinationInfo
    quick: bool = False
    started_at: str = ""
    ended_at: str | None = None
    status: Status | None = None
    outcome: Outcome | None = None
    failure: Failure | None = None
    reason: str = ""
    preflight: Prediction | None = None
    install: InstallOutcome | None = None
    resolved_pins: list[str] = field(default_factory=list)
    environment: Json | None = None
    phases: list[PhaseRecord] = field(default_factory=list)
    host: Json | None = None  # the fingerprint of the machine that ran it (older records: the run's)
    placement: Placement | None = None
    gpu_index: int | None = None
    shared_gpu: bool = False  # timed while another run held the GPU (--allow-shared-gpu)
    merged_from: Json | None = None  # {"run_id", "folder"}: the run a merge copied it from
    producers: list[Producer] = field(default_factory=list)  # per model: who made the SavedModel it loaded
    tfmatrix_version: str = __version__
    schema_version: int = RECORD_SCHEMA_VERSION

    kind = "combination"

    @property
    def id(self) -> str:
        return self.combination.id

    def end(self, status: Status, failure: Failure | None = None, reason: str = "", *,
            family: str | None = None) -> "CombinationRecord":
        """The one way a record ends: its status, the failure that ended it, the reason in one line (the
        failure's class and evidence when none is given), the time, and the outcome against the matrix's
        ``expect`` (``family``: the failure class's family in the taxonomy, which an ``expect`` may name)."""
        self.status, self.failure, self.ended_at = status, failure, now()
        self.reason = reason or (f"{failure.cls}: {failure.evidence}" if failure else "")
        self.outcome = read_outcome(status, failure.cls if failure else None, self.combination.expect, family)
        return self

    def producer(self, model: str) -> Producer | None:
        return next((p for p in self.producers if p.model == model), None)

    def benchmark_model(self, model: str | None) -> str | None:
        """The model as a benchmark's identity: with its producer when it loaded an export it did not make
        ("retinanet @ from tf2.15-cpu (2.15.1)"), so loads of two entries' exports are never compared."""
        made = self.producer(model) if model else None
        return f"{model} @ {made.identity}" if made and made.identity else model

    def phase(self, kind: str, model: str | None = None, batch: int | None = None) -> PhaseRecord | None:
        """The first phase of this kind (and model, and batch, when given)."""
        for p in self.phases:
            if p.phase == kind and (model is None or p.model == model) and (batch is None or p.batch == batch):
                return p
        return None

    def to_json(self) -> Json:
        doc: Json = {
            "schema_version": self.schema_version, "kind": self.kind, "run_id": self.run_id,
            "tfmatrix_version": self.tfmatrix_version, "combination": self.combination.to_json(),
            "quick": self.quick, "started_at": self.started_at, "ended_at": self.ended_at,
            "status": self.status.value if self.status else None,
            "outcome": self.outcome.value if self.outcome else None, "expect": self.combination.expect,
            "failure": self.failure.to_json() if self.failure else None, "reason": self.reason,
            "preflight": self.preflight.to_json() if self.preflight else None,
            "install": self.install.to_json() if self.install else None, "resolved_pins": list(self.resolved_pins),
            "environment": self.environment, "phases": [p.to_json() for p in self.phases],
            "host": self.host, "placement": self.placement.to_json() if self.placement else None,
            "gpu_index": self.gpu_index, "merged_from": self.merged_from,
        }
        if self.shared_gpu:
            doc["shared_gpu"] = True
        if self.producers:
            doc["producers"] = [p.to_json() for p in self.producers]
        return drop_none(doc, "host", "placement", "gpu_index", "merged_from")

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "CombinationRecord":
        """A record already migrated and checked (:func:`tfmatrix.records.store.load`)."""
        status = Status(doc["status"]) if doc.get("status") else None
        return cls(
            run_id=doc["run_id"], combination=CombinationInfo.from_json(doc["combination"]), quick=doc["quick"],
            started_at=doc["started_at"], ended_at=doc.get("ended_at"), status=status,
            outcome=Outcome(doc["outcome"]) if doc.get("outcome") else (Outcome(status.value) if status else None),
            failure=Failure.from_json(doc.get("failure")), reason=doc.get("reason") or "",
            preflight=Prediction.from_json(doc.get("preflight")),
            install=InstallOutcome.from_json(doc.get("install"), doc.get("resolved_pins")),
            resolved_pins=list(doc.get("resolved_pins") or []), environment=doc.get("environment"),
            phases=[PhaseRecord.from_json(p) for p in doc.get("phases") or []], host=doc.get("host"),
            placement=Placement.from_json(doc.get("placement")), gpu_index=doc.get("gpu_index"),
            shared_gpu=bool(doc.get("shared_gpu")), merged_from=doc.get("merged_from"),
            producers=[Producer.from_json(p) for p in doc.get("producers") or []],
            tfmatrix_version=doc["tfmatrix_version"], schema_version=doc["schema_version"])


@dataclass
class RunRecord:
    """``results/<run-id>/run.json``: the run's host, matrix, profile, suite commit, options and history."""

    run_id: str
    started_at: str
    host: Json
    matrix: Json  # {"path", "sha256"}
    profile: str
    suite: Json  # {"commit", "dirty"}
    options: Json  # {"models", "quick", "assume_gpu", "shard", "executor", "merged"}
    ended_at: str | None = None
    interruptions: list[Json] = field(default_factory=list)  # {"at", "signal", "combination"}
    resumptions: list[Json] = field(default_factory=list)  # {"at", "invocation"}
    merge: Json | None = None  # {"sources", "duplicates", "conflicts"}: a merged run's origins
    tfmatrix_version: str = __version__
    schema_version: int = RECORD_SCHEMA_VERSION

    kind = "run"

    @property
    def commit(self) -> str | None:
        return self.suite.get("commit")

    @property
    def dirty(self) -> bool:
        return bool(self.suite.get("dirty"))

    @property
    def node(self) -> str:
        """The host's name as the platform gives it ("" when unknown)."""
        return str((self.host.get("platform") or {}).get("node") or "")

    @property
    def machine(self) -> str:
        """The host's name, safe in a file name (asv's machine)."""
        return re.sub(r"[^A-Za-z0-9._-]", "_", self.node or "unknown-host")

    def to_json(self) -> Json:
        doc = {"schema_version": self.schema_version, "kind": self.kind, "run_id": self.run_id,
               "tfmatrix_version": self.tfmatrix_version, "started_at": self.started_at, "ended_at": self.ended_at,
               "host": self.host, "matrix": self.matrix, "profile": self.profile, "suite": self.suite,
               "options": self.options, "interruptions": self.interruptions, "resumptions": self.resumptions,
               "merge": self.merge}
        return drop_none(doc, "merge")

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "RunRecord":
        known = field_names(cls)
        return cls(**{k: v for k, v in doc.items() if k in known})
