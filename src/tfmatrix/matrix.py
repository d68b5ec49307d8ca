"""matrix.yaml: load, validate into frozen dataclasses, expand into combinations.

Every problem is one :class:`~tfmatrix.errors.MatrixError` naming the file, the
key path, the bad value and what was expected.  The one predicate that decides
whether a (TensorFlow, stack, Python) triple runs is :func:`is_selected`, in
the spirit of alembic's ``tools/toxnox.py``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from . import MATRIX_SCHEMA_VERSION
from .errors import MISSING, MatrixError

#: Ids of combinations, models, stacks and profiles: they become file names and
#: nox session ids, so they are kept to a safe character set.
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
PYTHON_RE = re.compile(r"^3\.[0-9]{1,2}$")
STACK_KINDS = ("cpu", "cuda-pip", "cuda-system")
GPU_STACK_KINDS = ("cuda-pip", "cuda-system")
PHASES = ("install", "import", "export", "load", "inference")


# --------------------------------------------------------------------------- records


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
    id: str
    version: str
    models_official: str
    requires: tuple[str, ...] = ()
    force: tuple[str, ...] = ()   # installed over the resolver's choice (uv --override)
    expect: str | None = None     # the failure class this entry is known to end in
    stacks: tuple[str, ...] = ()  # empty: every stack
    hardware: Hardware | None = None  # what its GPU combinations need

    @property
    def short(self) -> str:
        v = Version(self.version)
        return f"{v.major}.{v.minor}"


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
class ModelSpec:
    id: str
    experiment: str
    input_size: tuple[int, int]
    overrides: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    stacks: tuple[str, ...] = ()  # empty: every stack

    def config_digest(self) -> str:
        """A short hash of everything that changes the exported SavedModel."""
        blob = json.dumps(
            {"experiment": self.experiment, "input_size": list(self.input_size),
             "overrides": self.overrides},
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "experiment": self.experiment,
                "input_size": list(self.input_size), "overrides": dict(self.overrides)}


@dataclass(frozen=True)
class Workload:
    seed: int = 0
    images: int = 8
    batch_sizes: tuple[int, ...] = (1, 4)
    warmup: int = 2
    latency_min_queries: int = 30
    latency_min_seconds: float = 5.0
    throughput_min_queries: int = 5
    throughput_min_seconds: float = 3.0
    load_repeats: int = 3
    import_repeats: int = 3

    def quick(self) -> "Workload":
        """The ``--quick`` variant: same shape, fewer samples."""
        return Workload(
            seed=self.seed, images=min(self.images, 4), batch_sizes=self.batch_sizes[:1],
            warmup=1, latency_min_queries=min(self.latency_min_queries, 10),
            latency_min_seconds=min(self.latency_min_seconds, 1.0),
            throughput_min_queries=min(self.throughput_min_queries, 3),
            throughput_min_seconds=min(self.throughput_min_seconds, 1.0),
            load_repeats=min(self.load_repeats, 3), import_repeats=min(self.import_repeats, 3),
        )


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

    def model(self, model_id: str) -> ModelSpec:
        for m in self.models:
            if m.id == model_id:
                return m
        raise KeyError(model_id)


@dataclass(frozen=True)
class Combination:
    """One (TensorFlow, stack, Python) point of the matrix, with its models."""

    id: str
    tf: TFVersion
    stack: Stack
    python: str
    models: tuple[ModelSpec, ...]
    tags: tuple[str, ...]
    hardware: Hardware | None = None  # GPU combinations only: profile < stack < tensorflow entry

    @property
    def needs_gpu(self) -> bool:
        return self.stack.needs_gpu

    @property
    def expect(self) -> str | None:
        return self.tf.expect

    def requirements(self) -> list[str]:
        """The PEP 508 requirements installed into this combination's venv."""
        tf_name = "tensorflow[and-cuda]" if self.stack.kind == "cuda-pip" else "tensorflow"
        reqs = [f"{tf_name}=={self.tf.version}", f"tf-models-official=={self.tf.models_official}"]
        reqs += list(self.tf.requires)
        reqs += list(self.stack.requires)
        reqs.append("nvidia-ml-py")  # NVML reader for the probe; pins nothing, says why NVML is absent
        return reqs

    def overrides(self) -> list[str]:
        """Pins forced over what the resolver would choose (known-bad reproductions)."""
        return list(self.tf.force)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tensorflow": self.tf.version,
            "tensorflow_id": self.tf.id,
            "models_official": self.tf.models_official,
            "stack": self.stack.id,
            "stack_kind": self.stack.kind,
            "python": self.python,
            "models": [m.id for m in self.models],
            "tags": list(self.tags),
            "requirements": self.requirements(),
            "force": self.overrides(),
            "expect": self.expect,
            "library_path": list(self.stack.library_path),
            **({"hardware": self.hardware.to_json()} if self.hardware else {}),
        }


