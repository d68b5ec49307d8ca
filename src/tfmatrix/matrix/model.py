"""The matrix as frozen dataclasses: TensorFlow entries, stacks, rules, profiles, and their combinations.

:mod:`.load` reads and validates a matrix file into these, :mod:`.expand`
turns a profile into :class:`Combination` objects.  A model and the workload
are the manager-worker contract's own types (:mod:`tfmatrix.worker.contract`):
the same objects reach a combination's benchmarks.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from ..errors import MatrixError, TfmatrixError
from ..worker.contract import ModelSpec, Workload

#: Ids of combinations, models, stacks and profiles: they become file names and
#: nox session ids, so they are kept to a safe character set.
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
PYTHON_RE = re.compile(r"^3\.[0-9]{1,2}$")
STACK_KINDS = ("cpu", "cuda-pip", "cuda-system")
GPU_STACK_KINDS = ("cuda-pip", "cuda-system")
PHASES = ("install", "import", "export", "load", "inference")  # the keys of ``timeouts:``
#: The TensorFlow distributions an entry may name (``package:``), with their CUDA extra (None: it has none)
TF_PACKAGES: dict[str, str | None] = {"tensorflow": "and-cuda", "tensorflow-cpu": None, "tf-nightly": "and-cuda"}
NIGHTLY_RE = re.compile(r"\.dev(20[0-9]{2})([01][0-9])([0-3][0-9])$")

__all__ = ["Combination", "Hardware", "Matrix", "ModelSpec", "Profile", "Rule", "Stack", "TFVersion", "Timeouts",
           "Workload"]


@dataclass(frozen=True)
class Hardware:
    """What a combination needs from the machine it runs on (issue 7: placement).

    ``gpu_type`` matches a GPU's NVML name as a whole word, case-insensitively ("H100" matches
    "NVIDIA H100 80GB HBM3"); ``min_gpu_memory_gib`` is compared with NVML's total memory (an
    "80 GB" card reports 79.6 GiB); ``min_driver`` is the NVIDIA driver floor ("535" or "535.104").
    """

    gpu_type: str | None = None
    min_gpu_memory_gib: float | None = None
    min_driver: str | None = None

    def over(self, base: "Hardware | None") -> "Hardware":
        """These needs, with ``base``'s filling the fields not set here."""
        if base is None:
            return self
        return Hardware(gpu_type=self.gpu_type or base.gpu_type,
                        min_gpu_memory_gib=self.min_gpu_memory_gib or base.min_gpu_memory_gib,
                        min_driver=self.min_driver or base.min_driver)

    def to_json(self) -> dict[str, Any]:
        return {"gpu_type": self.gpu_type, "min_gpu_memory_gib": self.min_gpu_memory_gib,
                "min_driver": self.min_driver}

    def describe(self) -> str:
        parts = [f"a {self.gpu_type} GPU" if self.gpu_type else "a GPU"]
        if self.min_gpu_memory_gib:
            parts.append(f"with at least {self.min_gpu_memory_gib:g} GiB")
        if self.min_driver:
            parts.append(f"on driver >= {self.min_driver}")
        return " ".join(parts)


@dataclass(frozen=True)
class TFVersion:
    """One ``tensorflow:`` entry: a TensorFlow release (or pre-release, or nightly) and what goes with it.

    Without ``models_official`` the entry is load-only: it installs TensorFlow alone and runs only
    SavedModels it is given and Model Garden models another entry exports (its ``export_with``).
    """

    id: str
    version: str
    models_official: str | None = None
    requires: tuple[str, ...] = ()
    force: tuple[str, ...] = ()   # installed over the resolver's choice (uv --override)
    expect: str | None = None     # the failure class this entry is known to end in
    stacks: tuple[str, ...] = ()  # empty: every stack
    hardware: Hardware | None = None  # what its GPU combinations need
    package: str = "tensorflow"  # tensorflow, tensorflow-cpu or tf-nightly
    export_with: str | None = None  # the entry that exports this entry's Model Garden models

    @property
    def short(self) -> str:
        v = Version(self.version)
        return f"{v.major}.{v.minor}"

    @property
    def load_only(self) -> bool:
        return self.models_official is None

    @property
    def build_date(self) -> datetime.date | None:
        """A nightly's date, from its ``.devYYYYMMDD`` version (None for a release or a release candidate)."""
        m = NIGHTLY_RE.search(self.version)
        return datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None

    @property
    def resolve_cutoff(self) -> str | None:
        """A nightly resolves its companions (keras-nightly, tb-nightly) as they were on its build date.

        ``tf-nightly`` requires ``keras-nightly >= ...`` only, so an unpinned install takes whatever nightly is
        newest that day; resolving as of the day after the build (uv's ``--exclude-newer``) pins them to it.
        """
        day = self.build_date
        if self.package != "tf-nightly" or day is None:
            return None
        return f"{day + datetime.timedelta(days=1)}T00:00:00Z"


@dataclass(frozen=True)
class Stack:
    id: str
    kind: str
    requires: tuple[str, ...] = ()
    library_path: tuple[str, ...] = ()
    hardware: Hardware | None = None

    @property
    def needs_gpu(self) -> bool:
        return self.kind in GPU_STACK_KINDS


@dataclass(frozen=True)
class Timeouts:
    install: float = 1800.0
    import_: float = 300.0
    export: float = 1200.0
    load: float = 600.0
    inference: float = 1200.0

    def for_phase(self, phase: str) -> float:
        return float(getattr(self, "import_" if phase == "import" else phase))


@dataclass(frozen=True)
class Rule:
    """One include/exclude rule; unset fields match anything."""

    tensorflow: SpecifierSet | None = None
    stacks: tuple[str, ...] = ()
    python: SpecifierSet | None = None
    reason: str = ""

    def matches(self, tf: TFVersion, stack: Stack, python: str) -> bool:
        if self.tensorflow is not None and not self.tensorflow.contains(tf.version, prereleases=True):
            return False
        if self.stacks and stack.id not in self.stacks:
            return False
        if self.python is not None and not self.python.contains(python, prereleases=True):
            return False
        return True


@dataclass(frozen=True)
class Profile:
    id: str
    description: str = ""
    tensorflow: tuple[str, ...] = ()
    stacks: tuple[str, ...] = ()
    pythons: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    hardware: Hardware | None = None


@dataclass(frozen=True)
class Matrix:
    path: str
    sha256: str
    schema_version: int
    pythons: tuple[str, ...]
    tensorflow: tuple[TFVersion, ...]
    stacks: tuple[Stack, ...]
    models: tuple[ModelSpec, ...]
    workload: Workload
    timeouts: Timeouts
    include: tuple[Rule, ...]
    exclude: tuple[Rule, ...]
    profiles: tuple[Profile, ...]
    index_url: str | None = None  # the package index, from its own key only (never from a pin)

    def profile(self, name: str) -> Profile:
        for p in self.profiles:
            if p.id == name:
                return p
        if name == "all":
            return Profile(id="all", description="every combination the rules allow")
        known = ", ".join([p.id for p in self.profiles] + ["all"])
        raise MatrixError(self.path, "profiles", name, f"one of the profiles defined: {known}")

    def entry(self, tf_id: str) -> TFVersion:
        """The ``tensorflow:`` entry with this id."""
        for t in self.tensorflow:
            if t.id == tf_id:
                return t
        raise KeyError(tf_id)

    def model(self, model_id: str) -> ModelSpec:
        for m in self.models:
            if m.id == model_id:
                return m
        raise KeyError(model_id)


@dataclass(frozen=True)
class Combination:
    """One (TensorFlow, stack, Python) point of the matrix, with its models.

    ``exporters`` maps each Model Garden model to the combination that exports it: this one, or, where
    ``export_with`` says so, the producing entry on the CPU stack (its export is the one loaded here).
    """

    id: str
    tf: TFVersion
    stack: Stack
    python: str
    models: tuple[ModelSpec, ...]
    tags: tuple[str, ...]
    hardware: Hardware | None = None  # GPU combinations only: profile < stack < tensorflow entry
    exporters: Mapping[str, "Combination"] = field(default_factory=dict, compare=False, hash=False)

    @property
    def needs_gpu(self) -> bool:
        return self.stack.needs_gpu

    @property
    def expect(self) -> str | None:
        return self.tf.expect

    @property
    def cuda_extra(self) -> str | None:
        """The package's CUDA extra on a cuda-pip stack (None elsewhere, or where the package has none)."""
        return TF_PACKAGES.get(self.tf.package) if self.stack.kind == "cuda-pip" else None

    @property
    def install_note(self) -> str:
        """What the install cannot do as the stack asks (said in the log and kept in the record)."""
        if self.stack.kind == "cuda-pip" and self.cuda_extra is None:
            return (f"{self.tf.package} has no [and-cuda] extra: the cuda-pip stack installs it without the "
                    "NVIDIA wheels")
        return ""

    def requirements(self, gpu_extra: bool = True) -> list[str]:
        """The PEP 508 requirements installed into this combination's venv (``gpu_extra=False``: without the
        package's CUDA extra, what ``nox -s predict`` resolves where TensorFlow says its GPU does not work)."""
        extra = f"[{self.cuda_extra}]" if self.cuda_extra and gpu_extra else ""
        reqs = [f"{self.tf.package}{extra}=={self.tf.version}"]
        if self.tf.models_official:
            reqs.append(f"tf-models-official=={self.tf.models_official}")
        reqs += list(self.tf.requires)
        reqs += list(self.stack.requires)
        reqs.append("nvidia-ml-py")  # NVML reader for the probe; pins nothing, says why NVML is absent
        return reqs

    @property
    def force(self) -> tuple[str, ...]:
        """Pins forced over what the resolver would choose (``force:``; known-bad reproductions)."""
        return self.tf.force

    def exporter(self, model: ModelSpec) -> "Combination | None":
        """The combination whose export of ``model`` this one loads (None: a SavedModel brought as it is)."""
        if not model.built:
            return None
        return self.exporters.get(model.id, self)

    def only(self, model_ids: Sequence[str]) -> "Combination":
        """This combination with only these of its models (``--models``); unknown ids are a user error."""
        if not model_ids:
            return self
        known = {m.id for m in self.models}
        unknown = [m for m in model_ids if m not in known]
        if unknown:
            raise TfmatrixError(f"--models: got {', '.join(unknown)}; expected models of {self.id}: "
                                f"{', '.join(sorted(known))}")
        return dataclasses.replace(self, models=tuple(m for m in self.models if m.id in model_ids))