# --------------------------------------------------------------------------- selection


def is_selected(matrix: Matrix, tf: TFVersion, stack: Stack, python: str) -> tuple[bool, str]:
    """The one predicate: does this triple run?  Returns (yes, reason if not)."""
    for rule in matrix.exclude:
        if rule.matches(tf, stack, python):
            return False, rule.reason or "excluded by a rule"
    if matrix.include and not any(r.matches(tf, stack, python) for r in matrix.include):
        return False, "matches no include rule"
    return True, ""


def combination_id(tf: TFVersion, stack: Stack, python: str, several_pythons: bool) -> str:
    base = f"{tf.id}-{stack.id}"
    return f"{base}-py{python}" if several_pythons else base


def combinations(matrix: Matrix, profile: str = "default",
                 models: Iterable[str] | None = None) -> list[Combination]:
    """Expand the matrix for a profile, in a stable order (matrix order)."""
    prof = matrix.profile(profile)
    wanted_models = set(models) if models else None
    several_pythons = len(matrix.pythons) > 1
    out: list[Combination] = []
    for tf, stack, python in itertools.product(matrix.tensorflow, matrix.stacks, matrix.pythons):
        if prof.tensorflow and tf.id not in prof.tensorflow:
            continue
        if (prof.stacks and stack.id not in prof.stacks) or (tf.stacks and stack.id not in tf.stacks):
            continue
        if prof.pythons and python not in prof.pythons:
            continue
        ok, _ = is_selected(matrix, tf, stack, python)
        if not ok:
            continue
        chosen = tuple(
            m for m in matrix.models
            if (not prof.models or m.id in prof.models)
            and (not m.stacks or stack.id in m.stacks)
            and (wanted_models is None or m.id in wanted_models)
        )
        if not chosen:
            continue
        tags = [stack.id, tf.id, f"py{python}", "gpu" if stack.needs_gpu else "cpu"]
        if tf.expect:
            tags.append("known-bad")
        hardware = None
        if stack.needs_gpu:
            for level in (prof.hardware, stack.hardware, tf.hardware):
                hardware = level.over(hardware) if level else hardware
        if hardware and hardware.gpu_type:
            tags.append(f"gpu-{hardware.gpu_type.lower()}")  # a CI runner label, say
        out.append(Combination(
            id=combination_id(tf, stack, python, several_pythons), tf=tf, stack=stack,
            python=python, models=chosen, tags=tuple(dict.fromkeys(tags)), hardware=hardware,
        ))
    return out


def matrix_path_from_env(root: Path) -> Path:
    """``TFMATRIX_MATRIX`` if set (relative to the cwd), else ``ROOT/matrix.yaml``."""
    value = os.environ.get("TFMATRIX_MATRIX")
    return Path(value).resolve() if value else root / "matrix.yaml"


# --------------------------------------------------------------------------- loading


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a mapping with the same key twice."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, Any] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # a '<<' merge key: construct_mapping below merges it
        key = loader.construct_object(key_node, deep=deep)
        try:
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen[key] = True
        except TypeError:
            pass  # an unhashable key: construct_mapping below reports it as a YAML error
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_matrix(path: str | os.PathLike[str]) -> Matrix:
    """Read and validate a matrix file; raise :class:`MatrixError` on any problem."""
    p = Path(path)
    name = str(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise MatrixError(name, "", MISSING, "an existing matrix file") from None
    except OSError as exc:
        raise MatrixError(name, "", exc.strerror, "a readable matrix file") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MatrixError(name, "", "undecodable bytes", "a UTF-8 text file") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - SafeLoader subclass
    except (yaml.YAMLError, RecursionError) as exc:  # RecursionError: nesting too deep
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else "document"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise MatrixError(name, where, problem, "valid YAML") from None
    return parse_matrix(data, name, sha256=hashlib.sha256(raw).hexdigest())


def parse_matrix(data: Any, file: str = "<matrix>", sha256: str = "") -> Matrix:
    v = _Validator(file)
    top = v.mapping(data, "", {
        "schema_version": True, "pythons": True, "tensorflow": True, "stacks": True,
        "models": True, "workload": False, "timeouts": False, "include": False,
        "exclude": False, "profiles": False, "index_url": False,
    })
    sv = top["schema_version"]
    if type(sv) is not int or sv != MATRIX_SCHEMA_VERSION:
        raise MatrixError(file, "schema_version", sv, f"the integer {MATRIX_SCHEMA_VERSION}")

    pythons = tuple(v.str_list(top["pythons"], "pythons", check=v.python, nonempty=True))
    v.unique(pythons, "pythons", lambda x: x)

    stacks = tuple(v.seq(top["stacks"], "stacks", v.stack, nonempty=True))
    v.unique(stacks, "stacks", lambda s: s.id)
    tfs = tuple(v.seq(top["tensorflow"], "tensorflow",
                      lambda x, k: v.tensorflow(x, k, {s.id for s in stacks}), nonempty=True))
    v.unique(tfs, "tensorflow", lambda t: t.id)
    combo_ids: dict[str, str] = {}  # "tfN.M-STACK" must not come from two (tf, stack) pairs
    for (i, stack), tf, py in itertools.product(enumerate(stacks), tfs, pythons):
        cid = combination_id(tf, stack, py, len(pythons) > 1)
        if cid in combo_ids:
            raise MatrixError(file, f"stacks[{i}].id", stack.id,
                              f"ids that keep combination ids distinct ({tf.id!r} + {stack.id!r} "
                              f"and {combo_ids[cid]} both give {cid!r})")
        combo_ids[cid] = f"{tf.id!r} + {stack.id!r}"
    stack_ids = {s.id for s in stacks}
    models = tuple(v.seq(top["models"], "models", lambda x, k: v.model(x, k, stack_ids), nonempty=True))
    v.unique(models, "models", lambda m: m.id)

    workload = v.workload(top.get("workload", MISSING), "workload")
    timeouts = v.timeouts(top.get("timeouts", MISSING), "timeouts")
    include = tuple(v.seq(top.get("include", []), "include", lambda x, k: v.rule(x, k, stack_ids)))
    exclude = tuple(v.seq(top.get("exclude", []), "exclude", lambda x, k: v.rule(x, k, stack_ids)))
    known = {"tensorflow": {t.id for t in tfs}, "stacks": stack_ids,
             "pythons": set(pythons), "models": {m.id for m in models}}
    profiles = tuple(v.profiles(top.get("profiles", MISSING), "profiles", known))
    index_url = v.url(top["index_url"], "index_url") if "index_url" in top else None
    return Matrix(
        path=file, sha256=sha256, schema_version=sv, pythons=pythons, tensorflow=tfs,
        stacks=stacks, models=models, workload=workload, timeouts=timeouts,
        include=include, exclude=exclude, profiles=profiles, index_url=index_url,
    )


class _Validator:
    """Small typed readers; each raises MatrixError(file, key path, value, expected)."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, key: str, value: Any, expected: str) -> MatrixError:
        return MatrixError(self.file, key, value, expected)

    # -- shapes
    def mapping(self, value: Any, key: str, fields: Mapping[str, bool]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key or "(top level)", value, "a mapping")
        for k in value:
            if not isinstance(k, str) or k not in fields:
                allowed = ", ".join(fields)
                raise self.fail(_join(key, str(k)), value[k], f"no such key (allowed: {allowed})")
        for k, required in fields.items():
            if required and k not in value:
                raise self.fail(_join(key, k), MISSING, "this key to be set")
        return value

    def url(self, value: Any, key: str) -> str:
        """An http(s) index URL with a host, no whitespace and no credentials-looking oddities."""
        from urllib.parse import urlsplit

        expected = "an http:// or https:// URL of a package index, such as https://pypi.org/simple"
        if not isinstance(value, str) or not value or any(c.isspace() for c in value):
            raise self.fail(key, value, expected)
        try:
            parts = urlsplit(value)
        except ValueError:
            raise self.fail(key, value, expected) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self.fail(key, value, expected)
        return value

    def library_dir(self, value: Any, key: str) -> str:
        """An absolute folder of the host's CUDA libraries: no '..', no control characters, no PATH list."""
        import ntpath
        import posixpath

        value = self.string(value, key)
        absolute = posixpath.isabs(value) or (ntpath.isabs(value) and ntpath.splitdrive(value)[0] != "")
        parts = value.replace("\\", "/").split("/")
        if (not absolute or ".." in parts or any(ord(c) < 32 for c in value)
                or (os.pathsep in value and not ntpath.splitdrive(value)[0])):
            raise self.fail(key, value, "an absolute folder such as /usr/local/cuda-12.4/lib64, "
                                        "without '..' (one folder per list item)")
        return value

    def seq(self, value: Any, key: str, item: Callable[[Any, str], Any], nonempty: bool = False) -> list:
        if not isinstance(value, list):
            raise self.fail(key, value, "a list")
        if nonempty and not value:
            raise self.fail(key, value, "a non-empty list")
        return [item(x, f"{key}[{i}]") for i, x in enumerate(value)]

    def unique(self, items: Iterable[Any], key: str, ident: Callable[[Any], str]) -> None:
        seen: set[str] = set()
        for i, it in enumerate(items):
            name = ident(it)
            if name in seen:
                raise self.fail(f"{key}[{i}]", name, f"an id not already used in {key}")
            seen.add(name)

    # -- scalars
    def string(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, value, "a non-empty string")
        return value

    def ident(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not ID_RE.match(value):
            raise self.fail(key, value, "an id of letters, digits, '.', '_' or '-' (at most 63, no leading punctuation)")
        return value

    def integer(self, value: Any, key: str, minimum: int = 0) -> int:
        if type(value) is not int or value < minimum:
            raise self.fail(key, value, f"an integer >= {minimum}")
        return value

    def number(self, value: Any, key: str, minimum: float = 0.0) -> float:
        if type(value) not in (int, float) or not math.isfinite(value) or value < minimum:
            raise self.fail(key, value, f"a finite number >= {minimum}")
        return float(value)

    def python(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not PYTHON_RE.match(value):
            raise self.fail(key, value, 'a quoted Python version such as "3.11"')
        return value

    def version(self, value: Any, key: str) -> str:
        if not isinstance(value, str):
            raise self.fail(key, value, 'a quoted version string such as "2.20.0"')
        try:
            Version(value)
        except InvalidVersion:
            raise self.fail(key, value, 'a PEP 440 version such as "2.20.0"') from None
        return value

    def specifier(self, value: Any, key: str) -> SpecifierSet:
        if not isinstance(value, str):
            raise self.fail(key, value, 'a quoted version specifier such as ">=2.16"')
        try:
            spec = SpecifierSet(value)
        except InvalidSpecifier:
            raise self.fail(key, value, 'a PEP 440 specifier such as ">=2.16,<2.19" or "==2.15.*"') from None
        if not str(spec):
            raise self.fail(key, value, 'a non-empty specifier such as ">=2.16"')
        return spec

    def requirement(self, value: Any, key: str) -> str:
        if not isinstance(value, str):
            raise self.fail(key, value, 'a PEP 508 requirement such as "numpy<2"')
        text = value.strip()
        if text.startswith("-"):
            raise self.fail(key, value, "a PEP 508 requirement, not an installer option (index URLs have their own key)")
        try:
            Requirement(text)
        except InvalidRequirement:
            raise self.fail(key, value, 'a PEP 508 requirement such as "numpy<2"') from None
        return text

    def str_list(self, value: Any, key: str, check: Callable[[Any, str], str] | None = None,
                 nonempty: bool = False) -> list[str]:
        check = check or self.string
        return self.seq(value, key, check, nonempty=nonempty)

    def ref_list(self, value: Any, key: str, known: set[str], what: str) -> tuple[str, ...]:
        items = self.str_list(value, key)
        for i, it in enumerate(items):
            if it not in known:
                raise self.fail(f"{key}[{i}]", it, f"one of the {what} defined: {', '.join(sorted(known))}")
        return tuple(items)

    # -- records
    def tensorflow(self, value: Any, key: str, stack_ids: set[str]) -> TFVersion:
        m = self.mapping(value, key, {"id": False, "version": True, "models_official": True, "requires": False,
                                      "force": False, "expect": False, "stacks": False, "hardware": False})
        version = self.version(m["version"], f"{key}.version")
        parsed = Version(version)
        tid = self.ident(m.get("id", f"tf{parsed.major}.{parsed.minor}"), f"{key}.id")
        mo = self.version(m["models_official"], f"{key}.models_official")
        reqs = tuple(self.str_list(m.get("requires", []), f"{key}.requires", check=self.requirement))
        self._no_core_override(reqs, f"{key}.requires")
        force = tuple(self.str_list(m.get("force", []), f"{key}.force", check=self.requirement))
        self._no_core_override(force, f"{key}.force")
        expect = None
        if "expect" in m:
            from .classify import failure_classes

            known = failure_classes()
            if m["expect"] not in known:
                raise self.fail(f"{key}.expect", m["expect"], f"a failure class: {', '.join(known)}")
            expect = m["expect"]
        stacks = self.ref_list(m.get("stacks", []), f"{key}.stacks", stack_ids, "stacks")
        return TFVersion(id=tid, version=version, models_official=mo, requires=reqs, force=force,
                         expect=expect, stacks=stacks, hardware=self.hardware(m, key))

    def hardware(self, parent: Mapping[str, Any], key: str) -> Hardware | None:
        if "hardware" not in parent:
            return None
        key = f"{key}.hardware"
        m = self.mapping(parent["hardware"], key, {"gpu_type": False, "min_gpu_memory_gib": False,
                                                   "min_driver": False})
        if not m:
            raise self.fail(key, m, "at least one of gpu_type, min_gpu_memory_gib, min_driver")
        gpu_type = None
        if "gpu_type" in m:
            gpu_type = m["gpu_type"]
            if not isinstance(gpu_type, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}", gpu_type):
                raise self.fail(f"{key}.gpu_type", gpu_type, "a GPU model such as H100, A100 or RTX-2080 "
                                "(letters, digits, '.', '_', '-')")
        memory = self.number(m["min_gpu_memory_gib"], f"{key}.min_gpu_memory_gib", 0.001) \
            if "min_gpu_memory_gib" in m else None
        driver = None
        if "min_driver" in m:
            driver = str(m["min_driver"]) if isinstance(m["min_driver"], (str, int, float)) else m["min_driver"]
            if not isinstance(driver, str) or not re.fullmatch(r"[0-9]{2,4}(\.[0-9]{1,3}){0,2}", driver):
                raise self.fail(f"{key}.min_driver", m["min_driver"], "an NVIDIA driver version such as \"535\" "
                                "or \"535.104.05\"")
        return Hardware(gpu_type=gpu_type, min_gpu_memory_gib=memory, min_driver=driver)

    def _no_core_override(self, reqs: Iterable[str], key: str) -> None:
        for i, r in enumerate(reqs):
            name = canonicalize_name(Requirement(r).name)
            if name in ("tensorflow", "tf-models-official", "tensorflow-cpu", "tensorflow-gpu"):
                raise self.fail(f"{key}[{i}]", r, "an extra pin; TensorFlow and tf-models-official come from 'version' and 'models_official'")

    def stack(self, value: Any, key: str) -> Stack:
        m = self.mapping(value, key, {"id": True, "kind": True, "requires": False, "library_path": False,
                                      "hardware": False})
        sid = self.ident(m["id"], f"{key}.id")
        kind = m["kind"]
        if kind not in STACK_KINDS:
            raise self.fail(f"{key}.kind", kind, f"one of {', '.join(STACK_KINDS)}")
        reqs = tuple(self.str_list(m.get("requires", []), f"{key}.requires", check=self.requirement))
        self._no_core_override(reqs, f"{key}.requires")
        libs = tuple(self.str_list(m.get("library_path", []), f"{key}.library_path", check=self.library_dir))
        if libs and kind != "cuda-system":
            raise self.fail(f"{key}.library_path", list(libs), "no library_path except on a cuda-system stack")
        hardware = self.hardware(m, key)
        if hardware and kind not in GPU_STACK_KINDS:
            raise self.fail(f"{key}.hardware", m["hardware"], "no hardware needs on a cpu stack (they name a GPU)")
        return Stack(id=sid, kind=kind, requires=reqs, library_path=libs, hardware=hardware)

    def model(self, value: Any, key: str, stack_ids: set[str]) -> ModelSpec:
        m = self.mapping(value, key, {"id": True, "experiment": True, "input_size": True,
                                      "overrides": False, "stacks": False})
        mid = self.ident(m["id"], f"{key}.id")
        exp = self.ident(m["experiment"], f"{key}.experiment")
        size = m["input_size"]
        if (not isinstance(size, list) or len(size) != 2
                or any(type(s) is not int or s < 32 or s > 4096 or s % 32 for s in size)):
            raise self.fail(f"{key}.input_size", size, "[height, width], integers from 32 to 4096, multiples of 32")
        overrides = m.get("overrides", {})
        if not isinstance(overrides, dict):
            raise self.fail(f"{key}.overrides", overrides, "a mapping of Model Garden config overrides")
        try:
            json.dumps(overrides, sort_keys=True)  # as config_digest() does
        except (TypeError, ValueError):
            raise self.fail(f"{key}.overrides", overrides, "plain YAML values (strings, numbers, lists, mappings with string keys)") from None
        stacks = self.ref_list(m.get("stacks", []), f"{key}.stacks", stack_ids, "stacks")
        return ModelSpec(id=mid, experiment=exp, input_size=(size[0], size[1]),
                         overrides=overrides, stacks=stacks)

    def workload(self, value: Any, key: str) -> Workload:
        if value is MISSING:
            return Workload()
        d = Workload()
        m = self.mapping(value, key, {"seed": False, "images": False, "batch_sizes": False, "warmup": False,
                                      "latency": False, "throughput": False, "load_repeats": False,
                                      "import_repeats": False})
        lat = self.mapping(m.get("latency", {}), f"{key}.latency", {"min_queries": False, "min_seconds": False})
        thr = self.mapping(m.get("throughput", {}), f"{key}.throughput", {"min_queries": False, "min_seconds": False})
        batches = self.seq(m.get("batch_sizes", list(d.batch_sizes)), f"{key}.batch_sizes",
                           lambda x, k: self.integer(x, k, 1), nonempty=True)
        if len(set(batches)) != len(batches):
            raise self.fail(f"{key}.batch_sizes", batches, "distinct batch sizes")
        return Workload(
            seed=self.integer(m.get("seed", d.seed), f"{key}.seed"),
            images=self.integer(m.get("images", d.images), f"{key}.images", 1),
            batch_sizes=tuple(batches),
            warmup=self.integer(m.get("warmup", d.warmup), f"{key}.warmup"),
            latency_min_queries=self.integer(lat.get("min_queries", d.latency_min_queries), f"{key}.latency.min_queries", 1),
            latency_min_seconds=self.number(lat.get("min_seconds", d.latency_min_seconds), f"{key}.latency.min_seconds"),
            throughput_min_queries=self.integer(thr.get("min_queries", d.throughput_min_queries), f"{key}.throughput.min_queries", 1),
            throughput_min_seconds=self.number(thr.get("min_seconds", d.throughput_min_seconds), f"{key}.throughput.min_seconds"),
            load_repeats=self.integer(m.get("load_repeats", d.load_repeats), f"{key}.load_repeats", 1),
            import_repeats=self.integer(m.get("import_repeats", d.import_repeats), f"{key}.import_repeats", 1),
        )

    def timeouts(self, value: Any, key: str) -> Timeouts:
        if value is MISSING:
            return Timeouts()
        m = self.mapping(value, key, {p: False for p in PHASES})
        d = Timeouts()
        vals = {p: self.number(m.get(p, d.for_phase(p)), f"{key}.{p}", 1.0) for p in PHASES}
        return Timeouts(install=vals["install"], import_=vals["import"], export=vals["export"],
                        load=vals["load"], inference=vals["inference"])

    def rule(self, value: Any, key: str, stack_ids: set[str]) -> Rule:
        m = self.mapping(value, key, {"tensorflow": False, "stack": False, "python": False, "reason": False})
        if not any(k in m for k in ("tensorflow", "stack", "python")):
            raise self.fail(key, value, "at least one of tensorflow, stack, python")
        stacks: tuple[str, ...] = ()
        if "stack" in m:
            raw = m["stack"] if isinstance(m["stack"], list) else [m["stack"]]
            if not raw:  # an empty list would match every stack
                raise self.fail(f"{key}.stack", raw, "a stack id or a non-empty list of stack ids")
            stacks = self.ref_list(raw, f"{key}.stack", stack_ids, "stacks")
        return Rule(
            tensorflow=self.specifier(m["tensorflow"], f"{key}.tensorflow") if "tensorflow" in m else None,
            stacks=stacks,
            python=self.specifier(m["python"], f"{key}.python") if "python" in m else None,
            reason=self.string(m["reason"], f"{key}.reason") if "reason" in m else "",
        )

    def profiles(self, value: Any, key: str, known: Mapping[str, set[str]]) -> list[Profile]:
        if value is MISSING:
            return [Profile(id="default", description="everything in the matrix")]
        if not isinstance(value, dict):
            raise self.fail(key, value, "a mapping of profile name to profile")
        out = []
        for name, body in value.items():
            pkey = _join(key, str(name))
            pid = self.ident(name, pkey)
            if pid == "all":
                raise self.fail(pkey, name, "a profile name other than 'all' (reserved)")
            m = self.mapping(body if body is not None else {}, pkey,
                             {"description": False, "tensorflow": False, "stacks": False,
                              "pythons": False, "models": False, "hardware": False})
            out.append(Profile(
                id=pid,
                description=self.string(m["description"], f"{pkey}.description") if "description" in m else "",
                tensorflow=self.ref_list(m.get("tensorflow", []), f"{pkey}.tensorflow", known["tensorflow"], "tensorflow ids"),
                stacks=self.ref_list(m.get("stacks", []), f"{pkey}.stacks", known["stacks"], "stacks"),
                pythons=self.ref_list(m.get("pythons", []), f"{pkey}.pythons", known["pythons"], "pythons"),
                models=self.ref_list(m.get("models", []), f"{pkey}.models", known["models"], "models"),
                hardware=self.hardware(m, pkey),
            ))
        if not any(p.id == "default" for p in out):
            raise self.fail(key, sorted(value), "a 'default' profile (what `nox -s bench` runs)")
        return out


def _join(prefix: str, key: str) -> str:
    key = key if key.isprintable() else repr(key)  # a key path stays on one line
    return f"{prefix}.{key}" if prefix else key
